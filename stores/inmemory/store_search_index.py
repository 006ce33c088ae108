"""The search side of `PersistentInMemoryDocumentStore`: an immutable, array-based index of one version.

Why not Haystack's own search: `InMemoryDocumentStore.bm25_retrieval` scores every document in Python on
each query (116-185 ms per BM25 + embedding query pair on our 1,613 chunks, against 6 ms here:
`scripts/store_matches_haystack.py`) and reads the live storage, which a writer changes meanwhile. This index is
built once per published version and never changed, so searches need no lock and always see one whole
version.

Kept to Haystack's definitions, not copies of them:
- tokens and BM25 statistics come from the store's own tokenizer (`InMemoryDocumentStore._tokenize_bm25`)
  and Haystack's `BM25DocumentStats`; the index computes them itself, from the documents, and reads none
  of the parent store's (private, mutable) statistics;
- score scaling uses Haystack's exported `BM25_SCALING_FACTOR`, `DOT_PRODUCT_SCALING_FACTOR` and `expit`;
- BM25L is Haystack's formula (`InMemoryDocumentStore._score_bm25l`, with its default parameters
  k1=1.5, b=0.75, delta=0.5), evaluated over an inverted index in float64. Haystack does not export that
  formula in a vectorised form; `tests/stores/inmemory/test_store_search_index.py` holds it to Haystack's own store (same
  documents, same order, scores within 1e-9), so a change of Haystack's BM25L fails that test.

```python
index = StoreSearchIndex.build(documents, tokenize=store._tokenize_bm25, version=3)
hits = index.bm25_retrieval(store._tokenize_bm25("5G campus network"), top_k=5)
```
"""

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from haystack import Document
from haystack.document_stores.in_memory.document_store import (
    BM25_SCALING_FACTOR,
    DOT_PRODUCT_SCALING_FACTOR,
    BM25DocumentStats,
)
from haystack.utils import expit
from haystack.utils.filters import document_matches_filter

# The defaults of Haystack's BM25L (`InMemoryDocumentStore._score_bm25l`, not exported as constants):
# `bm25_parameters` overrides them exactly as it does there.
_BM25L_DEFAULTS = {"k1": 1.5, "b": 0.75, "delta": 0.5}


@dataclass(frozen=True)
class StoreSearchIndex:
    """One version of the documents, with an inverted index for BM25L and a matrix for embedding search."""

    documents: tuple[Document, ...]  # storage order: ties are broken by it, as in Haystack
    stats: dict[str, BM25DocumentStats]  # per document id; documents without content have none
    embeddings: np.ndarray  # float64, one row per document; zero rows where a document has no embedding
    has_embedding: np.ndarray  # bool per document
    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # token -> (document rows, term frequencies)
    doc_lengths: np.ndarray  # float64 tokens per document (0 without content)
    avg_doc_len: float  # over documents with content, as Haystack's
    version: int = 0
    by_id: Mapping[str, Document] = field(default_factory=dict)  # read-only view of `documents`

    @classmethod
    def build(
        cls,
        documents: Iterable[Document],
        tokenize: Callable[[str], list[str]],
        version: int = 0,
        previous: "StoreSearchIndex | None" = None,
    ) -> "StoreSearchIndex":
        """Index `documents`; statistics of documents whose content is unchanged since `previous` are reused."""
        documents = tuple(documents)
        known = previous.stats if previous is not None else {}
        old_content = {d.id: d.content for d in previous.documents} if previous is not None else {}
        stats: dict[str, BM25DocumentStats] = {}
        for doc in documents:
            if doc.content is None:
                continue
            reused = known.get(doc.id)
            if reused is not None and old_content.get(doc.id) == doc.content:
                stats[doc.id] = reused
            else:
                tokens = tokenize(doc.content)
                stats[doc.id] = BM25DocumentStats(Counter(tokens), len(tokens))

        dims = next((len(d.embedding) for d in documents if d.embedding is not None), 0)
        embeddings = np.zeros((len(documents), dims), dtype=np.float64)
        has_embedding = np.zeros(len(documents), dtype=bool)
        doc_lengths = np.zeros(len(documents), dtype=np.float64)
        rows: dict[str, list[int]] = defaultdict(list)
        freqs: dict[str, list[int]] = defaultdict(list)
        for row, doc in enumerate(documents):
            if doc.embedding is not None and len(doc.embedding) == dims:
                embeddings[row] = doc.embedding
                has_embedding[row] = True
            doc_stats = stats.get(doc.id)
            if doc_stats is None:
                continue
            doc_lengths[row] = doc_stats.doc_len
            for token, freq in doc_stats.freq_token.items():
                rows[token].append(row)
                freqs[token].append(freq)
        postings = {t: (np.array(rows[t]), np.array(freqs[t], dtype=np.float64)) for t in rows}
        avg_doc_len = sum(s.doc_len for s in stats.values()) / len(stats) if stats else 0.0
        by_id = MappingProxyType({d.id: d for d in documents})
        return cls(documents, stats, embeddings, has_embedding, postings, doc_lengths, avg_doc_len, version, by_id)

    def filter_mask(self, filters: dict[str, Any] | None, strict_datetime_comparison: bool = False) -> np.ndarray | None:
        """Per document: does it match `filters` (Haystack's filter semantics)? None without filters."""
        if not filters:
            return None
        return np.fromiter(
            (document_matches_filter(filters=filters, document=d, strict_datetime_comparison=strict_datetime_comparison) for d in self.documents),
            dtype=bool,
            count=len(self.documents),
        )

    def filter_documents(self, filters: dict[str, Any] | None = None, strict_datetime_comparison: bool = False) -> list[Document]:
        mask = self.filter_mask(filters, strict_datetime_comparison)
        return list(self.documents) if mask is None else [d for d, keep in zip(self.documents, mask, strict=True) if keep]

    def bm25_scores(self, query_tokens: list[str], bm25_parameters: dict[str, float] | None = None) -> np.ndarray:
        """BM25L score of every document (0 where no query token occurs), as Haystack's `_score_bm25l`."""
        params = {**_BM25L_DEFAULTS, **(bm25_parameters or {})}
        k1, b, delta = params["k1"], params["b"], params["delta"]
        scores = np.zeros(len(self.documents), dtype=np.float64)
        if self.avg_doc_len == 0:  # a tokenless corpus: Haystack scores 0 (then drops it) too
            return scores
        n_corpus = len(self.stats)
        for token in dict.fromkeys(query_tokens):  # each distinct token once, in query order
            posting = self.postings.get(token)
            if posting is None:
                continue
            rows, tf = posting
            idf = math.log((n_corpus + 1.0) / (len(rows) + 0.5))
            ctd = tf / (1 - b + b * self.doc_lengths[rows] / self.avg_doc_len)
            scores[rows] += idf * ((1.0 + k1) * (ctd + delta) / (k1 + ctd + delta))
        return scores

    def bm25_retrieval(
        self,
        query_tokens: list[str],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool = True,
        bm25_parameters: dict[str, float] | None = None,
        strict_datetime_comparison: bool = False,
    ) -> list[Document]:
        """The `top_k` documents by BM25L, best first; documents no query token occurs in are left out."""
        scores = self.bm25_scores(query_tokens, bm25_parameters)
        candidates = self._matching(np.flatnonzero(scores > 0), filters, strict_datetime_comparison)
        return [
            self._hit(row, expit(scores[row] / BM25_SCALING_FACTOR) if scale_score else scores[row], return_embedding)
            for row in _best(scores, candidates, top_k)
        ]

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        similarity: str = "dot_product",
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool = False,
        strict_datetime_comparison: bool = False,
    ) -> list[Document]:
        """The `top_k` documents with an embedding by `similarity` ("dot_product" or "cosine"), best first."""
        candidates = self._matching(np.flatnonzero(self.has_embedding), filters, strict_datetime_comparison)
        if len(candidates) == 0:
            return []
        query = np.asarray(query_embedding, dtype=np.float64)
        if similarity == "cosine":  # zero-norm vectors divide by 1, as in Haystack
            query = query / (np.linalg.norm(query) or 1.0)
            norms = np.linalg.norm(self.embeddings, axis=1)
            scores = (self.embeddings / np.where(norms == 0, 1.0, norms)[:, None]) @ query
        else:
            scores = self.embeddings @ query

        def scaled(score: float) -> float:
            if not scale_score:
                return score
            return (score + 1) / 2 if similarity == "cosine" else expit(score / DOT_PRODUCT_SCALING_FACTOR)

        return [self._hit(row, scaled(scores[row]), return_embedding) for row in _best(scores, candidates, top_k)]

    def _matching(self, candidates: np.ndarray, filters: dict[str, Any] | None, strict: bool) -> np.ndarray:
        mask = self.filter_mask(filters, strict)
        return candidates if mask is None else candidates[mask[candidates]]

    def _hit(self, row: int, score: float, return_embedding: bool) -> Document:
        doc = self.documents[row]
        return replace(doc, score=float(score), embedding=doc.embedding if return_embedding else None)


def _best(scores: np.ndarray, candidates: np.ndarray, top_k: int) -> np.ndarray:
    """Rows of the `top_k` best scores among `candidates` (ascending rows), best first; equal scores keep
    storage order, also at the cut, as Haystack's stable sort does."""
    return candidates[np.argsort(-scores[candidates], kind="stable")[:top_k]]
