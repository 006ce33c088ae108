"""The file an embedded index persists to: an SQLite database written one change at a time, a cross-process
writer lock, recovery.

Kept apart from the change logic (`persistent_store.py`) and the search structures (`store_search_index.py`)
(issue #11), so another storage format can replace it without touching retrieval.

Why SQLite (issue #23, measured by `scripts/benchmarks/persistence_formats.py` against a JSON file rewritten
whole, an append-only log and segment files): the JSON file that preceded it was rewritten whole after
every change, so adding one release to a 16x index wrote ~140 MB; here a change writes only its own rows
in one transaction (atomic and durable: write-ahead log, `synchronous=FULL`), another process reads only
the rows of the versions it has not seen, and a kill -9, a full disk or a torn page are SQLite's to
recover from (a crash rolls an unfinished transaction back at the next open). It is in Python's standard
library: no dependency, no server.

Layout (`info` holds `format`, `index`, `generation`, `version`, `deletions_from`):
- `documents(seq, id, version, body, embedding)`: one row per document, `seq` its place in the storage
  order (a rewritten document gets a new `seq`: Haystack moves an overwritten document to the end),
  `version` the version that last wrote it, `body` the document as JSON without its dense vector,
  `embedding` the vector as float64 bytes (exact, a third of its JSON text).
- `deletions(id, version)`: which document a version removed, so a reader can catch up from its version
  without reading everything; kept for the last `KEEP_DELETIONS_FOR` versions (older readers reload whole).

Why not Haystack's `InMemoryDocumentStore.save_to_disk`/`load_from_disk`: it writes the whole file in place
(a crash mid-write leaves a truncated file), has no version, and no lock between two writing processes.
"""

import errno
import fcntl
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from haystack import Document

FORMAT = "pressqa-index/2"
# The write-ahead log is cut back to this after a checkpoint (it would otherwise keep its largest size).
WAL_SIZE_LIMIT = 16 * 2**20
# Deletions older than this many versions are forgotten: a reader further behind loads the index whole.
KEEP_DELETIONS_FOR = 1000

# This process's open connections, by (pid, path): (connection, its lock, the inode it opened).
_CONNECTIONS: dict[tuple[int, str], tuple[sqlite3.Connection, threading.Lock, int]] = {}
_CONNECTIONS_LOCK = threading.Lock()

# Identity of one version of the file: (generation, version). A new file (or one moved aside and made
# again) has a new generation, so a version number alone is never taken for another file's.
Stamp = tuple[str, int]


class CorruptIndexFileError(Exception):
    """The index file exists but cannot be read as an index (truncated, not SQLite, wrong shape)."""


class IndexNotSavedError(OSError):
    """Writing the index file failed (e.g. disk full); the index on disk and in memory is unchanged."""


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored: without its dense vector, which comes apart (float64), or None."""

    document: Document
    embedding: np.ndarray | None


@dataclass(frozen=True)
class StoredIndex:
    """The whole index of one version, in storage order."""

    version: int
    stamp: Stamp
    documents: list[StoredDocument]

    def haystack_documents(self) -> list[Document]:
        """The documents with their vectors as lists, as Haystack's store holds them."""
        return [_with_embedding(d) for d in self.documents]


@dataclass(frozen=True)
class Changes:
    """One version's changes: what is gone, what was written (appended, in order), what changed in place."""

    deleted: frozenset[str] = frozenset()
    inserted: tuple[StoredDocument, ...] = ()
    replaced: tuple[Document, ...] = ()  # meta changed, same place, same content and vector
    cleared: bool = False  # every document of the version before is gone

    def __bool__(self) -> bool:
        return bool(self.deleted or self.inserted or self.replaced or self.cleared)


@dataclass(frozen=True)
class StoredChanges:
    """What changed after a version: ids removed, and the rows written since, in storage order. A written
    document that a reader still serves and that is not among `deleted` changed in place; any other one
    is appended (a rewritten document moves to the end, as in Haystack's store)."""

    version: int
    stamp: Stamp
    deleted: frozenset[str] = frozenset()
    written: tuple[StoredDocument, ...] = ()


def _with_embedding(stored: StoredDocument) -> Document:
    doc = stored.document
    return doc if stored.embedding is None else replace(doc, embedding=stored.embedding.tolist())


def _body(document: Document) -> str:
    data = document.to_dict(flatten=False)
    data.pop("embedding", None)
    return json.dumps(data, ensure_ascii=False)


def _document(body: str) -> Document:
    return Document.from_dict(json.loads(body))


def _vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float64)


def stored_document(document: Document) -> StoredDocument:
    """`document` split into its stored form (the vector as float64; exact for Python floats)."""
    if document.embedding is None:
        return StoredDocument(document, None)
    return StoredDocument(replace(document, embedding=None), np.asarray(document.embedding, dtype=np.float64))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS documents_by_version ON documents(version);
CREATE TABLE IF NOT EXISTS deletions (id TEXT NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deletions_by_version ON deletions(version);
"""


class IndexFile:
    """
    One SQLite index file.

    - `write()` saves one version's changes in one transaction; `synchronous=FULL` makes it durable before
      it returns, so a version is published (searchable) only once a restart would have it too.
    - `writer_lock()` is an exclusive `flock` on the folder: one writer at a time across processes
      (service workers, `pressqa-index`), held for a whole change (catch up, change, save); the kernel
      releases it when a holder dies, even by kill -9.
    - `stamp()` is one small query, so readers can poll for a new version; `changes_since()` reads only
      what changed after a version.
    - A file that cannot be read is moved aside by `quarantine()` (kept, never deleted). A JSON index of
      the format before (`<name>.json` next to it) is imported once when the file does not exist yet.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    # --- connections ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        return connection

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This process's connection to the file, one thread at a time. Kept open: the write-ahead log and its
        shared memory then stay while the process serves, so reading needs no new file (also on a full disk)."""
        key = (os.getpid(), str(self.path))  # a forked process opens its own
        with _CONNECTIONS_LOCK:
            entry = _CONNECTIONS.get(key)
            try:
                inode = self.path.stat().st_ino
            except FileNotFoundError:
                inode = None
            if entry is not None and entry[2] != inode:  # the file was moved aside or made anew
                entry[0].close()
                entry = None
            if entry is None:
                connection = self._connect()
                entry = (connection, threading.Lock(), self.path.stat().st_ino)
                _CONNECTIONS[key] = entry
        connection, lock, _ = entry
        with lock:
            yield connection

    def close(self) -> None:
        """Close this process's connection to the file (the next use opens it again)."""
        with _CONNECTIONS_LOCK:
            entry = _CONNECTIONS.pop((os.getpid(), str(self.path)), None)
        if entry is not None:
            with entry[1]:
                entry[0].close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (one consistent version). A file SQLite cannot read as a database raises
        CorruptIndexFileError; an operational failure (locked, I/O) is raised as it is: the file may be fine."""
        try:
            with self._connection() as connection:
                connection.execute("BEGIN")
                try:
                    yield connection
                finally:
                    connection.execute("COMMIT")
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as error:
            raise CorruptIndexFileError(f"{self.path} is not a readable index: {type(error).__name__}: {error}") from error

    @staticmethod
    def _info(connection: sqlite3.Connection) -> dict[str, str]:
        """The `info` table; empty for a file with no tables yet (made by a first write that did not finish)."""
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return {}
        return dict(connection.execute("SELECT key, value FROM info").fetchall())

    def _stamp_of(self, info: dict[str, str]) -> Stamp | None:
        if not info:
            return None
        if info.get("format") != FORMAT:
            raise CorruptIndexFileError(f"{self.path} is not an index of format {FORMAT} (format {info.get('format')!r})")
        return (info["generation"], int(info["version"]))

    # --- reading -----------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def stamp(self) -> Stamp | None:
        """(generation, version) of the file, None without a file. Raises CorruptIndexFileError."""
        if not self.path.exists():
            return None
        with self._reading() as connection:
            return self._stamp_of(self._info(connection))

    def check(self) -> None:
        """Raise CorruptIndexFileError unless SQLite finds the file whole (`PRAGMA quick_check`) and an index."""
        with self._reading() as connection:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise CorruptIndexFileError(f"{self.path} is damaged: {'; '.join(problems[:3])}")
            self._stamp_of(self._info(connection))

    def read(self) -> StoredIndex | None:
        """The whole stored index, or None when there is no file. Raises CorruptIndexFileError."""
        if not self.path.exists():
            return None
        with self._reading() as connection:
            stamp = self._stamp_of(self._info(connection))
            if stamp is None:
                return None
            try:
                rows = connection.execute("SELECT body, embedding FROM documents ORDER BY seq").fetchall()
                documents = [StoredDocument(_document(body), _vector(blob)) for body, blob in rows]
            except (ValueError, KeyError, TypeError) as error:
                raise CorruptIndexFileError(f"{self.path} holds a document that cannot be read: {error}") from error
        return StoredIndex(version=stamp[1], stamp=stamp, documents=documents)

    def changes_since(self, stamp: Stamp) -> StoredChanges | None:
        """What changed after version `stamp` as one delta, or None when that cannot be told (another file,
        or deletions older than those kept): then read the index whole."""
        if not self.path.exists():
            return None
        with self._reading() as connection:
            info = self._info(connection)
            now = self._stamp_of(info)
            generation, version = stamp
            if now is None or now[0] != generation or now[1] < version or version < int(info.get("deletions_from", "0")):
                return None
            if now == stamp:
                return StoredChanges(version, now)
            deleted = frozenset(row[0] for row in connection.execute("SELECT id FROM deletions WHERE version > ?", (version,)))
            # by the version index, sorted here: with ORDER BY, SQLite may walk the whole table in `seq` order
            rows = sorted(connection.execute("SELECT seq, body, embedding FROM documents WHERE version > ?", (version,)).fetchall())
            rows = [(body, blob) for _, body, blob in rows]
            try:
                written = tuple(StoredDocument(_document(body), _vector(blob)) for body, blob in rows)
            except (ValueError, KeyError, TypeError) as error:
                raise CorruptIndexFileError(f"{self.path} holds a document that cannot be read: {error}") from error
        return StoredChanges(now[1], now, deleted, written)

    # --- writing -----------------------------------------------------------------------------------

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def write(self, index: str, version: int, changes: Changes) -> Stamp:
        """Save one version's changes in one transaction (call under `writer_lock()`); raises IndexNotSavedError
        (file unchanged) when it cannot be saved."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    stamp = self._write(connection, index, version, changes)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
        except (OSError, sqlite3.Error) as error:
            raise not_saved(self.path, error) from error
        return stamp

    def _write(self, connection: sqlite3.Connection, index: str, version: int, changes: Changes) -> Stamp:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        info = self._info(connection)
        if not info:
            info = {"format": FORMAT, "index": index, "generation": uuid.uuid4().hex, "version": "0", "deletions_from": "0"}
        elif info.get("format") != FORMAT:
            raise sqlite3.DatabaseError(f"not an index of format {FORMAT}")
        if changes.cleared:
            connection.execute("INSERT INTO deletions (id, version) SELECT id, ? FROM documents", (version,))
            connection.execute("DELETE FROM documents")
        gone = set(changes.deleted) | {d.document.id for d in changes.inserted}
        if gone:
            connection.executemany("INSERT INTO deletions (id, version) VALUES (?, ?)", ((i, version) for i in changes.deleted))
            connection.executemany("DELETE FROM documents WHERE id = ?", ((i,) for i in gone))
        connection.executemany(
            "INSERT INTO documents (id, version, body, embedding) VALUES (?, ?, ?, ?)",
            ((d.document.id, version, _body(d.document), None if d.embedding is None else d.embedding.astype(np.float64).tobytes())
             for d in changes.inserted),
        )
        connection.executemany(
            "UPDATE documents SET version = ?, body = ? WHERE id = ?", ((version, _body(d), d.id) for d in changes.replaced)
        )
        keep_from = max(0, version - KEEP_DELETIONS_FOR)
        if keep_from > int(info.get("deletions_from", "0")):
            connection.execute("DELETE FROM deletions WHERE version <= ?", (keep_from,))
            info["deletions_from"] = str(keep_from)
        info["version"] = str(version)
        connection.executemany("INSERT OR REPLACE INTO info (key, value) VALUES (?, ?)", info.items())
        return (info["generation"], version)

    def write_whole(self, index: str, version: int, documents: Iterable[StoredDocument]) -> Stamp:
        """Make the file hold exactly `documents` as `version` (an import): one transaction."""
        return self.write(index, version, Changes(cleared=True, inserted=tuple(documents)))

    # --- recovery ----------------------------------------------------------------------------------

    def _companions(self) -> list[Path]:
        return [self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]

    def quarantine(self) -> Path:
        """Move the unreadable file (and its write-ahead log) aside as `<name>.corrupt-<UTC time>`; returns it."""
        target = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        self.close()
        os.replace(self.path, target)
        for companion in self._companions():
            if companion.exists():
                if companion.name.endswith("-shm"):
                    companion.unlink()  # shared memory of the log: rebuilt from the log, nothing to keep
                else:
                    os.replace(companion, target.with_name(target.name + companion.name[len(self.path.name):]))
        return target

    def quarantined(self) -> list[Path]:
        """Files moved aside so far (kept until an operator removes them)."""
        return sorted(p for p in self.path.parent.glob(f"{self.path.name}.corrupt-*") if not p.name.endswith("-wal"))

    def copy_to(self, target: Path) -> None:
        """A consistent copy of the file (SQLite's online backup: also while a service writes it)."""
        with self._connection() as connection, sqlite3.connect(target) as copy:
            connection.backup(copy)
        copy.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file and cut it back (SQLite does this on its own as the log grows)."""
        with self._connection() as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size_on_disk(self) -> int:
        """Bytes of the file and its write-ahead log."""
        return sum(p.stat().st_size for p in (self.path, *self._companions()) if p.exists())

    def legacy_json(self) -> Path:
        """Where the index of the format before (one JSON file) would be."""
        return self.path.with_suffix(".json")


def read_legacy_json(path: Path) -> tuple[int, list[Document]]:
    """(version, documents) of a JSON index of the format before (`{"index", "version", "documents"}`)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return int(stored.get("version", 0)), [Document.from_dict(d) for d in stored["documents"]]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CorruptIndexFileError(f"{path} is not a readable JSON index: {type(error).__name__}: {error}") from error


def not_saved(path: Path, error: BaseException) -> IndexNotSavedError:
    """The IndexNotSavedError saying why a change could not be saved to `path`."""
    return IndexNotSavedError(_errno(error), f"The index could not be saved to {path}: {_reason(error)}")


def _errno(error: BaseException) -> int:
    if isinstance(error, OSError) and error.errno:
        return error.errno
    if isinstance(error, sqlite3.Error) and "full" in str(error):
        return errno.ENOSPC
    return errno.EIO


def _reason(error: BaseException) -> str:
    return "the disk is full" if _errno(error) in (errno.ENOSPC, errno.EDQUOT) else f"{type(error).__name__}: {error}"

