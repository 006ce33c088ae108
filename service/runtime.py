"""The services one process shares: the Hayhooks wrappers and the page's routes use the same instances."""

import logging
import os
import threading
from functools import cache
from pathlib import Path

from haystack.document_stores.types import DocumentStore

from service.answering import Answerer
from service.indexing import Indexer
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
    """PRESS_RELEASES_DIR (default `data/press-releases/`), the folder indexed at start when the index is empty."""
    return Path(os.environ.get("PRESS_RELEASES_DIR") or REPO_ROOT / "data" / "press-releases")


def index_corpus_if_empty() -> threading.Thread | None:
    """Start indexing `corpus_dir()` in the background when the store is empty; searches work meanwhile.

    PRESSQA_INDEX_AT_START=0 turns this off (service replicas of a shared store leave indexing to one job).
    """
    folder = corpus_dir()
    if os.environ.get("PRESSQA_INDEX_AT_START", "1") == "0" or document_store().count_documents() > 0:
        return None
    if not any(folder.glob("*.txt")):
        logger.warning("The index is empty and %s holds no .txt files: nothing to index at start.", folder)
        return None

    def run() -> None:
        try:
            indexer().index_folder(folder)
        except Exception:
            logger.exception("Indexing %s at start failed", folder)

    thread = threading.Thread(target=run, name="initial-indexing", daemon=True)
    thread.start()
    return thread
