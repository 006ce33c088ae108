"""What kind of answer each part of a question asks for, finely (a sum of money, a share, a speed, a count of
something), and whether a text gives one. Features of the learned evidence model (kit/evidence.py): they
say *what* a sentence holds; how much that counts is learned.

    >>> asked_kinds("What does the T Tablet cost, and from when is it available?")
    ['money', 'date']
    >>> gives("Without a plan it costs 219 euros.", "money")
    True
    >>> counted_noun("How many Telekom employees volunteered?")
    'employees'
"""

import re
from functools import lru_cache

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NUMBER_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
                r"fifty|hundred|thousand|million|billion|half|dozen|several)")
NUMBER = rf"(?:\d[\d.,]*\d|\d|\b{_NUMBER_WORD}\b)"

# What a text must hold to give each kind of answer ("count" and "name" are checked in `gives`).
_GIVES = {
    "money": re.compile(
        rf"(?:€|\$|£|\bEUR\b|\bUSD\b|\bUS\$)\s?{NUMBER}|{NUMBER}\s*(?:million|billion|thousand|bn|m|k)?\s*"
        r"(?:U\.?S\.? )?(?:euros?|EUR|dollars?|USD|€|\$|francs?|pounds?)(?!\w)|\b\d[\d.,]*\s*[MBK]\b(?!\w)", re.I),
    "percent": re.compile(rf"{NUMBER}\s*(?:%|percent|per cent|percentage points?)", re.I),
    "date": re.compile(
        rf"\b{_MONTH}\b|\b(?:19|20)\d\d\b|\bQ[1-4]\b|\b(?:first|second|third|fourth) quarter\b|"
        r"\b(?:spring|summer|autumn|fall|winter)\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b", re.I),
    "duration": re.compile(
        rf"{NUMBER}[- ]?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\b|"
        r"\bhalf an hour\b|\bquarter of an hour\b", re.I),
    "speed": re.compile(
        rf"{NUMBER}\s*(?:[GMKT]bit/s|[GMKT]bps|gigabits?|megabits?|terabits?|km/h|kilomet\w+ per hour|mph)\b", re.I),
    "size": re.compile(
        rf"{NUMBER}\s*(?:petabytes?|terabytes?|gigabytes?|megabytes?|[PTGM]B\b|MW|GW|kW|MWh|GWh|kWh|mAh|"
        r"square met\w+|sq\.? ?m|hectares?|kilomet\w+|km|met\w+|tons?|tonnes?|kg|kilograms?|inch\w*|qubits?|"
        r"racks?|centimet\w+|cm|millimet\w+|mm)\b", re.I),
}
_MONEY_WORDS = (r"(?:cost|costs|price|prices|priced|pay|paid|pays|charge|charges|fee|fees|invest|invested|investing|"
                r"investment|funding|fund|funds|worth|revenue|revenues|sales|turnover|value|valued|budget|earn|"
                r"earned|profit|dividends?|cash flow|ebitda|prize money|spend|spent|money|euros?|dollars?)")
# (kind, how a part of a question asks for it); the first match decides, so the order matters.
_ASKS = [
    ("name", re.compile(r"^\W*(?:who|whom|whose|where)\b|\bwith whom\b|\bon whose\b", re.I)),
    ("date", re.compile(
        r"^\W*(?:when|since when|until when|by when|from when)\b|\b(?:what|which|on which|in which|from which) "
        r"(?:date|dates|day|days|year|month|quarter|time)\b|\bwhen (?:did|does|do|was|were|is|will|had|has)\b", re.I)),
    ("duration", re.compile(
        r"\bhow many (?:years|months|weeks|days|hours|minutes|seconds)\b|\bhow long\b|\bhow much time\b|"
        r"\badvance notice\b", re.I)),
    ("percent", re.compile(r"\b(?:percent|percentage|per cent|stake|proportion|by how much)\b", re.I)),
    ("speed", re.compile(r"\b(?:speed|speeds|data rate|bandwidth|how fast|throughput)\b", re.I)),
    ("money", re.compile(rf"\b(?:how much|what|which)\b.*\b{_MONEY_WORDS}\b|\b{_MONEY_WORDS}\b.*\bhow much\b", re.I)),
    ("size", re.compile(
        r"\b(?:how large|how big|size|capacity|how much data|how far|length|area|how heavy|weight|how much co2|"
        r"storage|volume|accuracy|precision|resolution|range|coverage)\b", re.I)),
    ("count", re.compile(r"\bhow many\b|\bnumber of\b|\bhow much\b|\bscores?\b|\bratings?\b", re.I)),
    ("name", re.compile(
        r"^\W*(?:(?:at|in|on|for|from|to|with|by|under|through) )?(?:which|what)\b"
        r"(?! (?:is|was|are|were|does|did|do) (?:the )?(?:cost|price))|\bcalled\b|\bname\b", re.I)),
]
# "What does it cost, and from when …?", "…; how many …": the parts of a question, each with its own kind.
_PARTS = re.compile(
    r",?\s+and\s+(?=(?:when|how|who|whom|which|what|where|from when|since when|on which|in which|until when)\b)"
    r"|[;?]\s+", re.I)
_NAME = re.compile(r"\b[A-Z][\w&.'’-]*[A-Za-z0-9]|#\w+")
_YEAR = re.compile(r"(?:19|20)\d\d")


def asked_kinds(question: str) -> list[str]:
    """The kind of answer each part of `question` asks for, in order, each once."""
    kinds: list[str] = []
    for part in _PARTS.split(question):
        for kind, asks in _ASKS:
            if asks.search(part):
                if kind not in kinds:
                    kinds.append(kind)
                break
    return kinds


@lru_cache(maxsize=1024)
def counted_noun(question: str) -> str | None:
    """What a "how many …" question counts: the first lower-case plural among the four words after it."""
    match = re.search(r"\bhow many ((?:[\w-]+ ){0,3}[\w-]+)", question, re.I)
    if not match:
        return None
    for word in match.group(1).split():
        if word.islower() and len(word) > 3 and word.endswith("s") and word not in {"does", "has", "was", "is"}:
            return word
    return None


def gives(text: str, kind: str, question: str = "") -> bool:
    """Whether `text` holds an answer of `kind` to `question`: a name the question does not name, a figure
    (not a year) near what a "how many" question counts, an amount of money, a share, a date …"""
    if kind == "name":
        asked = _asked_names(question)
        names = _names(text)
        return any(name.lower() not in asked for name in names[1:] or names)  # the first word is capitalised anyway
    if kind == "count":
        # a figure that is not a year; when the text names what is counted, the figure must count it ("2,300
        # employees"), else any figure may (the text may call the employees "staff")
        ends = _figure_ends(text)
        noun = counted_noun(question)
        if not ends or not noun:
            return bool(ends)
        names_it, counts_it = _counting(noun)
        if not names_it.search(text):
            return True
        return any(counts_it.match(text, end, end + 60) for end in ends)
    return _gives_static(text, kind)


@lru_cache(maxsize=1024)
def _counting(noun: str) -> tuple[re.Pattern, re.Pattern]:
    """Patterns for the counted noun's stem: anywhere in a text, and within four words after a figure."""
    stem = re.escape(noun[: max(4, len(noun) - 2)])
    return re.compile(stem, re.I), re.compile(rf"\W*(?:[\w-]+\W+){{0,3}}{stem}", re.I)


def prepare(text: str) -> None:
    """Work out what `gives` needs of `text` for any question (its caches), ahead of the questions."""
    for kind in _GIVES:
        _gives_static(text, kind)
    _names(text)
    _figure_ends(text)


# Cached by text: the same sentences come back question after question (sized for kit.evidence.PREPARED_CHUNKS).
@lru_cache(maxsize=524288)
def _gives_static(text: str, kind: str) -> bool:
    return bool(_GIVES[kind].search(text))


@lru_cache(maxsize=131072)
def _names(text: str) -> tuple[str, ...]:
    return tuple(_NAME.findall(text))


@lru_cache(maxsize=1024)
def _asked_names(question: str) -> frozenset[str]:
    return frozenset(word.lower() for word in _NAME.findall(question))


@lru_cache(maxsize=131072)
def _figure_ends(text: str) -> tuple[int, ...]:
    """Where each figure of `text` that is not a year ends."""
    return tuple(m.end() for m in re.finditer(NUMBER, text, re.I) if not _YEAR.fullmatch(m.group(0)))
