"""The file an embedded index persists to: atomic versioned writes, a cross-process writer lock, recovery.

Kept apart from the change logic (`persistent_store.py`) and the search structures
(`store_search_index.py`) (issue #11: persistence separate from the search index), so another storage
format or place can replace it without touching retrieval.

Why not Haystack's `InMemoryDocumentStore.save_to_disk`/`load_from_disk`: it writes the file in place
(a crash mid-write leaves a truncated file that `load_from_disk` cannot read), has no version to tell a
newer file from the one loaded, and no lock between two processes writing it.
"""

import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Identity of one written version of the file: every write renames a new inode into place.
Stamp = tuple[int, int, int]


class CorruptIndexFileError(Exception):
    """The index file exists but cannot be read as an index (truncated, not JSON, wrong shape)."""


class IndexNotSavedError(OSError):
    """Writing the index file failed (e.g. disk full); the index on disk and in memory is unchanged."""


@dataclass(frozen=True)
class StoredIndex:
    version: int
    documents: list[dict[str, Any]]
    stamp: Stamp


class IndexFile:
    """
    One JSON index file: `{"index", "version", "documents"}`.

    - `write()` goes to a temporary file in the same folder, is fsynced and renamed over the file (and
      the folder fsynced), so readers and a crash see the old or the new version, never a mix.
    - `writer_lock()` is an exclusive `flock` on the folder: one writer at a time across processes
      (service workers, `pressqa-index`); the kernel releases it when a holder dies, even by kill -9.
    - `stamp()` is cheap (one `stat`), so readers can poll for a new version.
    - A file that cannot be read is moved aside by `quarantine()` (kept, never deleted), and temporary
      files a killed writer left are removed by `remove_stale_temporary_files()` (under the lock).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def stamp(self) -> Stamp | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> StoredIndex | None:
        """The stored index, or None when there is no file. Raises CorruptIndexFileError."""
        try:
            with self.path.open("rb") as f:
                st = os.fstat(f.fileno())
                raw = f.read()
        except FileNotFoundError:
            return None
        try:
            stored = json.loads(raw.decode("utf-8"))
            documents = stored["documents"]
            if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
                raise TypeError("'documents' is not a list of objects")
            version = int(stored.get("version", 0))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CorruptIndexFileError(f"{self.path} is not a readable index ({len(raw)} bytes): {type(error).__name__}: {error}") from error
        return StoredIndex(version=version, documents=documents, stamp=(st.st_ino, st.st_mtime_ns, st.st_size))

    def write(self, index: str, version: int, documents: list[dict[str, Any]]) -> Stamp:
        """Replace the file atomically; raises IndexNotSavedError (file unchanged, no temporary file left)."""
        payload = {"index": index, "version": version, "documents": documents}
        tmp_name = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(payload, f)
                f.flush()
                os.fsync(f.fileno())
                st = os.fstat(f.fileno())
            os.replace(tmp_name, self.path)
            tmp_name = None
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself survives a power loss
            finally:
                os.close(dir_fd)
        except OSError as error:
            reason = "the disk is full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else f"{type(error).__name__}: {error}"
            raise IndexNotSavedError(error.errno, f"The index could not be saved to {self.path}: {reason}") from error
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def temporary_files(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{self.path.name}*.tmp"))

    def remove_stale_temporary_files(self) -> list[Path]:
        """Remove what an interrupted write left; call under `writer_lock()` (no write is in progress then)."""
        removed = []
        for tmp in self.temporary_files():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        return removed

    def quarantine(self) -> Path:
        """Move the unreadable file aside, next to it, as `<name>.corrupt-<UTC time>`; returns the new path."""
        target = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        os.replace(self.path, target)
        return target

    def quarantined(self) -> list[Path]:
        """Files moved aside so far (kept until an operator removes them)."""
        return sorted(self.path.parent.glob(f"{self.path.name}.corrupt-*"))
