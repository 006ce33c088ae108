"""Whole releases rebuilt from their indexed chunks (the store holds chunks only)."""

from typing import Any

from haystack import Document
from haystack.document_stores.types import DocumentStore


def list_releases(store: DocumentStore) -> list[dict[str, Any]]:
    """One entry per indexed release: file, title, year, number of chunks; in file-name order."""
    releases: dict[str, dict[str, Any]] = {}
    for doc in store.filter_documents():
        name = doc.meta.get("file_path")
        if name is None:
            continue
        entry = releases.setdefault(
            name, {"file_path": name, "title": doc.meta.get("title"), "year": doc.meta.get("year"), "chunks": 0}
        )
        entry["chunks"] += 1
    return sorted(releases.values(), key=lambda r: _natural_key(r["file_path"]))


def get_release(store: DocumentStore, file_path: str) -> dict[str, Any] | None:
    """The cleaned release text stitched from its chunks by their offsets, with its meta; None if unknown."""
    chunks = store.filter_documents(filters={"field": "meta.file_path", "operator": "==", "value": file_path})
    if not chunks:
        return None
    chunks.sort(key=lambda d: (d.meta.get("split_idx_start", 0), d.meta.get("split_id", 0)))
    meta = chunks[0].meta
    return {
        "file_path": file_path,
        "title": meta.get("title"),
        "dates": meta.get("dates", []),
        "year": meta.get("year"),
        "content": _stitch(chunks),
    }


def _stitch(chunks: list[Document]) -> str:
    """Join chunks that overlap: each chunk starts at `split_idx_start` in the release text."""
    text = ""
    for chunk in chunks:
        content = chunk.content or ""
        start = chunk.meta.get("split_idx_start")
        if start is None or start > len(text):
            text += ("\n\n" if text else "") + content
        else:
            text = text[:start] + content if len(text) < start + len(content) else text
    return text


def _natural_key(name: str) -> tuple:
    stem = name.rsplit(".", 1)[0]
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)
