"""`PersistentInMemoryDocumentStore`: Haystack's in-memory store, persisted and shared by serving processes.

Three concerns, three modules (issue #11):
- this module: *changes* — the one change hook every mutator goes through (a versioned transaction:
  memory and the file change together or not at all), the writer lock across processes, reload of a
  version another process wrote, and publishing the new version to readers;
- `stores/inmemory/index_file.py`: the *file* — atomic versioned writes, the `flock`, recovery from a crash;
- `stores/inmemory/store_search_index.py`: *search* — the immutable index of one version that every read
  (filters, BM25, embedding retrieval) runs on, lock-free, with Haystack's scoring.

Why not Haystack's own `InMemoryDocumentStore`: its `save_to_disk` writes in place (a crash leaves a
truncated file), nothing loads a newer file in other processes (each service worker would serve its own,
diverging index), its `update_by_filter` changes documents in place (a reader sees it half-done), and its
searches score every document in Python while a writer changes the same dictionaries.
"""

import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from haystack import Document, default_to_dict, logging
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.in_memory import document_store as _memory
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils.filters import document_matches_filter

from stores.inmemory.index_file import CorruptIndexFileError, IndexFile, IndexNotSavedError, Stamp, StoredIndex
from stores.inmemory.store_search_index import StoreSearchIndex

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "PRESSQA_DATA_DIR"
# How often a process looks for a version another process wrote (one stat call per look).
RELOAD_POLL_SECONDS = float(os.environ.get("PRESSQA_RELOAD_POLL_SECONDS", "0.25"))

__all__ = ["PersistentInMemoryDocumentStore", "IndexNotSavedError", "CorruptIndexFileError", "on_publish"]


@dataclass
class _Memory:
    """Haystack's structures of one store (documents and BM25 statistics), as one unit to save, restore or swap.

    The parent has no API to snapshot or replace them, and a transaction's rollback and a reload need
    exactly that: this class, and only it, reads and writes them, through the parent's own accessors
    (`storage`, `_bm25_attr`, `_avg_doc_len`, `_freq_vocab_for_idf`). Searches never read them: the
    search index has its own statistics. Documents are shared, not copied: nothing changes one in place.
    """

    storage: dict[str, Document]
    bm25: dict[str, Any]
    avg_doc_len: float
    freq_vocab: Counter

    @classmethod
    def of(cls, store: InMemoryDocumentStore) -> "_Memory":
        """A copy of `store`'s structures."""
        return cls(dict(_live_storage(store)), dict(store._bm25_attr), store._avg_doc_len, Counter(store._freq_vocab_for_idf))

    def install(self, store: InMemoryDocumentStore) -> None:
        """Make these `store`'s structures (in place: the parent has a setter only for the average)."""
        for live, saved in ((_live_storage(store), self.storage), (store._bm25_attr, self.bm25), (store._freq_vocab_for_idf, self.freq_vocab)):
            if live is not saved:
                live.clear()
                live.update(saved)
        store._avg_doc_len = self.avg_doc_len


def _live_storage(store: InMemoryDocumentStore) -> dict[str, Document]:
    """The parent's own, changing storage (`PersistentInMemoryDocumentStore.storage` is the served version)."""
    return InMemoryDocumentStore.storage.fget(store)


@dataclass
class _IndexState:
    """What the instances of one index share inside a process (every pipeline deserializes its own store)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    loaded: bool = False
    snapshot: StoreSearchIndex | None = None  # the version served to readers
    version: int = 0  # the version this process serves
    stamp: Stamp | None = None  # the file identity that version came from (or was written as)
    depth: int = 0  # nesting of open transactions (owned by the thread holding `lock`)
    writer: int | None = None  # the thread running the open transaction
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

    - **Persistence** (`stores/inmemory/index_file.py`): the file is rewritten atomically (temporary file,
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
    - **One change hook** (`_changing`): `write_documents`, `delete_documents`, `delete_all_documents`,
      `delete_by_filter` and `update_by_filter` (and their `*_async` forms, which call them) each run as
      a transaction; `update_by_filter` replaces the matching documents by updated copies instead of
      changing them in place, so the version being served and the memory a failed save restores stay as
      they were.
    - **Reads** work on the immutable search index of the version served
      (`stores/inmemory/store_search_index.py`), so searches are answered, consistently, while indexing runs:
      BM25L on an inverted index and embedding retrieval on a cached matrix, with the same scores and
      order as the parent (`tests/stores/inmemory/test_store_search_index.py`) but without scanning every document in
      Python on each query. `storage` is that version too (read-only) for every thread but the one
      making a change, so the parent's metadata helpers (`get_metadata_*`, `count_*_by_filter`) read it.

    Conformance: Haystack's own `DocumentStoreBaseExtendedTests` and metadata mixins pass
    (`tests/stores/inmemory/test_store_conformance.py`), each followed by a reload from the file that must match memory.
    Why not Haystack's own store: see the module docstring.

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
        if kwargs.get("shared") is False:
            raise ValueError(
                "PersistentInMemoryDocumentStore needs shared=True: an index file is served as one index per "
                "process, shared by every pipeline (and component) naming it"
            )
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
            return _Memory.of(side)
        finally:
            side.shutdown()

    def _install(self, stored: StoredIndex, memory: _Memory, snapshot: StoreSearchIndex | None = None) -> None:
        """Serve `stored` (call under the state lock)."""
        memory.install(self)
        self._publish(snapshot or self._build_snapshot(memory, stored.version), stored.stamp)

    def _publish(self, snapshot: StoreSearchIndex, stamp: Stamp | None) -> None:
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
                before = _Memory.of(self)
                state.depth, state.writer = 1, threading.get_ident()
                try:
                    yield
                    version = state.version + 1
                    memory = _Memory.of(self)
                    snapshot = self._build_snapshot(memory, version)
                    stamp = self._file.write(self.index, version, [d.to_dict(flatten=False) for d in memory.storage.values()]) if self._file else None
                except BaseException:
                    before.install(self)
                    raise
                finally:
                    state.depth, state.writer = 0, None
                # Published only once saved: readers never see a version a restart would not have.
                self._publish(snapshot, stamp)

    def _changing(self, change: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The one change hook: every mutator runs `change` (Haystack's own, on this store's memory) as (part
        of) a transaction, so memory and the file change together, as one new version, or not at all."""
        with self.transaction():
            return change(*args, **kwargs)

    # Every mutator of `InMemoryDocumentStore` (their `*_async` forms call these) goes through `_changing`.

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
        """Merge `meta` into the meta of the documents matching `filters` and persist the index."""
        return self._changing(self._update_meta, filters, meta)

    def _update_meta(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """`InMemoryDocumentStore.update_by_filter`, on copies: Haystack's changes each matching document's
        meta in place, and those document objects are also the version readers are served and the memory a
        failed save restores, so readers would see an unsaved change and a failed save would keep it."""
        self._validate_filters(filters)
        matching = [
            doc for doc in self.storage.values()
            if document_matches_filter(filters=filters, document=doc, strict_datetime_comparison=self.strict_datetime_comparison)
        ]
        for doc in matching:
            self.storage[doc.id] = replace(doc, meta={**doc.meta, **meta})  # content unchanged: BM25 stats stay
        return len(matching)

    # --- reads: on the immutable search index of the version served (stores/inmemory/store_search_index.py) ---

    def _snapshot(self) -> StoreSearchIndex:
        state = self._state
        snapshot = state.snapshot
        if snapshot is not None:
            return snapshot
        with state.lock:
            if state.snapshot is None:
                state.snapshot = self._build_snapshot(_Memory.of(self), state.version)
            return state.snapshot

    def _build_snapshot(self, memory: _Memory, version: int) -> StoreSearchIndex:
        return StoreSearchIndex.build(memory.storage.values(), self._tokenize_bm25, version, previous=self._state.snapshot)

    @property
    def storage(self) -> Mapping[str, Document]:
        """The documents by id, of the version served (read-only); inside a change, for the thread making
        it, the parent's live storage. So the parent's read helpers (`get_metadata_*`, ...) see one whole
        version, as every search does, never a change half made."""
        if self._state.writer == threading.get_ident():
            return _live_storage(self)
        return self._snapshot().by_id

    def count_documents(self) -> int:
        """Number of documents in the index."""
        return len(self._snapshot().documents)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """Documents matching `filters` (all documents without filters)."""
        self._validate_filters(filters)
        docs = self._snapshot().filter_documents(filters, self.strict_datetime_comparison)
        return docs if self.return_embedding else [replace(d, embedding=None) for d in docs]

    def count_documents_by_filter(self, filters: dict[str, Any]) -> int:
        """Number of documents matching `filters`, in the version served."""
        return len(self.filter_documents(filters))

    def bm25_retrieval(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        """BM25L retrieval on the inverted index; same scores and order as `InMemoryDocumentStore` with BM25L."""
        if self.bm25_algorithm != "BM25L":
            return super().bm25_retrieval(query, filters=filters, top_k=top_k, scale_score=scale_score)
        if not query:
            raise ValueError("Query should be a non-empty string")
        if filters and "operator" not in filters:
            raise ValueError("Invalid filter syntax. See https://docs.haystack.deepset.ai/docs/metadata-filtering for details.")
        return self._snapshot().bm25_retrieval(
            self._tokenize_bm25(query), filters=filters, top_k=top_k, scale_score=scale_score,
            return_embedding=self.return_embedding, bm25_parameters=self.bm25_parameters,
            strict_datetime_comparison=self.strict_datetime_comparison,
        )

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        """Embedding retrieval on a cached matrix; same scores and order as `InMemoryDocumentStore`."""
        if len(query_embedding) == 0 or not isinstance(query_embedding[0], float):
            raise ValueError("query_embedding should be a non-empty list of floats.")
        self._validate_filters(filters)
        return self._snapshot().embedding_retrieval(
            query_embedding, similarity=self.embedding_similarity_function, filters=filters, top_k=top_k,
            scale_score=scale_score, return_embedding=self.return_embedding if return_embedding is None else return_embedding,
            strict_datetime_comparison=self.strict_datetime_comparison,
        )


@contextmanager
def _no_lock() -> Iterator[None]:
    yield
