from dataclasses import replace

import numpy as np
from haystack import Document, component


@component
class RedundancyAwareRanker:
    """
    Re-ranks fused retrieval results and drops near-duplicate chunks, using the stored embeddings only.

    This corpus repeats itself: follow-up releases, round-ups and shared boilerplate put nearly the same
    passage into several releases, and overlapping chunks repeat each other. A cross-encoder is not
    available offline, so this ranker works with what retrieval already returned:
    - relevance: the fused (RRF) score, rescaled to [0, 1], blended with the cosine similarity of the
      query and chunk embeddings (`dense_weight`), which orders chunks that RRF ties or nearly ties;
    - redundancy: a chunk whose embedding is at least `duplicate_threshold` similar to a chunk already
      chosen is dropped, and `diversity` > 0 penalises partial overlap (maximal marginal relevance).

    Inputs: `documents` (with `embedding` and `score`), optional `query_embedding`, optional `top_k`.
    Output: `documents`, best first, each with `score` set to the blended relevance.
    Documents without an embedding are kept and ranked by their fused score alone.
    """

    def __init__(
        self, top_k: int = 5, dense_weight: float = 0.0, duplicate_threshold: float = 0.95, diversity: float = 0.0
    ) -> None:
        """
        :param top_k: How many documents to return.
        :param dense_weight: Share of the query-chunk cosine in the relevance (0: fused score only).
        :param duplicate_threshold: Cosine at or above which a chunk counts as a duplicate of a chosen one.
        :param diversity: MMR trade-off: 0 ranks by relevance alone, higher values favour variety.
        """
        if not 0 <= dense_weight <= 1 or not 0 <= diversity <= 1:
            raise ValueError("dense_weight and diversity must be between 0 and 1")
        self.top_k = top_k
        self.dense_weight = dense_weight
        self.duplicate_threshold = duplicate_threshold
        self.diversity = diversity

    @staticmethod
    def _unit_rows(documents: list[Document], dims: int) -> np.ndarray:
        rows = np.zeros((len(documents), dims), dtype=np.float32)
        for i, doc in enumerate(documents):
            if doc.embedding is not None and len(doc.embedding) == dims:
                rows[i] = doc.embedding
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)

    @component.output_types(documents=list[Document])
    def run(
        self, documents: list[Document], query_embedding: list[float] | None = None, top_k: int | None = None
    ) -> dict[str, list[Document]]:
        """
        Rank `documents` and keep the best `top_k` that are not near-duplicates of each other.

        :param documents: Fused retrieval results with scores and embeddings.
        :param query_embedding: The query's embedding, for the dense share of the relevance.
        :param top_k: Overrides the number of documents to return.
        :returns: `documents`: at most `top_k` documents, best first.
        """
        top_k = self.top_k if top_k is None else top_k
        if not documents or top_k <= 0:
            return {"documents": []}
        fused = np.array([doc.score or 0.0 for doc in documents], dtype=np.float32)
        relevance = fused / fused.max() if fused.max() > 0 else fused
        dims = next((len(d.embedding) for d in documents if d.embedding is not None), 0)
        units = self._unit_rows(documents, dims) if dims else np.zeros((len(documents), 0), dtype=np.float32)
        if dims and query_embedding is not None and self.dense_weight > 0:
            query = np.asarray(query_embedding, dtype=np.float32)
            query /= np.linalg.norm(query) or 1.0
            relevance = (1 - self.dense_weight) * relevance + self.dense_weight * (units @ query)

        chosen: list[int] = []
        redundancy = np.zeros(len(documents), dtype=np.float32)
        available = np.ones(len(documents), dtype=bool)
        while len(chosen) < top_k and available.any():
            mmr = (1 - self.diversity) * relevance - self.diversity * redundancy
            best = int(np.flatnonzero(available)[np.argmax(mmr[available])])
            chosen.append(best)
            available[best] = False
            if dims:
                similarity = units @ units[best]
                redundancy = np.maximum(redundancy, similarity)
                # zero vectors (no embedding) have similarity 0 and are never dropped as duplicates
                available &= similarity < self.duplicate_threshold
        return {"documents": [replace(documents[i], score=float(relevance[i])) for i in chosen]}
