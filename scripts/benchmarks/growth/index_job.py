"""One indexing job of the growth benchmark, in its own process (the store and the environment the caller set).

    python -m scripts.benchmarks.growth.index_job index CORPUS --log LOG.jsonl
    python -m scripts.benchmarks.growth.index_job copy-from INDEX.sqlite --log LOG.jsonl
    python -m scripts.benchmarks.growth.index_job load INDEX.sqlite --log LOG.jsonl
    python -m scripts.benchmarks.growth.index_job add-one RELEASE.txt [RELEASE.txt ...] --log LOG.jsonl

`index` indexes what the corpus folder holds that the store does not (missing or changed releases, as the
service's start-up indexing finds them), in batches of 32 files in the natural order of their names, with a
progress bar; every batch appends a line to LOG (files, seconds, documents in the store), so a job killed
half-way is resumed by running it again and its time is the sum of the lines. `copy-from` writes the chunks
of an embedded index (already embedded) into the store, e.g. a cluster. `load` opens an embedded index in a fresh process (the store's part of a
worker's start: seconds, memory). `add-one` indexes each given
release into the full index through the same pipeline, one at a time, records the time of the whole run and
of its stages (embedding, the writer; for the embedded store also the file write and the search index
update), and removes the release again, so the index stays the corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm


def natural(path: Path) -> tuple[int, str]:
    return (int(path.stem), path.name) if path.stem.isdigit() else (10**9, path.name)


def _append(log: Path, record: dict[str, Any]) -> None:
    with log.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


@contextmanager
def _timed(owner: Any, name: str, into: dict[str, float]) -> Iterator[None]:
    """Add the seconds spent in `owner.name` (a function attribute) to `into[name]` while the block runs."""
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into[name] = into.get(name, 0.0) + time.perf_counter() - started

    setattr(owner, name, timed)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _indexer():
    from kit import process

    process.apply_environment_defaults()
    from kit.loader import room_module

    return room_module("index", "indexing").Indexer()


def index_corpus(corpus: Path, log: Path, batch_size: int) -> int:
    indexer = _indexer()
    from kit.timings import collect_timings

    missing, changed = indexer.corpus_difference(corpus)
    todo = sorted(missing + changed, key=natural)
    store = indexer.document_store
    print(f"{len(todo)} of {len(list(corpus.glob('*.txt')))} releases to index into {type(store).__name__}", flush=True)
    with tqdm(total=len(todo), unit="release", desc=f"Indexing {corpus.name}") as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            with collect_timings() as stages:
                started = time.perf_counter()
                status = indexer.index(batch, label=str(corpus))
                seconds = time.perf_counter() - started
            _append(log, {"files": len(batch), "seconds": round(seconds, 3), "chunks": status.chunks_written,
                          "documents": store.count_documents(), "stages_ms": stages})
            bar.update(len(batch))
    return 0


def add_one(releases: list[Path], log: Path) -> int:
    from haystack.dataclasses import ByteStream

    from kit.timings import collect_timings

    from haystack import Document

    indexer = _indexer()
    store = indexer.document_store
    embedded = hasattr(store, "transaction")
    before = store.count_documents()
    embedder = indexer.pipeline.pipeline.get_component("embedder")
    embedder.run(documents=[Document(content=path.read_text(encoding="utf-8")[:2000]) for path in releases])  # warm-up, untimed
    for path in releases:
        source = ByteStream(data=path.read_bytes(), meta={"file_path": path.name})
        parts: dict[str, float] = {}
        with collect_timings() as stages, _patched(embedded, parts):
            started = time.perf_counter()
            status = indexer.index([source], label="add-one")
            seconds = time.perf_counter() - started
        record = {"release": path.name, "seconds": round(seconds, 3), "chunks": status.chunks_written,
                  "stages_ms": stages, "documents": store.count_documents(),
                  **{f"{k}_ms": round(v * 1000, 2) for k, v in parts.items()}}
        _append(log, record)
        print(json.dumps(record), flush=True)
        store.delete_by_filter({"field": "meta.file_path", "operator": "==", "value": path.name}, **_refresh(store))
    after = store.count_documents()
    if after != before:
        print(f"the store holds {after} documents, {before} before", file=sys.stderr)
        return 1
    return 0


def load(index_file: Path, log: Path) -> int:
    """The store's own part of a worker's start: open an embedded index file and build its search index (BM25
    postings, the embedding matrix, the filter columns) in a fresh process; seconds and the memory it added."""
    import psutil

    from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore

    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    store = PersistentInMemoryDocumentStore(index="growth-load", persist_path=str(index_file.resolve()))
    count = store.count_documents()
    seconds = time.perf_counter() - started
    record = {"index_file": str(index_file), "documents": count, "seconds": round(seconds, 3),
              "memory_added_mib": round((psutil.Process().memory_info().rss - before) / 2**20, 1)}
    _append(log, record)
    print(json.dumps(record), flush=True)
    return 0


def copy_from(index_file: Path, log: Path, batch_size: int) -> int:
    """Write the chunks of an embedded index file (already embedded) into the store, in batches: a cluster
    index of the same chunks without embedding them again. Resumable: chunks already there are skipped."""
    from haystack.document_stores.types import DuplicatePolicy

    from stores.inmemory.index_file import IndexFile

    indexer = _indexer()
    store = indexer.document_store
    documents = IndexFile(index_file).read().haystack_documents()
    done = store.count_documents()
    print(f"{len(documents)} chunks in {index_file}; {done} already in {type(store).__name__}", flush=True)
    with tqdm(total=len(documents), initial=min(done, len(documents)), unit="chunk", desc="Copying") as bar:
        for start in range(done - done % batch_size, len(documents), batch_size):
            batch = documents[start : start + batch_size]
            started = time.perf_counter()
            store.write_documents(batch, policy=DuplicatePolicy.OVERWRITE)
            _append(log, {"chunks": len(batch), "seconds": round(time.perf_counter() - started, 3), "documents": start + len(batch)})
            bar.update(len(batch))
    return 0


def _refresh(store: Any) -> dict[str, Any]:
    """Cluster stores delete without waiting for a refresh unless asked; the next count must see it."""
    import inspect

    return {"refresh": True} if "refresh" in inspect.signature(store.delete_by_filter).parameters else {}


@contextmanager
def _patched(embedded: bool, parts: dict[str, float]) -> Iterator[None]:
    """Time the embedded store's file write and search index update (no-ops for the cluster stores)."""
    if not embedded:
        yield
        return
    from stores.inmemory.index_file import IndexFile
    from stores.inmemory.store_search_index import StoreSearchIndex

    with _timed(IndexFile, "write", parts), _timed(StoreSearchIndex, "apply", parts):
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    index = sub.add_parser("index")
    index.add_argument("corpus", type=Path)
    index.add_argument("--log", type=Path, required=True)
    index.add_argument("--batch-size", type=int, default=32)
    copy = sub.add_parser("copy-from")
    copy.add_argument("index_file", type=Path)
    copy.add_argument("--log", type=Path, required=True)
    copy.add_argument("--batch-size", type=int, default=500)
    opened = sub.add_parser("load")
    opened.add_argument("index_file", type=Path)
    opened.add_argument("--log", type=Path, required=True)
    one = sub.add_parser("add-one")
    one.add_argument("releases", type=Path, nargs="+")
    one.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.mode == "index":
        return index_corpus(args.corpus, args.log, args.batch_size)
    if args.mode == "load":
        return load(args.index_file, args.log)
    if args.mode == "copy-from":
        return copy_from(args.index_file, args.log, args.batch_size)
    return add_one(args.releases, args.log)


if __name__ == "__main__":
    sys.exit(main())
