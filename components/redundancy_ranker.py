import math
from dataclasses import replace
from functools import lru_cache

import numpy as np
from haystack import Document, component

from components.answer_types import asked_type, gives_type
from components.text_terms import content_terms, sentences


@lru_cache(maxsize=16384)
def _sentence_terms(content: str) -> tuple[frozenset[str], ...]:
    """Content words per sentence of a chunk; cached, since the same chunks come back query after query."""
    return tuple(frozenset(content_terms(s)) for s in sentences(content))


@lru_cache(maxsize=16384)
def _sentence_texts(content: str) -> tuple[str, ...]:
    return tuple(sentences(content))


@lru_cache(maxsize=16384)
def _shingles(content: str, size: int = 5) -> frozenset[tuple[str, ...]]:
    words = content.lower().split()
    return frozenset(tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1)))


def _containment(a: frozenset, b: frozenset) -> float:
    """Shared shingles over the smaller set's size: 1.0 when one chunk is contained in the other."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


@component
class RedundancyAwareRanker:
    """
    Re-ranks fused retrieval results towards the passage that answers, and drops near-duplicate chunks.

    No cross-encoder is available offline, so this ranker works with what retrieval already returned:
    - relevance: the fused (RRF) score, rescaled to [0, 1], blended (`focus_weight`) with a passage
      focus score: the share of the question's words, weighted by how rare they are among the
      candidates, that one single sentence of the chunk contains. Chunks of the same release score
      alike in retrieval; the one where the asked-about words meet in one sentence usually holds the answer.
    - redundancy: this corpus repeats itself (follow-up releases, round-ups, shared boilerplate); a chunk
      that shares at least `duplicate_threshold` of its word 5-grams with a chunk already chosen
      (containment: shared / the smaller chunk's) is dropped, and `diversity` > 0 also penalises partial
      overlap (maximal marginal relevance). Text, not embeddings: Haystack deep-copies every component
      input, and carrying 384 floats per candidate through the pipeline cost more than all retrieval.

    Inputs: `documents` (with `score`), `query`, optional `top_k`.
    Output: `documents`, best first, each with `score` set to its relevance.
    """

    def __init__(
        self,
        top_k: int = 5,
        focus_weight: float = 0.5,
        duplicate_threshold: float = 0.6,
        diversity: float = 0.0,
        window: int = 1,
        answer_type_weight: float = 0.0,
        chunk_coverage_weight: float = 0.0,
    ) -> None:
        """
        :param top_k: How many documents to return.
        :param focus_weight: Share of the passage focus score in the relevance (0: fused score only).
        :param duplicate_threshold: Share of shared word 5-grams at or above which a chunk duplicates a chosen one.
        :param diversity: MMR trade-off: 0 ranks by relevance alone, higher values favour variety.
        :param window: Consecutive sentences that form one focus window (1: single sentences).
        :param answer_type_weight: Bonus of a window that holds the kind of answer asked for (a date for
            "when", an amount for "how much", a new name for "who").
        :param chunk_coverage_weight: Share of the whole chunk's coverage of the question's words in the focus.
        """
        if not 0 <= focus_weight <= 1 or not 0 <= diversity <= 1:
            raise ValueError("focus_weight and diversity must be between 0 and 1")
        if window < 1 or answer_type_weight < 0 or not 0 <= chunk_coverage_weight <= 1:
            raise ValueError("window must be >= 1, answer_type_weight >= 0, chunk_coverage_weight in [0, 1]")
        self.top_k = top_k
        self.focus_weight = focus_weight
        self.duplicate_threshold = duplicate_threshold
        self.diversity = diversity
        self.window = window
        self.answer_type_weight = answer_type_weight
        self.chunk_coverage_weight = chunk_coverage_weight

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
    def run(self, documents: list[Document], query: str = "", top_k: int | None = None) -> dict[str, list[Document]]:
        """
        Rank `documents` for `query` and keep the best `top_k` that are not near-duplicates of each other.

        :param documents: Fused retrieval results with scores.
        :param query: The question, for the passage focus score.
        :param top_k: Overrides the number of documents to return.
        :returns: `documents`: at most `top_k` documents, best first.
        """
        top_k = self.top_k if top_k is None else top_k
        if not documents or top_k <= 0:
            return {"documents": []}
        fused = np.array([doc.score or 0.0 for doc in documents])
        relevance = fused / fused.max() if fused.max() > 0 else fused
        if self.focus_weight > 0 and query:
            relevance = (1 - self.focus_weight) * relevance + self.focus_weight * self.focus_scores(query, documents)

        shingles = [_shingles(d.content or "") for d in documents]
        chosen: list[int] = []
        redundancy = np.zeros(len(documents))
        available = np.ones(len(documents), dtype=bool)
        while len(chosen) < top_k and available.any():
            mmr = (1 - self.diversity) * relevance - self.diversity * redundancy
            best = int(np.flatnonzero(available)[np.argmax(mmr[available])])
            chosen.append(best)
            available[best] = False
            similarity = np.array([_containment(shingles[best], other) for other in shingles])
            redundancy = np.maximum(redundancy, similarity)
            available &= similarity < self.duplicate_threshold
        return {"documents": [replace(documents[i], score=float(relevance[i])) for i in chosen]}
