"""`PersistentInMemoryDocumentStore`: Haystack's in-memory store, persisted and shared by serving processes.

Three concerns, three modules (issue #11):
- this module: *changes* — the one change hook every mutator goes through (a versioned transaction:
  memory and the file change together or not at all), the writer lock across processes, catching up with
  the versions another process wrote, and publishing the new version to readers;
- `stores/inmemory/index_file.py`: the *file* — an SQLite database written one change at a time, the
  `flock`, recovery from a crash;
- `stores/inmemory/store_search_index.py` (with `filter_columns.py`): *search* — the immutable index of one
  version that every read (filters, BM25, embedding retrieval) runs on, lock-free, with Haystack's scoring.

What a change costs grows with the change, not with the index (issue #23): the file gets only its rows, the
next search index is made from the one before, and another process reads only the rows it has not seen.

Why not Haystack's own `InMemoryDocumentStore`: its `save_to_disk` writes in place (a crash leaves a
truncated file), nothing loads a newer file in other processes (each service worker would serve its own,
diverging index), its `update_by_filter` changes documents in place (a reader sees it half-done), and its
searches and filters score or test every document in Python while a writer changes the same dictionaries.
"""

import os
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from haystack import Document, default_to_dict, logging
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.in_memory import document_store as _memory
from haystack.document_stores.in_memory.document_store import BM25DocumentStats
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils.filters import document_matches_filter

from stores.inmemory.index_file import (
    Changes,
    CorruptIndexFileError,
    IndexFile,
    IndexNotSavedError,
    Stamp,
    StoredChanges,
    not_saved,
    read_legacy_json,
    stored_document,
)
from stores.inmemory.store_search_index import StoreSearchIndex, tokenizing_stats

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "PRESSQA_DATA_DIR"
# How often a process looks for a version another process wrote (one small query per look).
RELOAD_POLL_SECONDS = float(os.environ.get("PRESSQA_RELOAD_POLL_SECONDS", "0.25"))

__all__ = ["PersistentInMemoryDocumentStore", "IndexNotSavedError", "CorruptIndexFileError", "on_publish"]


class _Changes:
    """What one transaction did to the served version, as Haystack's store did it to its storage dict."""

    def __init__(self, base: StoreSearchIndex) -> None:
        self.base = base
        self.inserted: dict[str, Document] = {}  # new at the end of the storage, in order
        self.replaced: dict[str, Document] = {}  # documents of the base changed in place (meta updates)
        self.deleted: set[str] = set()  # documents of the base gone (or moved to the end: also inserted)
        self.cleared = False

    def _in_base(self, doc_id: str) -> bool:
        return not self.cleared and doc_id in self.base.row_of and doc_id not in self.deleted

    def set(self, doc_id: str, document: Document, existed: bool) -> None:
        if doc_id in self.inserted or not existed:
            self.inserted[doc_id] = document  # an existing key keeps its place, as in the storage dict
        elif self._in_base(doc_id):
            self.replaced[doc_id] = document

    def delete(self, doc_id: str) -> None:
        self.inserted.pop(doc_id, None)
        self.replaced.pop(doc_id, None)
        if self._in_base(doc_id):
            self.deleted.add(doc_id)

    def touched(self) -> bool:
        return bool(self.inserted or self.replaced or self.deleted or self.cleared)

    def clear(self) -> None:
        self.cleared = True
        self.inserted.clear()
        self.replaced.clear()
        self.deleted.clear()

    def as_stored(self) -> Changes:
        return Changes(deleted=frozenset(self.deleted), inserted=tuple(stored_document(d) for d in self.inserted.values()),
                       replaced=tuple(self.replaced.values()), cleared=self.cleared)


class _TrackedStorage(dict):
    """The storage dict Haystack's methods change inside a transaction; it records each change."""

    def __init__(self, documents: Mapping[str, Document], changes: _Changes) -> None:
        super().__init__(documents)
        self.changes = changes

    def __setitem__(self, doc_id: str, document: Document) -> None:
        self.changes.set(doc_id, document, existed=doc_id in self)
        super().__setitem__(doc_id, document)

    def __delitem__(self, doc_id: str) -> None:
        super().__delitem__(doc_id)
        self.changes.delete(doc_id)

    def clear(self) -> None:
        super().clear()
        self.changes.clear()

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("change the store's documents through its methods, not its storage dict")

    pop = popitem = setdefault = update = __ior__ = _unsupported  # type: ignore[assignment]


@dataclass
class _IndexState:
    """What the instances of one index share inside a process (every pipeline deserializes its own store)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    loaded: bool = False
    snapshot: StoreSearchIndex | None = None  # the version served to readers
    stamp: Stamp | None = None  # the file version it came from (or was written as)
    depth: int = 0  # nesting of open transactions (owned by the thread holding `lock`)
    writer: int | None = None  # the thread running the open transaction
    live: _TrackedStorage | None = None  # the open transaction's storage
    problems: list[str] = field(default_factory=list)
    watcher: threading.Thread | None = None

    @property
    def version(self) -> int:
        return self.snapshot.version if self.snapshot is not None else 0


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
    Haystack's in-memory store, persisted to an SQLite file and made safe and fast for serving processes.

    - **Persistence** (`stores/inmemory/index_file.py`): each change is saved as its own rows in one SQLite
      transaction (durable before it is served), with a version number; a crash mid-write is rolled back
      by SQLite at the next open. An unreadable file found at start is moved aside
      (`<name>.corrupt-<time>`, kept) and reported in `problems`. A JSON index of the format before
      (`<name>.json`) is imported once.
    - **One writer, many readers across processes**: a change takes the file's writer lock, first catches
      up with versions another process wrote meanwhile (no lost writes), then changes, saves and only then
      publishes: if saving fails (disk full) nothing changes and `IndexNotSavedError` is raised. Every
      process polls the file's version (`PRESSQA_RELOAD_POLL_SECONDS`, 0.25 s) and, in a background
      thread, reads only the rows of the versions it has not seen and makes its next search index from
      the one it serves: searches never wait for it, and it costs what changed, not the index.
    - **Transactions**: `with store.transaction(): ...` groups changes into one saved, published
      version (e.g. write a release's new chunks and delete its old ones): readers and a crash see
      all of it or nothing.
    - **One change hook** (`transaction`): `write_documents`, `delete_documents`, `delete_all_documents`,
      `delete_by_filter` and `update_by_filter` (and their `*_async` forms, which call them) each run as
      a transaction on a working copy of the served version's storage dict (pointers only), made by
      Haystack's own methods; the copy records what they did, and only that is saved and applied to the
      search index. `update_by_filter` replaces the matching documents by updated copies instead of
      changing them in place, so the served version stays as it was until the new one is published.
    - **Reads** work on the immutable search index of the version served
      (`stores/inmemory/store_search_index.py`), so searches are answered, consistently, while indexing runs:
      BM25L on an inverted index, embedding retrieval on a matrix, filters on columns, with the same scores,
      order and matches as the parent (`tests/stores/inmemory/`). `storage` is that version too (read-only)
      for every thread but the one making a change, so the parent's metadata helpers (`get_metadata_*`,
      `count_*_by_filter`) read it. Vectors are held once, in the matrix, and put back on the documents
      returned when `return_embedding` asks for them.

    Conformance: Haystack's own `DocumentStoreBaseExtendedTests` and metadata mixins pass
    (`tests/stores/inmemory/test_store_conformance.py`), each followed by a reload from the file that must match memory.
    Why not Haystack's own store: see the module docstring.

    A relative `persist_path` is resolved against `PRESSQA_DATA_DIR` (default `data`), so YAML names the
    file and the deployment chooses the folder.

    ```python
    store = PersistentInMemoryDocumentStore(index="press-releases", persist_path="index/press-releases.sqlite")
    with store.transaction():
        store.write_documents(new_chunks, policy=DuplicatePolicy.OVERWRITE)
        store.delete_documents(old_ids)
    ```
    """

    def __init__(self, persist_path: str | None = None, **kwargs: Any) -> None:
        """
        :param persist_path: SQLite file holding the index; `None` keeps it in memory only.
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
                state.snapshot = StoreSearchIndex.build([], self._stats)
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

    def size_on_disk(self) -> int | None:
        """Bytes the index takes on disk (file and write-ahead log), None when it is not persisted."""
        return self._file.size_on_disk() if self._file is not None else None

    def to_dict(self) -> dict[str, Any]:
        """Serialize the store, persist_path included."""
        data = super().to_dict()
        return default_to_dict(self, persist_path=self.persist_path, **data["init_parameters"])

    # --- persistence -------------------------------------------------------------------------------

    def _stats(self, document: Document) -> BM25DocumentStats | None:
        """A document's BM25 statistics: those Haystack's `write_documents` just made for it in this
        transaction, else made the same way (the store's tokenizer)."""
        made = self._bm25_attr.get(document.id) if self._state.live is not None else None
        return made if made is not None else tokenizing_stats(self._tokenize_bm25)(document)

    def _open_file(self) -> None:
        """First use in this process: import a JSON index of the format before, load the file or move it aside."""
        assert self._file is not None
        with self._file.writer_lock():
            legacy = self._file.legacy_json()
            if not self._file.exists() and legacy.exists():
                self._import_legacy(legacy)
            try:
                if self._file.exists():
                    self._file.check()
                stored = self._file.read()
            except CorruptIndexFileError as error:
                aside = self._file.quarantine()
                message = f"{error}. Moved it aside to {aside} (kept); starting from an empty index."
                self._state.problems.append(message)
                logger.error("INDEX FILE UNREADABLE: {detail}", detail=message)
                stored = None
            if stored is not None:
                self._publish(StoreSearchIndex.build(stored.documents, self._stats, stored.version), stored.stamp)
                logger.info("Loaded {n} documents (version {v}) from {path}", n=len(stored.documents), v=stored.version, path=str(self._file.path))

    def _import_legacy(self, legacy: Path) -> None:
        assert self._file is not None
        try:
            version, documents = read_legacy_json(legacy)
        except CorruptIndexFileError as error:
            self._state.problems.append(f"{error}; not imported (kept)")
            logger.error("INDEX FILE UNREADABLE: {detail}", detail=str(error))
            return
        self._file.write_whole(self.index, version, [stored_document(d) for d in documents])
        logger.info("Imported {n} documents (version {v}) from {legacy} into {path}; the JSON file is kept, unused",
                    n=len(documents), v=version, legacy=str(legacy), path=str(self._file.path))

    def _next_snapshot(self, base: StoreSearchIndex, stored: StoredChanges) -> StoreSearchIndex:
        """`base` with the changes another process saved (`stored`) applied."""
        inserted, replaced = [], []
        for written in stored.written:
            doc_id = written.document.id
            if doc_id in stored.deleted or doc_id not in base.row_of:
                inserted.append(written)
            else:
                replaced.append(written.document)
        return base.apply(stored.deleted, inserted, replaced, self._stats, stored.version)

    def _load_newer(self, base: StoreSearchIndex, base_stamp: Stamp | None) -> tuple[StoreSearchIndex, Stamp] | None:
        """The version the file holds, made from `base` when the file can say what changed since, else read
        whole; None when the file holds `base_stamp` (or nothing)."""
        assert self._file is not None
        delta = self._file.changes_since(base_stamp) if base_stamp is not None else None
        if delta is not None:
            return None if delta.stamp == base_stamp else (self._next_snapshot(base, delta), delta.stamp)
        stored = self._file.read()
        if stored is None or stored.stamp == base_stamp:
            return None
        return StoreSearchIndex.build(stored.documents, self._stats, stored.version), stored.stamp

    def _publish(self, snapshot: StoreSearchIndex, stamp: Stamp | None) -> None:
        state = self._state
        state.snapshot, state.stamp = snapshot, stamp
        for listener in _PUBLISH_LISTENERS:
            try:
                listener(self.index, snapshot.version)
            except Exception:  # a listener never breaks a write
                logger.exception("Index publish listener failed")

    def _catch_up(self) -> None:
        """Under the writer lock: serve the version another process wrote, if this one does not yet."""
        assert self._file is not None
        state = self._state
        newer = self._load_newer(state.snapshot, state.stamp)  # unreadable = raise: no change on a stale base
        if newer is not None:
            self._publish(*newer)

    def _watch(self) -> None:
        """Background catch-up: poll the file's version; make the next version off-lock, then swap it in."""
        assert self._file is not None
        state = self._state
        looked_at: Stamp | None = None  # each file version is tried once (also one that fails to load)
        while _STATES.get(self.index) is state:  # ends when the index is forgotten (tests)
            time.sleep(RELOAD_POLL_SECONDS)
            try:
                stamp = self._file.stamp()
                if stamp in (state.stamp, None, looked_at):
                    continue
                looked_at = stamp
                base, base_stamp = state.snapshot, state.stamp
                newer = self._load_newer(base, base_stamp)
                if newer is None:
                    continue
                with state.lock:
                    if state.snapshot is base and state.depth == 0:
                        self._publish(*newer)
                        logger.info("Reloaded index {index} version {v} ({n} documents)", index=self.index, v=newer[0].version, n=len(newer[0].row_of))
                    else:
                        looked_at = None  # this process changed it meanwhile: look again
            except Exception as error:  # keep serving the version loaded; a writer's next version is tried
                logger.error("Reloading {path} failed, still serving version {v}: {error}", path=str(self._file.path), v=state.version, error=repr(error))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group changes into one version: saved and published together when the outermost block ends.

        On any error (including `IndexNotSavedError` when the disk is full) nothing is published or saved:
        the served version stays, and the next change starts from it.
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
                    try:
                        self._catch_up()
                    except sqlite3.OperationalError as error:  # e.g. the log cannot grow on a full disk
                        raise not_saved(self._file.path, error) from error
                base = state.snapshot
                changes = _Changes(base)
                state.live = _TrackedStorage({d.id: d for d in base.documents}, changes)
                state.depth, state.writer = 1, threading.get_ident()
                try:
                    yield
                    stored = changes.as_stored()
                    version = base.version + 1
                    snapshot = base.apply(stored.deleted, stored.inserted, stored.replaced, self._stats, version, cleared=stored.cleared)
                    stamp = self._file.write(self.index, version, stored) if self._file else None
                finally:
                    state.depth, state.writer, state.live = 0, None, None
                    for scratch in (self._bm25_attr, self._freq_vocab_for_idf):  # Haystack's statistics of this
                        scratch.clear()  # change were read into the search index; they are not kept twice
                    self._avg_doc_len = 0.0
                # Published only once saved: readers never see a version a restart would not have.
                self._publish(snapshot, stamp)

    def _changing(self, change: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The one change hook: every mutator runs `change` (Haystack's own, on the transaction's storage) as
        (part of) a transaction, so memory and the file change together, as one new version, or not at all."""
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
        self._changing(lambda: self.storage.clear())

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """Delete the documents matching `filters` and persist the index."""
        return self._changing(self._delete_matching, filters)

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """Merge `meta` into the meta of the documents matching `filters` and persist the index."""
        return self._changing(self._update_meta, filters, meta)

    def _matching(self, filters: dict[str, Any]) -> list[Document]:
        """The documents of the transaction's storage matching `filters`: on the filter columns of the served
        version while the transaction has changed nothing yet, else Haystack's scan of its storage."""
        self._validate_filters(filters)
        live = self._state.live
        if live is not None and live.changes.touched():
            return [doc for doc in live.values()
                    if document_matches_filter(filters=filters, document=doc, strict_datetime_comparison=self.strict_datetime_comparison)]
        snapshot = self._snapshot()
        return [snapshot.rows[r] for r in snapshot.filter_rows(filters, self.strict_datetime_comparison)]  # type: ignore[misc]

    def _delete_matching(self, filters: dict[str, Any]) -> int:
        """`InMemoryDocumentStore.delete_by_filter`, with the matches found on the filter columns."""
        ids = [doc.id for doc in self._matching(filters)]
        InMemoryDocumentStore.delete_documents(self, ids)
        return len(ids)

    def _update_meta(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """`InMemoryDocumentStore.update_by_filter`, on copies: Haystack's changes each matching document's
        meta in place, and those document objects are also the version readers are served, so readers
        would see an unsaved change and a failed save would keep it."""
        matching = self._matching(filters)
        for doc in matching:
            self.storage[doc.id] = replace(doc, meta={**doc.meta, **meta})  # content unchanged: BM25 stats stay
        return len(matching)

    # --- reads: on the immutable search index of the version served (stores/inmemory/store_search_index.py) ---

    def _snapshot(self) -> StoreSearchIndex:
        snapshot = self._state.snapshot
        assert snapshot is not None
        return snapshot

    @property
    def storage(self) -> Mapping[str, Document]:
        """The documents by id, of the version served (read-only, without vectors); inside a change, for the
        thread making it, the transaction's storage. So the parent's read helpers (`get_metadata_*`, ...) see
        one whole version, as every search does, never a change half made."""
        state = self._state
        if state.writer == threading.get_ident() and state.live is not None:
            return state.live
        return self._snapshot().by_id

    def count_documents(self) -> int:
        """Number of documents in the index."""
        return len(self._snapshot().row_of)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """Documents matching `filters` (all documents without filters)."""
        self._validate_filters(filters)
        return self._snapshot().filter_documents(filters, self.strict_datetime_comparison, self.return_embedding)

    def count_documents_by_filter(self, filters: dict[str, Any]) -> int:
        """Number of documents matching `filters`, in the version served."""
        self._validate_filters(filters)
        return len(self._snapshot().filter_rows(filters, self.strict_datetime_comparison))

    def meta_value_counts(self, fields: list[str]) -> dict[tuple[Any, ...], int]:
        """How many documents hold each combination of values of these meta fields (None where missing), e.g.
        chunks per (file_path, title): what /releases and the start-up corpus difference need, without
        reading every document. Kept up to date by each change (costs what changed)."""
        return self._snapshot().meta_value_counts(tuple(fields))

    def get_metadata_field_min_max(self, metadata_field: str) -> dict[str, Any]:
        """Smallest and largest value of a metadata field (Haystack's semantics): from the field's column
        when all its values are integers, else Haystack's own scan."""
        key = metadata_field.removeprefix("meta.")
        if "." not in key:
            snapshot = self._snapshot()
            found = snapshot.columns.min_max(f"meta.{key}", snapshot.alive)
            if found is not None:
                return found
        return super().get_metadata_field_min_max(metadata_field)

    def bm25_retrieval(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        """BM25L retrieval on the inverted index; same scores and order as `InMemoryDocumentStore` with BM25L."""
        if self.bm25_algorithm != "BM25L":
            return self._haystack_copy().bm25_retrieval(query, filters=filters, top_k=top_k, scale_score=scale_score)
        if not query:
            raise ValueError("Query should be a non-empty string")
        if filters and "operator" not in filters:
            raise ValueError("Invalid filter syntax. See https://docs.haystack.deepset.ai/docs/metadata-filtering for details.")
        return self._snapshot().bm25_retrieval(
            self._tokenize_bm25(query), filters=filters, top_k=top_k, scale_score=scale_score,
            return_embedding=self.return_embedding, bm25_parameters=self.bm25_parameters,
            strict_datetime_comparison=self.strict_datetime_comparison,
        )

    def _haystack_copy(self) -> InMemoryDocumentStore:
        """Haystack's own store holding the served version (for BM25Okapi/BM25Plus, which only it scores)."""
        copy = InMemoryDocumentStore(bm25_tokenization_regex=self.bm25_tokenization_regex, bm25_algorithm=self.bm25_algorithm,
                                     bm25_parameters=self.bm25_parameters, shared=False, return_embedding=self.return_embedding,
                                     embedding_similarity_function=self.embedding_similarity_function)
        snapshot = self._snapshot()
        copy.write_documents([snapshot.document(r) for r in snapshot.filter_rows(None)])
        return copy

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
