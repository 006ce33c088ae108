import math
from dataclasses import replace
from functools import lru_cache

import numpy as np
from haystack import Document, component

from kit.answer_types import asked_type, gives_type
from kit.text_terms import content_terms, sentences, term_set


@lru_cache(maxsize=16384)
def _sentence_terms(content: str) -> tuple[frozenset[str], ...]:
    """Content words per sentence of a chunk; cached, since the same chunks come back query after query."""
    return tuple(term_set(s) for s in sentences(content))


@lru_cache(maxsize=16384)
def _sentence_texts(content: str) -> tuple[str, ...]:
    return tuple(sentences(content))


@component
class PassageFocusRanker:
    """
    Orders fused retrieval results towards the chunk whose sentence answers the question.

    The relevance of a chunk is its fused (RRF) score, rescaled to [0, 1], blended (`focus_weight`) with
    its passage focus score: the share of the question's words, weighted by how rare they are among the
    candidates, that one single sentence of the chunk contains. Chunks of the same release score alike
    in retrieval; the one where the asked-about words meet in one sentence usually holds the answer.

    Every document is returned, best first, with `score` set to its relevance: cutting to `top_k` is
    left to the next component (`NearDuplicateFilter` in search.yml), which must see the chunks below
    the cut to fill the places of the duplicates it drops.

    Why not Haystack's own rankers: they need a cross-encoder or embedding model per candidate
    (`SentenceTransformersSimilarityRanker`), which cannot be loaded offline here, or rank by one
    meta field (`MetaFieldRanker`). This one works with the text retrieval already returned.

    ### Usage example

    ```python
    from haystack import Document
    from components.passage_focus_ranker import PassageFocusRanker

    ranker = PassageFocusRanker(focus_weight=0.5)
    documents = [
        Document(content="Telekom opened a shop. A campus network went live in Hamburg.", score=0.8),
        Document(content="Telekom builds a 5G campus network for EUROGATE in Hamburg.", score=0.7),
    ]
    result = ranker.run(documents=documents, query="Where does Telekom build a 5G campus network for EUROGATE?")
    print(result["documents"][0].content)  # the chunk where the question's words meet in one sentence
    ```
    """

    def __init__(
        self,
        focus_weight: float = 0.5,
        window: int = 1,
        answer_type_weight: float = 0.0,
        chunk_coverage_weight: float = 0.0,
    ) -> None:
        """
        Creates a PassageFocusRanker.

        :param focus_weight: Share of the passage focus score in the relevance (0: fused score only).
        :param window: Consecutive sentences that form one focus window (1: single sentences).
        :param answer_type_weight: Bonus of a window that holds the kind of answer asked for (a date for
            "when", an amount for "how much", a new name for "who").
        :param chunk_coverage_weight: Share of the whole chunk's coverage of the question's words in the focus.
        :raises ValueError: If `focus_weight` or `chunk_coverage_weight` is outside [0, 1], `window` < 1
            or `answer_type_weight` < 0.
        """
        if not 0 <= focus_weight <= 1:
            raise ValueError("focus_weight must be between 0 and 1")
        if window < 1 or answer_type_weight < 0 or not 0 <= chunk_coverage_weight <= 1:
            raise ValueError("window must be >= 1, answer_type_weight >= 0, chunk_coverage_weight in [0, 1]")
        self.focus_weight = focus_weight
        self.window = window
        self.answer_type_weight = answer_type_weight
        self.chunk_coverage_weight = chunk_coverage_weight

    def prepare(self, documents: list[Document]) -> None:
        """Split and stem the sentences of `documents` ahead of the questions (the caches `focus_scores` reads)."""
        for doc in documents:
            _sentence_terms(doc.content or "")
            _sentence_texts(doc.content or "")

    def focus_scores(self, query: str, documents: list[Document]) -> np.ndarray:
        """Per chunk, the best sentence window's share of the question's words (rarer words weigh more),
        plus a bonus when that window holds the asked kind of answer."""
        query_terms = set(content_terms(query))
        if not query_terms or not documents:
            return np.zeros(len(documents))
        chunk_sentences = [_sentence_terms(d.content or "") for d in documents]
        chunk_terms = [set().union(*s) if s else set() for s in chunk_sentences]
        idf = {t: math.log(1 + len(documents) / max(1, sum(t in terms for terms in chunk_terms))) for t in query_terms}
        total = sum(idf.values())
        kind = asked_type(query) if self.answer_type_weight else None
        scores = []
        for doc, sents, terms in zip(documents, chunk_sentences, chunk_terms, strict=True):
            texts = _sentence_texts(doc.content or "") if kind else ()
            best = 0.0
            for start in range(max(1, len(sents) - self.window + 1)):
                window_terms = set().union(*sents[start : start + self.window]) if sents else set()
                value = sum(idf[t] for t in query_terms & window_terms) / total
                if kind and any(gives_type(query, t, kind) for t in texts[start : start + self.window]):
                    value += self.answer_type_weight
                best = max(best, value)
            coverage = sum(idf[t] for t in query_terms & terms) / total
            scores.append((1 - self.chunk_coverage_weight) * best + self.chunk_coverage_weight * coverage)
        return np.array(scores)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document], query: str = "") -> dict[str, list[Document]]:
        """
        Order `documents` by their relevance to `query`, best first.

        :param documents: Fused retrieval results with scores (a missing score counts as 0).
        :param query: The question, for the passage focus score (empty: the fused score alone).
        :returns: A dictionary with the following key:
            - `documents`: all the documents, best first, each with `score` set to its relevance;
              equal relevance keeps the input order.
        """
        if not documents:
            return {"documents": []}
        fused = np.array([doc.score or 0.0 for doc in documents])
        relevance = fused / fused.max() if fused.max() > 0 else fused
        if self.focus_weight > 0 and query:
            relevance = (1 - self.focus_weight) * relevance + self.focus_weight * self.focus_scores(query, documents)
        # Python's sort is stable: ties keep the input (fused) order, as the greedy pick before the split did.
        order = sorted(range(len(documents)), key=lambda i: relevance[i], reverse=True)
        return {"documents": [replace(documents[i], score=float(relevance[i])) for i in order]}
