"""The ingestion service: runs pipelines/index/index.yml over files or posted texts, one batch at a time."""

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from haystack.dataclasses import ByteStream

from components.index_file import IndexNotSavedError
from service import workers
from service.pipelines import load_pipeline

# Chunk meta naming the SHA-256 of the release text it came from: start-up indexing compares it with
# the files on disk to find releases missing or changed (e.g. after a kill mid-indexing).
CONTENT_HASH_FIELD = "content_sha256"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class IndexingStatus:
    """Progress of the running (or last) indexing job, as /health reports it."""

    running: bool = False
    files_done: int = 0
    files_total: int = 0
    chunks_written: int = 0
    chunks_removed: int = 0
    error: str | None = None
    seconds: float = 0.0
    source: str = ""
    pid: int = field(default_factory=os.getpid)

    def as_json(self) -> dict:
        """The status as a JSON-ready dict."""
        return asdict(self)


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
        self.pipeline.pipeline.warm_up()
        self._lock = threading.Lock()

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
                    self.status.files_done += len(batch)
                    workers.share_indexing_status(self.status.as_json())
                    if on_batch:
                        on_batch(len(batch))
            except Exception as error:
                self.status.error = f"{type(error).__name__}: {error}"
                raise
            finally:
                self.status.running = False
                self.status.seconds = round(time.perf_counter() - started, 2)
                workers.share_indexing_status(self.status.as_json())
                self.wait_until_served()
            return self.status

    @property
    def document_store(self):
        """The store the index pipeline writes to."""
        return next(c.document_store for _, c in self.pipeline.pipeline.walk() if hasattr(c, "document_store"))

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

    def index_folder(self, folder: Path, on_batch: Callable[[int], None] | None = None) -> IndexingStatus:
        """Index every `*.txt` file of `folder`, in name order."""
        files = sorted(Path(folder).glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"No .txt files in {folder}")
        return self.index(files, label=str(folder), on_batch=on_batch)

    @staticmethod
    def texts_to_sources(texts: Sequence[tuple[str, str]]) -> list[ByteStream]:
        """(name, content) pairs as ByteStreams whose meta names the release like a file would."""
        return [ByteStream.from_string(content, meta={"file_path": name}) for name, content in texts]


def _not_saved(error: BaseException) -> IndexNotSavedError | None:
    """The IndexNotSavedError behind a pipeline error (Haystack wraps component errors), if any."""
    seen = error
    while seen is not None:
        if isinstance(seen, IndexNotSavedError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
