"""Word-level helpers shared by the ranker and the extractive answerer (no NLTK data needed)."""

import re
from functools import lru_cache

# Function words and question words carry no evidence that a passage answers the question.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once
    only or other our out over own same she should so some such than that the their them then there these they
    this those through to too under until up very was we were what when where which while who whom why will with
    would you your yours many much whose""".split()
)
_TOKEN = re.compile(r"[\w][\w.,'’&-]*[\w]|[\w]")
# A sentence ends at . ! ? before a capital or digit, but not after a title or common abbreviation.
_ABBREVIATIONS = ("Dr", "Mr", "Ms", "Mrs", "St", "Prof", "No", "e.g", "i.e", "approx", "vs", "Inc", "Ltd", "Co")
_SENTENCE_BOUNDARY = re.compile(
    r"(?<=[.!?])" + "".join(rf"(?<!\b{re.escape(a)}\.)" for a in _ABBREVIATIONS)
    + r"[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])|\n+"
)


def content_terms(text: str) -> list[str]:
    """Lower-cased content words of `text`, with a crude plural/verb-ending stem."""
    return [term for term in map(_term, _TOKEN.findall(text.lower())) if term]


@lru_cache(maxsize=131072)
def _term(token: str) -> str:
    """The stemmed content word of one token, "" for a function word (cached: a corpus has few distinct tokens,
    and stemming each of a question's candidate sentences anew was the ranker's largest cost)."""
    token = token.strip(".,'’")
    if token in STOPWORDS or len(token) < 2:
        return ""
    return _stem(token)


def _stem(token: str) -> str:
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix) and not token[-len(suffix) - 1].isdigit():
            return token[: -len(suffix)]
    return token


def sentences(text: str, min_words: int = 4) -> list[str]:
    """Split text into sentences and headings; fragments under `min_words` words are dropped."""
    return [s.strip() for s in _SENTENCE_BOUNDARY.split(text) if s and len(s.split()) >= min_words]


@lru_cache(maxsize=262144)
def term_set(text: str) -> frozenset[str]:
    """`content_terms` of `text` as a set, cached: the same sentences come back question after question, and the
    passage focus and the evidence ranker read the same ones (stemmed once for both)."""
    return frozenset(content_terms(text))
