"""The ingestion service: runs pipelines/index/index.yml over files or posted texts, one batch at a time."""

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from haystack.dataclasses import ByteStream

from service.pipelines import load_pipeline


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
        with self._lock, _all_cores():
            self.status = IndexingStatus(running=True, files_total=len(sources), source=label)
            started = time.perf_counter()
            try:
                for start in range(0, len(sources), self.batch_size):
                    batch = list(sources[start : start + self.batch_size])
                    result = self.pipeline.run(sources=batch)
                    self.status.chunks_written += result["documents_written"]
                    self.status.chunks_removed += result["documents_removed"]
                    self.status.files_done += len(batch)
                    if on_batch:
                        on_batch(len(batch))
            except Exception as error:
                self.status.error = f"{type(error).__name__}: {error}"
                raise
            finally:
                self.status.running = False
                self.status.seconds = round(time.perf_counter() - started, 2)
            return self.status

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
