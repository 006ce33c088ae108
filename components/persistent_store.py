import json
import math
import os
import tempfile
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, default_to_dict, logging
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils.filters import document_matches_filter

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "PRESSQA_DATA_DIR"

# One lock and one read snapshot per index: every pipeline deserializes its own store instance, and
# Haystack lets instances with the same index share their documents (shared=True).
_LOCKS: dict[str, threading.RLock] = defaultdict(threading.RLock)
_SNAPSHOTS: dict[str, "_Snapshot"] = {}
_LOADED: set[str] = set()


@dataclass(frozen=True)
class _Snapshot:
    """An immutable view of an index for lock-free reads: documents plus precomputed search structures."""

    documents: tuple[Document, ...]
    embeddings: np.ndarray  # one row per document; zero rows where a document has no embedding
    has_embedding: np.ndarray  # bool per document
    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # token -> (document rows, term frequencies)
    doc_lengths: np.ndarray
    avg_doc_len: float
    bm25_docs: int


class PersistentInMemoryDocumentStore(InMemoryDocumentStore):
    """
    Haystack's in-memory store, persisted to a JSON file and made safe and fast for a serving process.

    - Loads `persist_path` when the first instance for an index is created, and rewrites it atomically
      (temporary file, fsync, rename) after every write or delete, so a restart keeps the index and a
      crash mid-write leaves the previous file intact.
    - Writes take a per-index lock; reads work on an immutable snapshot, so searches keep being answered,
      consistently, while indexing runs.
    - BM25 (BM25L, the same scoring as the parent) uses an inverted index and embedding retrieval a cached
      matrix instead of scanning every document in Python on each query.

    A relative `persist_path` is resolved against the `PRESSQA_DATA_DIR` environment variable (default:
    `data`), so YAML names the file and the deployment chooses the folder.
    """

    def __init__(self, persist_path: str | None = None, **kwargs: Any) -> None:
        """
        :param persist_path: JSON file holding the index; `None` keeps it in memory only.
        :param kwargs: Passed to `InMemoryDocumentStore` (set `index` so pipelines share the documents).
        """
        super().__init__(**kwargs)
        self.persist_path = persist_path
        self._write_depth = 0
        with _LOCKS[self.index]:
            if self.index not in _LOADED:
                _LOADED.add(self.index)
                self._load()

    @property
    def resolved_path(self) -> Path | None:
        """The file the index persists to, with the data directory applied."""
        if self.persist_path is None:
            return None
        path = Path(self.persist_path)
        return path if path.is_absolute() else Path(os.environ.get(DATA_DIR_ENV, "data")) / path

    def to_dict(self) -> dict[str, Any]:
        """Serialize the store, persist_path included."""
        data = super().to_dict()
        return default_to_dict(self, persist_path=self.persist_path, **data["init_parameters"])

    def _load(self) -> None:
        path = self.resolved_path
        if path is None or not path.exists():
            return
        with path.open(encoding="utf-8") as f:
            stored = json.load(f)
        documents = [Document.from_dict(d) for d in stored["documents"]]
        self._write_depth += 1  # loading is not a change to persist again
        try:
            super().write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
        finally:
            self._write_depth -= 1
        logger.info("Loaded {n} documents from {path}", n=len(documents), path=str(path))

    def _persist(self) -> None:
        path = self.resolved_path
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"index": self.index, "documents": [d.to_dict(flatten=False) for d in self.storage.values()]}
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(payload, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def _changing(self, change, *args: Any, **kwargs: Any) -> Any:
        """Run a change under the index lock; persist once, when the outermost change ends."""
        with _LOCKS[self.index]:
            self._write_depth += 1
            try:
                result = change(*args, **kwargs)
            finally:
                self._write_depth -= 1
            if self._write_depth == 0:
                # Readers switch to the new snapshot at once; they never wait for the file write.
                _SNAPSHOTS[self.index] = self._build_snapshot()
                self._persist()
            return result

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        """Write documents (see `InMemoryDocumentStore.write_documents`) and persist the index."""
        return self._changing(super().write_documents, documents, policy=policy)

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete documents by id and persist the index."""
        self._changing(super().delete_documents, document_ids)

    def delete_all_documents(self) -> None:
        """Delete every document of the index and persist the (empty) index."""
        self._changing(super().delete_all_documents)

    # --- reads: on an immutable snapshot -------------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        snapshot = _SNAPSHOTS.get(self.index)
        if snapshot is not None:
            return snapshot
        with _LOCKS[self.index]:
            snapshot = _SNAPSHOTS.get(self.index)
            if snapshot is None:
                snapshot = self._build_snapshot()
                _SNAPSHOTS[self.index] = snapshot
            return snapshot

    def _build_snapshot(self) -> _Snapshot:
        documents = tuple(self.storage.values())
        dims = next((len(d.embedding) for d in documents if d.embedding is not None), 0)
        embeddings = np.zeros((len(documents), dims), dtype=np.float32)
        has_embedding = np.zeros(len(documents), dtype=bool)
        rows: dict[str, list[int]] = defaultdict(list)
        freqs: dict[str, list[int]] = defaultdict(list)
        doc_lengths = np.zeros(len(documents), dtype=np.float32)
        for row, doc in enumerate(documents):
            if doc.embedding is not None and len(doc.embedding) == dims:
                embeddings[row] = doc.embedding
                has_embedding[row] = True
            stats = self._bm25_attr.get(doc.id)
            if doc.content is None or stats is None:
                continue
            doc_lengths[row] = stats.doc_len
            for token, freq in stats.freq_token.items():
                rows[token].append(row)
                freqs[token].append(freq)
        postings = {t: (np.array(rows[t]), np.array(freqs[t], dtype=np.float32)) for t in rows}
        return _Snapshot(
            documents=documents,
            embeddings=embeddings,
            has_embedding=has_embedding,
            postings=postings,
            doc_lengths=doc_lengths,
            avg_doc_len=float(self._avg_doc_len),
            bm25_docs=len(self._bm25_attr),
        )

    def _filter_mask(self, snapshot: _Snapshot, filters: dict[str, Any] | None) -> np.ndarray | None:
        if not filters:
            return None
        self._validate_filters(filters)
        return np.fromiter(
            (
                document_matches_filter(filters=filters, document=d, strict_datetime_comparison=self.strict_datetime_comparison)
                for d in snapshot.documents
            ),
            dtype=bool,
            count=len(snapshot.documents),
        )

    def count_documents(self) -> int:
        """Number of documents in the index."""
        return len(self._snapshot().documents)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """Documents matching `filters` (all documents without filters)."""
        snapshot = self._snapshot()
        mask = self._filter_mask(snapshot, filters)
        docs = [d for i, d in enumerate(snapshot.documents) if mask is None or mask[i]]
        return docs if self.return_embedding else [replace(d, embedding=None) for d in docs]

    @staticmethod
    def _top(scores: np.ndarray, candidates: np.ndarray, top_k: int) -> np.ndarray:
        """Rows of the `top_k` best scores among `candidates`, best first (ties keep storage order)."""
        if len(candidates) > top_k:
            part = np.argpartition(-scores[candidates], top_k - 1)[:top_k]
            candidates = candidates[part]
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order]

    def bm25_retrieval(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        """BM25L retrieval on the inverted index; same scores as `InMemoryDocumentStore` with BM25L."""
        if self.bm25_algorithm != "BM25L":
            return super().bm25_retrieval(query, filters=filters, top_k=top_k, scale_score=scale_score)
        if not query:
            raise ValueError("Query should be a non-empty string")
        snapshot = self._snapshot()
        if filters and "operator" not in filters:
            raise ValueError("Invalid filter syntax. See https://docs.haystack.deepset.ai/docs/metadata-filtering for details.")
        k1 = self.bm25_parameters.get("k1", 1.5)
        b = self.bm25_parameters.get("b", 0.75)
        delta = self.bm25_parameters.get("delta", 0.5)
        scores = np.zeros(len(snapshot.documents), dtype=np.float64)
        if snapshot.avg_doc_len > 0:
            for token in dict.fromkeys(self._tokenize_bm25(query)):
                posting = snapshot.postings.get(token)
                if posting is None:
                    continue
                rows, tf = posting
                idf = math.log((snapshot.bm25_docs + 1.0) / (len(rows) + 0.5))
                ctd = tf / (1 - b + b * snapshot.doc_lengths[rows] / snapshot.avg_doc_len)
                scores[rows] += idf * (1.0 + k1) * (ctd + delta) / (k1 + ctd + delta)
        candidates = np.flatnonzero(scores > 0)
        mask = self._filter_mask(snapshot, filters)
        if mask is not None:
            candidates = candidates[mask[candidates]]
        results = []
        for row in self._top(scores, candidates, top_k):
            score = float(scores[row])
            if scale_score:
                score = 1 / (1 + math.exp(-score / 8))
            doc = snapshot.documents[row]
            results.append(replace(doc, score=score, embedding=doc.embedding if self.return_embedding else None))
        return results

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        """Embedding retrieval on a cached matrix; same scores as `InMemoryDocumentStore`."""
        if len(query_embedding) == 0 or not isinstance(query_embedding[0], float):
            raise ValueError("query_embedding should be a non-empty list of floats.")
        snapshot = self._snapshot()
        candidates = np.flatnonzero(snapshot.has_embedding)
        mask = self._filter_mask(snapshot, filters)
        if mask is not None:
            candidates = candidates[mask[candidates]]
        if len(candidates) == 0:
            return []
        query = np.asarray(query_embedding, dtype=np.float32)
        matrix = snapshot.embeddings
        if self.embedding_similarity_function == "cosine":
            norms = np.linalg.norm(matrix, axis=1)
            scores = (matrix @ query) / (np.where(norms == 0, 1, norms) * (np.linalg.norm(query) or 1.0))
        else:
            scores = matrix @ query
        keep_embedding = self.return_embedding if return_embedding is None else return_embedding
        results = []
        for row in self._top(scores, candidates, top_k):
            score = float(scores[row])
            if scale_score:
                score = (score + 1) / 2 if self.embedding_similarity_function == "cosine" else 1 / (1 + math.exp(-score / 100))
            doc = snapshot.documents[row]
            results.append(replace(doc, score=score, embedding=doc.embedding if keep_embedding else None))
        return results
