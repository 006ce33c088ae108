"""Four ways to persist the embedded index, measured against each other on the same chunks (issue #23).

    python scripts/persistence_formats.py .cache/growth/inmemory/1x/data/index/press-releases.sqlite --factors 1 16

Takes the chunks of an index file (real text, meta and 384-d vectors) and, for each factor, that many copies
of them (other ids), then for each format: writes them all once, adds one release (7 chunks, the median of
`--repeats` adds, each durable: fsync before it returns), loads the whole index as a new process would, reads only the
last change as another worker would, and reports the size on disk. The formats:

- `json-rewrite`: the format before (one JSON file, vectors as JSON numbers, rewritten whole on every change:
  temporary file, fsync, rename);
- `append-log`: one file of change records appended (JSON lines with length and CRC32, vectors as base64
  float64), fsync per change; a reader keeps its offset; grows with every change until compacted;
- `segments`: one file per change (temporary file, fsync, rename, folder fsync), read in order; a reader
  lists the new ones; many small files until merged;
- `sqlite`: the store's file (`stores/inmemory/index_file.py`): rows per document, a version per change,
  write-ahead log, `synchronous=FULL`.

The prototypes here are only what the measurement needs (no locking, no compaction, no recovery); the store
has the chosen one in full. Runs in a temporary folder; the index file is only read.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from haystack import Document

from stores.inmemory.index_file import Changes, IndexFile, stored_document


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _doc_json(doc: Document) -> dict[str, Any]:
    data = doc.to_dict(flatten=False)
    if doc.embedding is not None:
        data["embedding"] = base64.b64encode(np.asarray(doc.embedding, dtype=np.float64).tobytes()).decode()
    return data


def _doc_from_json(data: dict[str, Any]) -> Document:
    if isinstance(data.get("embedding"), str):
        data = {**data, "embedding": np.frombuffer(base64.b64decode(data["embedding"]), dtype=np.float64).tolist()}
    return Document.from_dict(data)


class JsonRewrite:
    name = "json-rewrite"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "index.json"
        self.documents: dict[str, Document] = {}
        self.version = 0

    def change(self, written: list[Document], deleted: list[str]) -> None:
        for doc_id in deleted:
            self.documents.pop(doc_id, None)
        for doc in written:
            self.documents.pop(doc.id, None)
            self.documents[doc.id] = doc
        self.version += 1
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump({"version": self.version, "documents": [d.to_dict(flatten=False) for d in self.documents.values()]}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def load(self) -> int:
        return len([Document.from_dict(d) for d in json.loads(self.path.read_text(encoding="utf-8"))["documents"]])

    def read_last_change(self) -> int:
        return self.load()  # a reader cannot tell what changed: it reads everything

    def size(self) -> int:
        return self.path.stat().st_size


class AppendLog:
    name = "append-log"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "index.log"
        self.version = 0
        self.last_offset = 0

    def change(self, written: list[Document], deleted: list[str]) -> None:
        self.version += 1
        payload = json.dumps({"version": self.version, "written": [_doc_json(d) for d in written], "deleted": deleted}).encode()
        record = len(payload).to_bytes(8, "little") + zlib.crc32(payload).to_bytes(4, "little") + payload
        with self.path.open("ab") as f:
            self.last_offset = f.tell()
            f.write(record)
            f.flush()
            os.fsync(f.fileno())

    def _records(self, offset: int = 0) -> list[dict[str, Any]]:
        records = []
        with self.path.open("rb") as f:
            f.seek(offset)
            while header := f.read(12):
                length, crc = int.from_bytes(header[:8], "little"), int.from_bytes(header[8:], "little")
                payload = f.read(length)
                if len(payload) < length or zlib.crc32(payload) != crc:
                    break  # a torn last record: the change before it is the last one
                records.append(json.loads(payload))
        return records

    def load(self) -> int:
        documents: dict[str, Document] = {}
        for record in self._records():
            for doc_id in record["deleted"]:
                documents.pop(doc_id, None)
            for data in record["written"]:
                doc = _doc_from_json(data)
                documents.pop(doc.id, None)
                documents[doc.id] = doc
        return len(documents)

    def read_last_change(self) -> int:
        return sum(len(r["written"]) for r in self._records(self.last_offset))

    def size(self) -> int:
        return self.path.stat().st_size


class Segments:
    name = "segments"

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "segments"
        self.folder.mkdir()
        self.version = 0

    def change(self, written: list[Document], deleted: list[str]) -> None:
        self.version += 1
        target = self.folder / f"{self.version:012d}.json"
        tmp = target.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump({"written": [_doc_json(d) for d in written], "deleted": deleted}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(self.folder)

    def load(self) -> int:
        documents: dict[str, Document] = {}
        for path in sorted(self.folder.glob("*.json")):
            segment = json.loads(path.read_text(encoding="utf-8"))
            for doc_id in segment["deleted"]:
                documents.pop(doc_id, None)
            for data in segment["written"]:
                doc = _doc_from_json(data)
                documents.pop(doc.id, None)
                documents[doc.id] = doc
        return len(documents)

    def read_last_change(self) -> int:
        newest = sorted(self.folder.glob("*.json"))[-1]
        return len([_doc_from_json(d) for d in json.loads(newest.read_text(encoding="utf-8"))["written"]])

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir())


class Sqlite:
    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.file = IndexFile(folder / "index.sqlite")
        self.version = 0
        self.stamp_before = None

    def change(self, written: list[Document], deleted: list[str]) -> None:
        self.version += 1
        self.stamp_before = self.file.stamp()
        self.file.write("bench", self.version, Changes(deleted=frozenset(deleted), inserted=tuple(stored_document(d) for d in written)))

    def load(self) -> int:
        return len(IndexFile(self.file.path).read().documents)

    def read_last_change(self) -> int:
        return len(self.file.changes_since(self.stamp_before).written)

    def size(self) -> int:
        self.file.checkpoint()  # the write-ahead log folded into the file, as at a quiet moment
        return self.file.size_on_disk()


FORMATS: tuple[Callable[[Path], Any], ...] = (JsonRewrite, AppendLog, Segments, Sqlite)


def copies(documents: list[Document], factor: int) -> list[Document]:
    """`factor` copies of the chunks, each with its own ids (copy 0 keeps them)."""
    out = []
    for k in range(factor):
        out += documents if k == 0 else [replace(d, id=f"{d.id}-copy{k}") for d in documents]
    return out


def _seconds(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(documents: list[Document], release: list[Document], factor: int, folder: Path, repeats: int = 5) -> list[dict[str, Any]]:
    corpus = copies(documents, factor)
    rows = []
    for make in FORMATS:
        work = Path(tempfile.mkdtemp(dir=folder))
        store = make(work)
        write_all = _seconds(lambda: store.change(corpus, []))
        adds = []
        for k in range(repeats):
            new = [replace(d, id=f"{d.id}-new{k}") for d in release]
            adds.append(_seconds(lambda: store.change(new, [])))
        load = _seconds(store.load)
        catch_up = _seconds(store.read_last_change)
        rows.append({"format": store.name, "factor": factor, "chunks": len(corpus), "write_all_s": round(write_all, 3),
                     "add_one_release_ms": round(median(adds) * 1000, 1), "load_s": round(load, 3),
                     "read_last_change_ms": round(catch_up * 1000, 1), "size_mb": round(store.size() / 1e6, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_file", type=Path, help="an embedded index (press-releases.sqlite), only read")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=5, help="releases added (the median is reported)")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON")
    args = parser.parse_args(argv)
    documents = IndexFile(args.index_file).read().haystack_documents()
    by_file: dict[str, list[Document]] = {}
    for doc in documents:
        by_file.setdefault(doc.meta.get("file_path"), []).append(doc)
    release = next((chunks for chunks in by_file.values() if len(chunks) == 7), documents[:7])  # a typical release
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for factor in args.factors:
            rows += measure(documents, release, factor, Path(folder), args.repeats)
    header = ("format", "factor", "chunks", "write_all_s", "add_one_release_ms", "load_s", "read_last_change_ms", "size_mb")
    print("\n| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
