"""SourceReplacingWriter: idempotent writes, a changed release's old chunks replaced, its serialization."""

from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy

from components.source_replacing_writer import SourceReplacingWriter
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore


def _chunk(name: str, text: str, emb: list[float] | None = None) -> Document:
    return Document(content=text, meta={"file_path": name}, embedding=emb)


def test_writer_is_idempotent_and_replaces_changed_releases(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))
    store = PersistentInMemoryDocumentStore(index="test-writer", persist_path="w.json")
    writer = SourceReplacingWriter(document_store=store)
    first = [_chunk("1.txt", "alpha one"), _chunk("1.txt", "alpha two"), _chunk("2.txt", "beta")]
    assert writer.run(documents=first)["releases"] == {"1.txt": "added", "2.txt": "added"}
    assert writer.run(documents=first) == {"documents_written": 3, "documents_removed": 0,
                                           "releases": {"1.txt": "unchanged", "2.txt": "unchanged"}}
    assert store.count_documents() == 3
    result = writer.run(documents=[_chunk("1.txt", "alpha changed")])
    assert result == {"documents_written": 1, "documents_removed": 2, "releases": {"1.txt": "replaced"}}
    assert sorted(d.content for d in store.filter_documents()) == ["alpha changed", "beta"]


def test_writer_serializes_round_trip():
    writer = SourceReplacingWriter(document_store=InMemoryDocumentStore(index="ser"), source_field="file_path")
    data = writer.to_dict()
    assert data["init_parameters"]["policy"] == "OVERWRITE"
    assert SourceReplacingWriter.from_dict(data).policy == DuplicatePolicy.OVERWRITE
