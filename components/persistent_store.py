import math
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, default_to_dict, logging
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.in_memory import document_store as _memory
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils.filters import document_matches_filter

from components.index_file import CorruptIndexFileError, IndexFile, IndexNotSavedError, Stamp, StoredIndex

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "PRESSQA_DATA_DIR"
# How often a process looks for a version another process wrote (one stat call per look).
RELOAD_POLL_SECONDS = float(os.environ.get("PRESSQA_RELOAD_POLL_SECONDS", "0.25"))

__all__ = ["PersistentInMemoryDocumentStore", "IndexNotSavedError", "CorruptIndexFileError", "on_publish"]


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
    version: int = 0


@dataclass
class _Memory:
    """Haystack's per-index structures (documents and BM25 statistics), as one unit to save, restore or swap."""

    storage: dict[str, Document]
    bm25: dict[str, Any]
    avg_doc_len: float
    freq_vocab: Counter

    @classmethod
    def of(cls, index: str) -> "_Memory":
        return cls(
            dict(_memory._STORAGES[index]),
            dict(_memory._BM25_STATS_STORAGES[index]),
            _memory._AVERAGE_DOC_LEN_STORAGES[index],
            Counter(_memory._FREQ_VOCAB_FOR_IDF_STORAGES[index]),
        )

    def install(self, index: str) -> None:
        _memory._STORAGES[index] = self.storage
        _memory._BM25_STATS_STORAGES[index] = self.bm25
        _memory._AVERAGE_DOC_LEN_STORAGES[index] = self.avg_doc_len
        _memory._FREQ_VOCAB_FOR_IDF_STORAGES[index] = self.freq_vocab


@dataclass
class _IndexState:
    """What the instances of one index share inside a process (every pipeline deserializes its own store)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    loaded: bool = False
    snapshot: _Snapshot | None = None
    version: int = 0  # the version this process serves
    stamp: Stamp | None = None  # the file identity that version came from (or was written as)
    depth: int = 0  # nesting of open transactions (owned by the thread holding `lock`)
    problems: list[str] = field(default_factory=list)
    watcher: threading.Thread | None = None


_STATES: dict[str, _IndexState] = defaultdict(_IndexState)
# Called as listener(index, version) whenever this process starts serving a new version (own write or reload).
_PUBLISH_LISTENERS: list[Callable[[str, int], None]] = []


def on_publish(listener: Callable[[str, int], None]) -> None:
    """Register `listener(index, version)`, called whenever this process starts serving a new version."""
    _PUBLISH_LISTENERS.append(listener)


def forget_index(index: str) -> None:
    """Drop an index from this process's memory, as if the process were new (tests)."""
    for registry in (_memory._STORAGES, _memory._BM25_STATS_STORAGES, _memory._AVERAGE_DOC_LEN_STORAGES, _memory._FREQ_VOCAB_FOR_IDF_STORAGES):
        registry.pop(index, None)
    _STATES.pop(index, None)


class PersistentInMemoryDocumentStore(InMemoryDocumentStore):
    """
    Haystack's in-memory store, persisted to a JSON file and made safe and fast for serving processes.

    - **Persistence** (`components/index_file.py`): the file is rewritten atomically (temporary file,
      fsync, rename) after every change, with a version number; a crash mid-write leaves the previous
      file. An unreadable file found at start is moved aside (`<name>.corrupt-<time>`, kept) and reported
      in `problems`; stale temporary files are removed.
    - **One writer, many readers across processes**: a change takes the file's writer lock, first loads
      a version another process wrote meanwhile (no lost writes), then changes, saves and only then
      publishes: if saving fails (disk full) memory is restored and `IndexNotSavedError` raised. Every
      process polls the file (`PRESSQA_RELOAD_POLL_SECONDS`, 0.25 s) and loads a new version in a
      background thread, swapping its read snapshot when ready: searches never wait for a reload.
    - **Transactions**: `with store.transaction(): ...` groups changes into one saved, published
      version (e.g. write a release's new chunks and delete its old ones): readers and a crash see
      all of it or nothing.
    - **Reads** work on an immutable snapshot, so searches are answered, consistently, while indexing
      runs; BM25 (BM25L, the parent's scoring) uses an inverted index and embedding retrieval a cached
      matrix instead of scanning every document in Python on each query.

    Why not Haystack's own: `InMemoryDocumentStore.save_to_disk` writes in place (a crash leaves a
    truncated file) and nothing reloads it in other processes.

    A relative `persist_path` is resolved against `PRESSQA_DATA_DIR` (default `data`), so YAML names the
    file and the deployment chooses the folder.

    ```python
    store = PersistentInMemoryDocumentStore(index="press-releases", persist_path="index/press-releases.json")
    with store.transaction():
        store.write_documents(new_chunks, policy=DuplicatePolicy.OVERWRITE)
        store.delete_documents(old_ids)
    ```
    """

    def __init__(self, persist_path: str | None = None, **kwargs: Any) -> None:
        """
        :param persist_path: JSON file holding the index; `None` keeps it in memory only.
        :param kwargs: Passed to `InMemoryDocumentStore` (set `index` so pipelines share the documents).
        """
        super().__init__(**kwargs)
        self.persist_path = persist_path
        path = self.resolved_path
        self._file = IndexFile(path) if path is not None else None
        state = self._state
        with state.lock:
            if not state.loaded:
                state.loaded = True
                if self._file is not None:
                    self._open_file()
                    state.watcher = threading.Thread(target=self._watch, name=f"index-reload-{self.index}", daemon=True)
                    state.watcher.start()

    @property
    def _state(self) -> _IndexState:
        return _STATES[self.index]

    @property
    def resolved_path(self) -> Path | None:
        """The file the index persists to, with the data directory applied."""
        if self.persist_path is None:
            return None
        path = Path(self.persist_path)
        return path if path.is_absolute() else Path(os.environ.get(DATA_DIR_ENV, "data")) / path

    @property
    def version(self) -> int:
        """The index version this process serves (incremented by every saved change, in any process)."""
        return self._snapshot().version

    @property
    def problems(self) -> list[str]:
        """What went wrong with the index file (e.g. an unreadable file moved aside), for /health."""
        found = list(self._state.problems)
        if self._file is not None:
            for aside in self._file.quarantined():
                note = f"an unreadable index file was moved aside to {aside}; releases only in it are not served"
                if not any(str(aside) in p for p in found):
                    found.append(note)
        return found

    def to_dict(self) -> dict[str, Any]:
        """Serialize the store, persist_path included."""
        data = super().to_dict()
        return default_to_dict(self, persist_path=self.persist_path, **data["init_parameters"])

    # --- persistence -------------------------------------------------------------------------------

    def _open_file(self) -> None:
        """First use in this process: clean up after a crashed writer, load the file or move it aside."""
        assert self._file is not None
        with self._file.writer_lock():
            for tmp in self._file.remove_stale_temporary_files():
                logger.warning("Removed {tmp}, left by an interrupted index write", tmp=str(tmp))
            try:
                stored = self._file.read()
            except CorruptIndexFileError as error:
                aside = self._file.quarantine()
                message = f"{error}. Moved it aside to {aside} (kept); starting from an empty index."
                self._state.problems.append(message)
                logger.error("INDEX FILE UNREADABLE: {detail}", detail=message)
                stored = None
            if stored is not None:
                self._install(stored, self._memory_from(stored))
                logger.info("Loaded {n} documents (version {v}) from {path}", n=len(stored.documents), v=stored.version, path=str(self._file.path))

    def _memory_from(self, stored: StoredIndex) -> _Memory:
        """Haystack's structures for `stored`, built on a private store (nothing shared is touched)."""
        side = InMemoryDocumentStore(
            bm25_tokenization_regex=self.bm25_tokenization_regex,
            bm25_algorithm=self.bm25_algorithm,
            bm25_parameters=self.bm25_parameters,
            embedding_similarity_function=self.embedding_similarity_function,
            shared=False,
        )
        try:
            InMemoryDocumentStore.write_documents(side, [Document.from_dict(d) for d in stored.documents], policy=DuplicatePolicy.OVERWRITE)
            return _Memory(side._local_storage, side._local_bm25_attr, side._local_avg_doc_len, side._local_freq_vocab_for_idf)
        finally:
            side.shutdown()

    def _install(self, stored: StoredIndex, memory: _Memory, snapshot: _Snapshot | None = None) -> None:
        """Serve `stored` (call under the state lock)."""
        memory.install(self.index)
        self._publish(snapshot or self._build_snapshot(memory, stored.version), stored.stamp)

    def _publish(self, snapshot: _Snapshot, stamp: Stamp | None) -> None:
        state = self._state
        state.snapshot, state.version, state.stamp = snapshot, snapshot.version, stamp
        for listener in _PUBLISH_LISTENERS:
            try:
                listener(self.index, snapshot.version)
            except Exception:  # a listener never breaks a write
                logger.exception("Index publish listener failed")

    def _catch_up(self) -> None:
        """Under the writer lock: load the file if another process wrote a version this one does not serve."""
        assert self._file is not None
        if self._file.stamp() == self._state.stamp:
            return
        stored = self._file.read()  # another process wrote it whole (atomic rename); unreadable = raise
        if stored is not None:
            self._install(stored, self._memory_from(stored))

    def _watch(self) -> None:
        """Background reload: poll the file's identity; build a new version off-lock, then swap it in."""
        assert self._file is not None
        state = self._state
        looked_at: Stamp | None = None  # each file version is read once (also one that fails to load)
        while _STATES.get(self.index) is state:  # ends when the index is forgotten (tests)
            time.sleep(RELOAD_POLL_SECONDS)
            try:
                stamp = self._file.stamp()
                if stamp in (state.stamp, None, looked_at):
                    continue
                looked_at = stamp
                stored = self._file.read()
                if stored is None or stored.version <= state.version:
                    continue
                memory = self._memory_from(stored)
                snapshot = self._build_snapshot(memory, stored.version)
                with state.lock:
                    if stored.version > state.version and state.depth == 0:
                        self._install(stored, memory, snapshot)
                        logger.info("Reloaded index {index} version {v} ({n} documents)", index=self.index, v=stored.version, n=len(memory.storage))
            except Exception as error:  # keep serving the version loaded; a writer's next version is tried
                logger.error("Reloading {path} failed, still serving version {v}: {error}", path=str(self._file.path), v=state.version, error=repr(error))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group changes into one version: saved and published together when the outermost block ends.

        On any error (including `IndexNotSavedError` when the disk is full) the memory of the index is
        restored and nothing is published or saved.
        """
        state = self._state
        with state.lock:
            if state.depth:
                state.depth += 1
                try:
                    yield
                finally:
                    state.depth -= 1
                return
            with self._file.writer_lock() if self._file else _no_lock():
                if self._file is not None:
                    self._catch_up()
                before = _Memory.of(self.index)
                state.depth = 1
                try:
                    yield
                    version = state.version + 1
                    memory = _Memory.of(self.index)
                    snapshot = self._build_snapshot(memory, version)
                    stamp = self._file.write(self.index, version, [d.to_dict(flatten=False) for d in memory.storage.values()]) if self._file else None
                except BaseException:
                    before.install(self.index)
                    raise
                finally:
                    state.depth = 0
                # Published only once saved: readers never see a version a restart would not have.
                self._publish(snapshot, stamp)

    def _changing(self, change, *args: Any, **kwargs: Any) -> Any:
        """The one change hook: every write, delete and update runs as (part of) a transaction."""
        with self.transaction():
            return change(*args, **kwargs)

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        """Write documents (see `InMemoryDocumentStore.write_documents`) and persist the index."""
        return self._changing(super().write_documents, documents, policy=policy)

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete documents by id and persist the index."""
        self._changing(super().delete_documents, document_ids)

    def delete_all_documents(self) -> None:
        """Delete every document of the index and persist the (empty) index."""
        self._changing(super().delete_all_documents)

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """Delete the documents matching `filters` and persist the index."""
        return self._changing(super().delete_by_filter, filters)

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """Update the meta of the documents matching `filters` and persist the index."""
        return self._changing(super().update_by_filter, filters, meta)

    # --- reads: on an immutable snapshot -------------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        state = self._state
        snapshot = state.snapshot
        if snapshot is not None:
            return snapshot
        with state.lock:
            if state.snapshot is None:
                state.snapshot = self._build_snapshot(_Memory.of(self.index), state.version)
            return state.snapshot

    def _build_snapshot(self, memory: _Memory, version: int) -> _Snapshot:
        documents = tuple(memory.storage.values())
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
            stats = memory.bm25.get(doc.id)
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
            avg_doc_len=float(memory.avg_doc_len),
            bm25_docs=len(memory.bm25),
            version=version,
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


@contextmanager
def _no_lock() -> Iterator[None]:
    yield
