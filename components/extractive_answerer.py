import re

from haystack import Document, component

# Function words and question words carry no evidence that a sentence answers the question.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once
    only or other our out over own same she should so some such than that the their them then there these they
    this those through to too under until up very was we were what when where which while who whom why will with
    would you your yours many much whose""".split()
)
_TOKEN = re.compile(r"[\w][\w.,'’&-]*[\w]|[\w]")
_SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])|\n+")
_NOT_FOUND = "The press releases do not contain information that answers this question."


def _terms(text: str) -> list[str]:
    """Lower-cased content words of `text`, with a crude plural/verb-ending stem."""
    terms = []
    for token in _TOKEN.findall(text.lower()):
        token = token.strip(".,'’")
        if token in STOPWORDS or len(token) < 2:
            continue
        terms.append(_stem(token))
    return terms


def _stem(token: str) -> str:
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix) and not token[-len(suffix) - 1].isdigit():
            return token[: -len(suffix)]
    return token


def _weight(term: str, original_query: str) -> float:
    """Names and figures decide whether a passage is about the asked thing: weigh them higher."""
    if any(ch.isdigit() for ch in term):
        return 2.0
    if re.search(rf"\b{re.escape(term)}", original_query, flags=re.I) and re.search(
        rf"\b[A-Z][\w-]*{re.escape(term[1:])}", original_query
    ):
        return 2.0
    return 1.0


@component
class ExtractiveAnswerer:
    """
    Answers without an LLM: picks the sentences of the top-ranked chunks that best match the question.

    Each sentence is scored by the weighted share of the question's content words it contains (names and
    figures weigh double), plus a small bonus for coming from a higher-ranked chunk. The best
    `max_sentences` sentences above `min_sentence_score` form the answer, in reading order per source,
    each followed by its citation `[n]` (1-based position in `documents`). When the question's words are
    not found well enough in the sources (`min_coverage` of their weight across the top chunks), the
    answer says plainly that the press releases do not contain the information.

    Inputs: `query`, `documents` (ranked). Outputs: `answer` (text with citations), `documents`
    (unchanged, so citations stay valid), `found` (whether an answer was extracted).
    """

    def __init__(
        self,
        max_sentences: int = 3,
        max_chunks: int = 3,
        min_coverage: float = 0.6,
        min_sentence_score: float = 0.25,
        rank_bonus: float = 0.15,
    ) -> None:
        """
        :param max_sentences: Most sentences in an answer.
        :param max_chunks: How many of the top chunks to take sentences from.
        :param min_coverage: Least weighted share of the question's words that the top chunks must contain.
        :param min_sentence_score: Least score for a sentence to be part of the answer.
        :param rank_bonus: Bonus of the first chunk's sentences; it falls off as 1/rank for lower chunks.
        """
        self.max_sentences = max_sentences
        self.max_chunks = max_chunks
        self.min_coverage = min_coverage
        self.min_sentence_score = min_sentence_score
        self.rank_bonus = rank_bonus

    @staticmethod
    def sentences(text: str) -> list[str]:
        """Split a chunk into sentences and headings (no NLTK data needed)."""
        return [s.strip() for s in _SENTENCE_BOUNDARY.split(text) if s and len(s.split()) >= 4]

    @component.output_types(answer=str, documents=list[Document], found=bool)
    def run(self, query: str, documents: list[Document]) -> dict:
        """
        Extract an answer to `query` from `documents`.

        :param query: The question.
        :param documents: Ranked chunks; citations number them from 1.
        :returns: `answer`, `documents` (as given) and `found`.
        """
        weights: dict[str, float] = {}
        for term in _terms(query):
            weights[term] = max(weights.get(term, 0.0), _weight(term, query))
        total = sum(weights.values())
        top = documents[: self.max_chunks]
        if not total or not top:
            return {"answer": _NOT_FOUND, "documents": documents, "found": False}

        covered = set().union(*(set(_terms(d.content or "")) for d in top)) & weights.keys()
        coverage = sum(weights[t] for t in covered) / total

        scored: list[tuple[float, int, int, str]] = []
        for rank, doc in enumerate(top):
            for position, sentence in enumerate(self.sentences(doc.content or "")):
                present = set(_terms(sentence)) & weights.keys()
                score = sum(weights[t] for t in present) / total + self.rank_bonus / (rank + 1)
                scored.append((score, rank, position, sentence))
        best = sorted((s for s in scored if s[0] >= self.min_sentence_score), key=lambda s: -s[0])
        best = best[: self.max_sentences]
        if coverage < self.min_coverage or not best:
            return {"answer": _NOT_FOUND, "documents": documents, "found": False}

        best.sort(key=lambda s: (s[1], s[2]))
        answer = " ".join(f"{sentence} [{rank + 1}]" for _, rank, _, sentence in best)
        return {"answer": answer, "documents": documents, "found": True}
