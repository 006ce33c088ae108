"""Indexing: index.yml over files or posted texts, one batch at a time, and at start what the corpus folder
holds that the index does not (missing or changed releases, found by a content hash in the chunks' meta)."""

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from haystack.dataclasses import ByteStream
from haystack.document_stores.types import DocumentStore

from kit.loader import REPO_ROOT, load_pipeline
from stores.inmemory.index_file import IndexNotSavedError

from . import workers
from .releases import meta_counts

logger = logging.getLogger(__name__)

# Chunk meta naming the SHA-256 of the release text it came from: start-up indexing compares it with
# the files on disk to find releases missing or changed (e.g. after a kill mid-indexing).
CONTENT_HASH_FIELD = "content_sha256"
# Why a release that reached no chunk was not indexed (index.yml's writer reports only what it wrote).
REJECTED_EMPTY = ("no text is left after cleaning (only whitespace, invisible characters or text the cleaner removes, "
                  "such as the cookie-banner sentence); nothing of it was indexed, and an indexed version is kept")
# The label of start-up indexing in the status (the folder's absolute path is the operator's, not the reply's).
STARTUP_SOURCE = "corpus folder (start-up)"


# A store without a version (a search cluster) is read whole to know what it holds: /health does that at most
# this often, so a health check every second does not scan the cluster every second.
_CLUSTER_SCAN_SECONDS = 30.0


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def corpus_dir() -> Path:
    """PRESS_RELEASES_DIR (default `data/press-releases/`), the folder indexed at start."""
    return Path(os.environ.get("PRESS_RELEASES_DIR") or REPO_ROOT / "data" / "press-releases")


@dataclass
class IndexingStatus:
    """Progress of the running (or last) indexing job, as the readiness view reports it; `releases` says per
    release what happened (the index routes' reply)."""

    running: bool = False
    files_done: int = 0
    files_total: int = 0
    files_rejected: int = 0
    chunks_written: int = 0
    chunks_removed: int = 0
    error: str | None = None
    seconds: float = 0.0
    source: str = ""
    releases: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        """The progress as a JSON-ready dict (without the per-release list: a job may hold 500)."""
        return {k: v for k, v in asdict(self).items() if k != "releases"}

    def record(self, sent: list[str], outcomes: dict[str, str]) -> None:
        """One batch's outcome per release: the writer's (`added`, `unchanged`, `replaced`), or `rejected` for a
        release that reached no chunk."""
        for name in sent:
            outcome = outcomes.get(name)
            self.releases.append({"release": name, "result": outcome} if outcome else
                                 {"release": name, "result": "rejected", "reason": REJECTED_EMPTY})
            self.files_rejected += outcome is None


@contextmanager
def _all_cores() -> Iterator[None]:
    """Embed a batch of chunks with every core; queries (one text each) use one thread per request."""
    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class Indexer:
    """Indexes releases through the YAML pipeline; concurrent requests are serialized, never interleaved."""

    batch_size: int = 32
    status: IndexingStatus = field(default_factory=IndexingStatus)

    def __post_init__(self) -> None:
        self.pipeline = load_pipeline("index", "index")
        self.pipeline.warm_up()
        self._lock = threading.Lock()
        self._disk_hashes: dict[Path, tuple[tuple[int, int], str]] = {}
        self._indexed: dict = {}

    def index(
        self, sources: Sequence[Path | ByteStream], label: str = "", on_batch: Callable[[int], None] | None = None
    ) -> IndexingStatus:
        """Index `sources` (text files or ByteStreams with meta `file_path`); returns the finished status.

        :param on_batch: Called with the number of files of each finished batch (for progress bars).
        """
        with self._lock, workers.indexing_job(), _all_cores():
            self.status = IndexingStatus(running=True, files_total=len(sources), source=label)
            workers.share_indexing_status(self.status.as_json())
            started = time.perf_counter()
            try:
                for start in range(0, len(sources), self.batch_size):
                    batch = [self.with_hash(s) for s in sources[start : start + self.batch_size]]
                    try:
                        result = self.pipeline.run(sources=batch)
                    except Exception as error:
                        raise _not_saved(error) or error
                    self.status.chunks_written += result["documents_written"]
                    self.status.chunks_removed += result["documents_removed"]
                    self.status.record([b.meta["file_path"] for b in batch], result.get("releases") or {})
                    self.status.files_done += len(batch)
                    workers.share_indexing_status(self.status.as_json())
                    if on_batch:
                        on_batch(len(batch))
            except Exception as error:
                self.status.error = without_paths(f"{type(error).__name__}: {error}")
                raise
            finally:
                # running until every worker serves the result: a client that waits for `running` to end
                # (/health) then finds it everywhere
                self.wait_until_served()
                self.status.running = False
                self.status.seconds = round(time.perf_counter() - started, 2)
                workers.share_indexing_status(self.status.as_json())
            return self.status

    @property
    def document_store(self) -> DocumentStore:
        """The store index.yml's `writer` writes to (the store profile sets it)."""
        return self.pipeline.pipeline.get_component("writer").document_store

    def wait_until_served(self) -> bool:
        """Return once every worker serves what this job wrote (bounded), so a reply means visible everywhere."""
        store = self.document_store
        version = getattr(store, "version", None)
        return version is None or workers.wait_until_served(store.index, version)

    @staticmethod
    def with_hash(source: Path | ByteStream) -> ByteStream:
        """The source as a ByteStream whose meta carries the text's hash (chunks inherit it, so it is part of
        their ids: run index.yml on these, as the indexer does, to get the same chunks)."""
        if isinstance(source, ByteStream):
            data, meta = source.data, dict(source.meta)
        else:
            data, meta = Path(source).read_bytes(), {"file_path": Path(source).name}
        return ByteStream(data=data, meta={**meta, CONTENT_HASH_FIELD: content_hash(data)})

    @staticmethod
    def texts_to_sources(texts: Sequence[tuple[str, str]]) -> list[ByteStream]:
        """(name, content) pairs as ByteStreams whose meta names the release like a file would."""
        return [ByteStream.from_string(content, meta={"file_path": name}) for name, content in texts]

    # What the index holds against what the corpus folder holds (start-up indexing and /health).

    def _hash_on_disk(self, path: Path) -> str:
        """The file's content hash, recomputed only when its size or mtime changed (/health calls this)."""
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        cached = self._disk_hashes.get(path)
        if cached is None or cached[0] != key:
            cached = (key, content_hash(path.read_bytes()))
            self._disk_hashes[path] = cached
        return cached[1]

    def _indexed_hashes(self, max_age: float = 0.0) -> dict[str, set]:
        """Release name -> content hashes of its chunks, recomputed when the index version changes (or, for a
        store without versions, when the last scan is older than `max_age` seconds)."""
        store = self.document_store
        version = getattr(store, "version", None)
        stale = time.monotonic() - self._indexed.get("at", float("-inf")) >= max_age
        if (version is None and stale) or self._indexed.get("version") != version:
            indexed: dict[str, set] = {}
            for (name, digest), _ in meta_counts(store, ["file_path", CONTENT_HASH_FIELD]):
                if name is not None:
                    indexed.setdefault(name, set()).add(digest)
            self._indexed = {"version": version, "indexed": indexed, "at": time.monotonic()}
        return self._indexed["indexed"]

    def corpus_difference(self, folder: Path | None = None, max_age: float = 0.0) -> tuple[list[Path], list[Path]]:
        """(missing, changed): files of the corpus folder not in the index, and those whose text differs from
        what was indexed (a release with chunks of several texts, e.g. after a crash, counts as changed)."""
        folder = folder or corpus_dir()
        indexed = self._indexed_hashes(max_age)
        missing, changed = [], []
        for path in sorted(folder.glob("*.txt")):
            hashes = indexed.get(path.name)
            if hashes is None:
                missing.append(path)
            elif hashes != {self._hash_on_disk(path)}:
                changed.append(path)
        return missing, changed

    def completeness(self) -> dict:
        """For /health: is every release of the corpus folder indexed as it is on disk?"""
        folder = corpus_dir()
        missing, changed = self.corpus_difference(folder, max_age=_CLUSTER_SCAN_SECONDS)
        return {"complete": not missing and not changed, "missing": len(missing), "changed": len(changed)}

    def index_corpus_at_start(self) -> threading.Thread | None:
        """Index, in the background, what is missing or changed in `corpus_dir()`; searches work meanwhile.

        One worker at a time, holding the start-up claim (workers.py); the others wait for it and check again,
        so that a worker that died mid-indexing is taken over (by a survivor or its respawned successor).
        Idempotent: after a kill mid-indexing the next holder resumes with the releases not yet indexed.
        PRESSQA_INDEX_AT_START=0 turns this off (service replicas of a shared store leave indexing to one job).
        """
        folder = corpus_dir()
        if os.environ.get("PRESSQA_INDEX_AT_START", "1") == "0":
            return None
        if not any(folder.glob("*.txt")):
            if self.document_store.count_documents() == 0:
                logger.warning("The index is empty and %s holds no .txt files: nothing to index at start.", folder)
            return None
        thread = threading.Thread(target=self._index_corpus_when_claimed, args=(folder,), name="initial-indexing",
                                  daemon=True)
        thread.start()
        return thread

    def _index_corpus_when_claimed(self, folder: Path) -> None:
        try:
            with workers.startup_indexing_claim():
                missing, changed = self.corpus_difference(folder)
                if not missing and not changed:
                    logger.info("The index holds every release of %s as it is on disk: nothing to index at start.", folder)
                    return
                logger.info("Indexing at start: %d releases missing, %d changed in %s", len(missing), len(changed), folder)
                status = self.index(sorted(missing + changed), label=STARTUP_SOURCE)
        except Exception:
            logger.exception("Indexing %s at start failed", folder)
            return
        for rejected in (r for r in status.releases if r["result"] == "rejected"):
            logger.warning("Not indexed at start: %s: %s.", rejected["release"], rejected["reason"])


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/-])/[^\s'\",:;)\]]+")


def without_paths(text: str) -> str:
    """`text` with every absolute path replaced by its last part ("[Errno 28] … '/srv/data/index/.x.tmp'" →
    "… '.x.tmp'"): an error shown to readers names no folder of the server."""
    return _ABSOLUTE_PATH.sub(lambda found: found.group(0).rstrip("/").rsplit("/", 1)[-1] or "/", text)


def _not_saved(error: BaseException) -> IndexNotSavedError | None:
    """The IndexNotSavedError behind a pipeline error (Haystack wraps component errors), if any."""
    seen = error
    while seen is not None:
        if isinstance(seen, IndexNotSavedError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
