"""Whole releases rebuilt from their indexed chunks (the store holds chunks only)."""

from collections.abc import Iterable
from typing import Any

from haystack.components.retrievers.sentence_window_retriever import SentenceWindowRetriever
from haystack.document_stores.types import DocumentStore


def list_releases(store: DocumentStore) -> list[dict[str, Any]]:
    """One entry per indexed release: file, title, year, number of chunks; in file-name order.

    From the store's counts per (file, title, year) where it offers them (`meta_value_counts`: the embedded
    store keeps them per version, the OpenSearch store aggregates), else from every chunk."""
    releases: dict[str, dict[str, Any]] = {}
    for (name, title, year), chunks in _counts(store, ["file_path", "title", "year"]):
        if name is None:
            continue
        entry = releases.setdefault(name, {"file_path": name, "title": title, "year": year, "chunks": 0})
        entry["chunks"] += chunks
    return sorted(releases.values(), key=lambda r: _natural_key(r["file_path"]))


def meta_counts(store: DocumentStore, fields: list[str]) -> list[tuple[tuple[Any, ...], int]]:
    """(values of `fields`, number of chunks holding them) for every combination in the store."""
    return list(_counts(store, fields))


def _counts(store: DocumentStore, fields: list[str]) -> Iterable[tuple[tuple[Any, ...], int]]:
    counted = getattr(store, "meta_value_counts", None)
    if counted is not None:
        return counted(fields).items()
    totals: dict[tuple[Any, ...], int] = {}
    for doc in store.filter_documents():  # stores without counts (Elasticsearch here): every chunk
        key = tuple(doc.meta.get(f) for f in fields)
        totals[key] = totals.get(key, 0) + 1
    return totals.items()


def get_release(store: DocumentStore, file_path: str) -> dict[str, Any] | None:
    """The cleaned release text stitched from its chunks by their offsets, with its meta; None if unknown.

    Haystack's `SentenceWindowRetriever.merge_documents_text` joins the overlapping chunks by `split_idx_start`
    (the index's chunks all carry it: the 254 releases came out identical to the stitching this replaced).
    """
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
        "content": SentenceWindowRetriever.merge_documents_text(chunks),
    }


def _natural_key(name: str) -> tuple:
    stem = name.rsplit(".", 1)[0]
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)
