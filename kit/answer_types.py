"""What kind of answer a question asks for, and whether a sentence gives one (shared by ranker and answerer)."""

import re

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|half|dozen"

# (type, how a question asks for it, how a sentence gives it); first match wins.
_TYPES: list[tuple[str, re.Pattern, re.Pattern]] = [
    (
        "date",
        re.compile(r"^\s*(when|since when|until when|how long|by when)\b|\b(what|which|on which|in which) (date|day|year|month|quarter|time)\b|\bwhen (did|does|do|was|were|is|will|had|has)\b", re.I),
        re.compile(rf"\b{_MONTH}\b|\b(19|20)\d\d\b|\b\d+\s*(years?|months?|weeks?|days?|hours?|minutes?)\b|\bQ[1-4]\b|\bquarter\b|\b(half|quarter) an hour\b|\b({_NUMBER_WORDS})[- ](years?|months?|weeks?|days?|hours?|minutes?)\b", re.I),
    ),
    (
        "amount",
        re.compile(r"\bhow (much|many|high|large|big|fast|far|long)\b|\b(what|which) (is|was|were|are)? ?(the )?(cost|price|value|amount|number|share|percentage|revenue|figure)s?\b|\bcost\b|\bpay\b", re.I),
        re.compile(rf"\d|\b({_NUMBER_WORDS})\b|\bper cent\b|\bpercent\b", re.I),
    ),
    (
        "name",
        re.compile(r"^\s*(who|whom|whose|where)\b|\b(which|what) (company|companies|partner|partners|start-?ups?|vendors?|firms?|brands?|name|cities|city|countr(y|ies)|teams?|games?|platforms?|protocols?|makers?|software company|developer|operator|provider|manufacturer|organi[sz]ations?|port|ports|customers?)\b|\bwith whom\b|\bon whose\b", re.I),
        re.compile(r"\b[A-Z][\w&.-]*[A-Za-z0-9]"),
    ),
]
_LIST = re.compile(r"^\s*(which|what)\b.*\b(\w+s)\b", re.I)
_NAME = re.compile(r"\b[A-Z][\w&.-]*[A-Za-z0-9]")


def asked_type(query: str) -> str | None:
    """`date`, `amount` or `name` when the question asks for one, else None."""
    for kind, asks, _ in _TYPES:
        if asks.search(query):
            return kind
    return None


_PARTS = re.compile(r",?\s+and\s+(?=(?:when|how|who|whom|which|what|where|from when|since when|on which|in which)\b)|[;?]\s+", re.I)


def asked_types(query: str) -> list[str]:
    """The kinds of answer each part of a question asks for ("What does it cost, and from when …?": amount, date)."""
    kinds = []
    for part in _PARTS.split(query):
        kind = asked_type(part)
        if kind and kind not in kinds:
            kinds.append(kind)
    return kinds


def asks_for_list(query: str) -> bool:
    """A "which …s" question wants several items (partners, vendors, APIs)."""
    head = re.split(r"\b(and|,)\b", query, maxsplit=1)[0]
    return bool(re.match(r"^\s*(which|what)\s+(\w+\s+){0,3}?\w+(ies|s)\b", head, re.I)) and not re.match(r"^\s*(which|what)\s+(is|was|does|did|do)\b", head, re.I)


def gives_type(query: str, sentence: str, kind: str | None = None) -> bool:
    """Whether `sentence` holds the kind of thing `query` asks for (any sentence does when it asks for none)."""
    kind = asked_type(query) if kind is None else kind
    if kind is None:
        return True
    gives = next(pattern for name, _, pattern in _TYPES if name == kind)
    if kind == "name":
        asked = {w.lower() for w in _NAME.findall(query)}
        names = _NAME.findall(sentence)
        return any(name.lower() not in asked for name in names[1:] or names)
    if kind == "amount":
        # a year alone is not an amount
        return bool(re.search(rf"\d[\d.,]*\s*(%|percent|per cent|euros?|EUR|€|\$|dollars?|million|billion|km|GB|Mbit|MW|GW|kilo\w*|people|customers|employees)|\b\d{{1,3}}(,\d{{3}})+\b|\b(?!(19|20)\d\d\b)\d+([.,]\d+)?\b|\b({_NUMBER_WORDS})\b", sentence, re.I))
    return bool(gives.search(sentence))
