"""The services one process shares: the Hayhooks wrappers and the page's routes use the same instances."""

import logging
import os
import threading
import time
from functools import cache
from pathlib import Path

from haystack.document_stores.types import DocumentStore

from service.answering import Answerer
from service import workers
from service.indexing import CONTENT_HASH_FIELD, Indexer, content_hash
from service.pipelines import REPO_ROOT
from service.search import Searcher

logger = logging.getLogger(__name__)
_lock = threading.RLock()


def _once(factory):
    """A thread-safe lazily built singleton (Hayhooks may deploy the wrappers in parallel)."""
    cached = cache(factory)

    def get():
        with _lock:
            return cached()

    return get


@_once
def searcher() -> Searcher:
    return Searcher()


@_once
def answerer() -> Answerer:
    return Answerer(searcher())


@_once
def indexer() -> Indexer:
    return Indexer()


def document_store() -> DocumentStore:
    """The store the search pipeline reads (whichever component of it holds one)."""
    return next(c.document_store for _, c in searcher().pipeline.pipeline.walk() if hasattr(c, "document_store"))


def corpus_dir() -> Path:
    """PRESS_RELEASES_DIR (default `data/press-releases/`), the folder indexed at start."""
    return Path(os.environ.get("PRESS_RELEASES_DIR") or REPO_ROOT / "data" / "press-releases")


_disk_hashes: dict[Path, tuple[tuple[int, int], str]] = {}


def _hash_on_disk(path: Path) -> str:
    """The file's content hash, recomputed only when its size or mtime changed (/health calls this)."""
    st = path.stat()
    key = (st.st_mtime_ns, st.st_size)
    cached = _disk_hashes.get(path)
    if cached is None or cached[0] != key:
        cached = (key, content_hash(path.read_bytes()))
        _disk_hashes[path] = cached
    return cached[1]


_indexed_cache: dict = {}


# A store without a version (a search cluster) is read whole to know what it holds: /health does that at most
# this often, so a health check every second does not scan the cluster every second.
_CLUSTER_SCAN_SECONDS = 30.0


def _indexed_hashes(max_age: float = 0.0) -> dict[str, set]:
    """Release name -> content hashes of its chunks, recomputed when the index version changes (or, for a
    store without versions, when the last scan is older than `max_age` seconds)."""
    store = document_store()
    version = getattr(store, "version", None)
    stale = time.monotonic() - _indexed_cache.get("at", float("-inf")) >= max_age
    if (version is None and stale) or _indexed_cache.get("version") != version:
        indexed: dict[str, set] = {}
        for doc in store.filter_documents():
            name = doc.meta.get("file_path")
            if name is not None:
                indexed.setdefault(name, set()).add(doc.meta.get(CONTENT_HASH_FIELD))
        _indexed_cache.clear()
        _indexed_cache.update(version=version, indexed=indexed, at=time.monotonic())
    return _indexed_cache["indexed"]


def corpus_difference(folder: Path | None = None, max_age: float = 0.0) -> tuple[list[Path], list[Path]]:
    """(missing, changed): files of the corpus folder not in the index, and those whose text differs from
    what was indexed (a release with chunks of several texts, e.g. after a crash, counts as changed)."""
    folder = folder or corpus_dir()
    indexed = _indexed_hashes(max_age)
    missing, changed = [], []
    for path in sorted(folder.glob("*.txt")):
        hashes = indexed.get(path.name)
        if hashes is None:
            missing.append(path)
        elif hashes != {_hash_on_disk(path)}:
            changed.append(path)
    return missing, changed


def index_completeness() -> dict:
    """For /health: is every release of the corpus folder indexed as it is on disk?"""
    folder = corpus_dir()
    missing, changed = corpus_difference(folder, max_age=_CLUSTER_SCAN_SECONDS)
    return {"complete": not missing and not changed, "folder": str(folder), "missing": len(missing), "changed": len(changed)}


def index_corpus_at_start() -> threading.Thread | None:
    """Index, in the background, what is missing or changed in `corpus_dir()`; searches work meanwhile.

    Runs in one worker only. Idempotent: after a kill mid-indexing the next start resumes with the
    releases not yet indexed. PRESSQA_INDEX_AT_START=0 turns this off (service replicas of a shared
    store leave indexing to one job).
    """
    folder = corpus_dir()
    if os.environ.get("PRESSQA_INDEX_AT_START", "1") == "0":
        return None
    if not any(folder.glob("*.txt")):
        if document_store().count_documents() == 0:
            logger.warning("The index is empty and %s holds no .txt files: nothing to index at start.", folder)
        return None
    if not workers.win_startup_indexing():
        return None
    missing, changed = corpus_difference(folder)
    if not missing and not changed:
        logger.info("The index holds every release of %s as it is on disk: nothing to index at start.", folder)
        return None
    logger.info("Indexing at start: %d releases missing, %d changed in %s", len(missing), len(changed), folder)

    def run() -> None:
        try:
            indexer().index(sorted(missing + changed), label=str(folder))
        except Exception:
            logger.exception("Indexing %s at start failed", folder)

    thread = threading.Thread(target=run, name="initial-indexing", daemon=True)
    thread.start()
    return thread
