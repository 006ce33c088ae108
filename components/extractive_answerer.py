import re

from haystack import Document, component

from components.text_terms import content_terms, sentences

NOT_FOUND = "The press releases do not contain information that answers this question."

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# What kind of answer a question asks for, and how a sentence that gives one looks.
_ANSWER_TYPES: list[tuple[re.Pattern, re.Pattern]] = [
    (  # dates and durations
        re.compile(r"^\s*(when|since when|until when|how long)\b|\b(what|which) (date|day|year|month)\b", re.I),
        re.compile(rf"\b{_MONTH}\b|\b(19|20)\d\d\b|\b\d+\s*(years?|months?|weeks?|days?|hours?|minutes?)\b|\bQ[1-4]\b|\bquarter\b|\b(half|quarter) an hour\b", re.I),
    ),
    (  # amounts, prices, counts
        re.compile(r"\bhow (much|many|high|large|big|fast|far)\b|\b(cost|price|value|percent|share|number of)\b", re.I),
        re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|hundred|thousand|million|billion|half|dozen)\b", re.I),
    ),
]
_NAME = re.compile(r"\b[A-Z][\w&.-]*[A-Za-z0-9]")
_ASKS_FOR_NAME = re.compile(r"^\s*(who|whom|whose|where)\b|\b(which|what) (company|companies|partner|partners|start-?up|start-?ups|vendor|vendors|firm|brand|name|city|cities|country|countries|team|teams|game|platform|protocol|maker|makers|software company)\b", re.I)


def _weight(term: str, query: str) -> float:
    """Names and figures decide whether a passage is about the asked thing: they weigh double."""
    if any(ch.isdigit() for ch in term) or re.search(rf"\b[A-Z][\w-]*{re.escape(term[1:])}", query):
        return 2.0
    return 1.0


def _gives_answer_type(query: str, sentence: str) -> bool:
    """Whether `sentence` holds the kind of thing `query` asks for (a date, an amount, a new name)."""
    for asks, gives in _ANSWER_TYPES:
        if asks.search(query):
            return bool(gives.search(sentence))
    if _ASKS_FOR_NAME.search(query):
        asked = {w.lower() for w in _NAME.findall(query)}
        return any(name.lower() not in asked for name in _NAME.findall(sentence)[1:] or _NAME.findall(sentence))
    return True


@component
class ExtractiveAnswerer:
    """
    Answers without an LLM: picks the sentences of the top-ranked chunks that best answer the question.

    A sentence scores by the weighted share of the question's content words it contains (names and
    figures weigh double), plus a bonus when it holds the kind of thing asked for (a date for "when",
    an amount for "how much", a new name for "who"/"which company"), plus a small bonus for a
    higher-ranked chunk. Sentences are chosen greedily, the words a chosen sentence covers counting less
    afterwards, so that the answer covers every part of the question. Up to `max_sentences` sentences
    above `min_sentence_score` form the answer,
    in reading order per source, each followed by its citation `[n]` (1-based position in `documents`).
    When the top chunks miss too much of the question (`min_coverage`), or no sentence holds the asked
    kind of answer, the answer says plainly that the press releases do not contain the information.

    Inputs: `query`, `documents` (ranked). Outputs: `answer` (text with citations), `documents`
    (unchanged, so citations stay valid), `found` (whether an answer was extracted).
    """

    def __init__(
        self,
        max_sentences: int = 3,
        max_chunks: int = 3,
        min_coverage: float = 0.6,
        min_sentence_score: float = 0.25,
        answer_type_bonus: float = 0.3,
        rank_bonus: float = 0.15,
        covered_weight: float = 0.3,
    ) -> None:
        """
        :param max_sentences: Most sentences in an answer.
        :param max_chunks: How many of the top chunks to take sentences from.
        :param min_coverage: Least weighted share of the question's words that the top chunks must contain.
        :param min_sentence_score: Least score for a sentence to be part of the answer.
        :param answer_type_bonus: Bonus of a sentence that holds the kind of answer asked for.
        :param rank_bonus: Bonus of the first chunk's sentences; it falls off as 1/rank for lower chunks.
        :param covered_weight: Factor on a question word's weight once a chosen sentence contains it.
        """
        self.max_sentences = max_sentences
        self.max_chunks = max_chunks
        self.min_coverage = min_coverage
        self.min_sentence_score = min_sentence_score
        self.answer_type_bonus = answer_type_bonus
        self.rank_bonus = rank_bonus
        self.covered_weight = covered_weight

    @component.output_types(answer=str, documents=list[Document], found=bool)
    def run(self, query: str, documents: list[Document]) -> dict:
        """
        Extract an answer to `query` from `documents`.

        :param query: The question.
        :param documents: Ranked chunks; citations number them from 1.
        :returns: `answer`, `documents` (as given) and `found`.
        """
        weights: dict[str, float] = {}
        for term in content_terms(query):
            weights[term] = max(weights.get(term, 0.0), _weight(term, query))
        total = sum(weights.values())
        top = documents[: self.max_chunks]
        not_found = {"answer": NOT_FOUND, "documents": documents, "found": False}
        if not total or not top:
            return not_found

        covered = set().union(*(set(content_terms(d.content or "")) for d in top)) & weights.keys()
        if sum(weights[t] for t in covered) / total < self.min_coverage:
            return not_found

        candidates = []  # (rank, position, sentence, its question terms, holds the asked kind of answer)
        for rank, doc in enumerate(top):
            for position, sentence in enumerate(sentences(doc.content or "")):
                if sentence.endswith(":"):  # a heading or a lead-in, not an answer
                    continue
                terms = set(content_terms(sentence)) & weights.keys()
                candidates.append((rank, position, sentence, terms, _gives_answer_type(query, sentence)))

        # Greedy coverage: once a sentence is chosen, the question words it covers count less, so the
        # next sentence answers the rest of the question ("…cost, and from when is it available?").
        remaining = dict(weights)
        best: list[tuple[int, int, str, bool]] = []
        while candidates and len(best) < self.max_sentences:
            def score(c):
                overlap = sum(remaining[t] for t in c[3]) / total
                return overlap + self.answer_type_bonus * c[4] + self.rank_bonus / (c[0] + 1)
            chosen = max(candidates, key=score)
            if score(chosen) < self.min_sentence_score:
                break
            candidates.remove(chosen)
            best.append((chosen[0], chosen[1], chosen[2], chosen[4]))
            for term in chosen[3]:
                remaining[term] *= self.covered_weight
        if not any(typed for *_, typed in best):
            return not_found

        best.sort(key=lambda s: (s[0], s[1]))
        answer = " ".join(f"{sentence} [{rank + 1}]" for rank, _, sentence, _ in best)
        return {"answer": answer, "documents": documents, "found": True}
