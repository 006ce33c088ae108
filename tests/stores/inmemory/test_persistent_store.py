"""PersistentInMemoryDocumentStore in one process: atomic persistence and reload, and retrieval scores equal to
Haystack's InMemoryDocumentStore."""

import numpy as np
import pytest
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore

import stores.inmemory.index_file as index_file
from stores.inmemory.index_file import IndexFile, IndexNotSavedError
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore


def _chunk(name: str, text: str, emb: list[float] | None = None) -> Document:
    return Document(content=text, meta={"file_path": name}, embedding=emb)


def test_store_persists_atomically_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))
    store = PersistentInMemoryDocumentStore(index="test-persist", persist_path="idx/p.sqlite")
    store.write_documents([_chunk("a.txt", "hello world", [1.0, 0.0])])
    path = tmp_path / "idx" / "p.sqlite"
    saved = IndexFile(path).read()
    assert [d.document.content for d in saved.documents] == ["hello world"] and saved.version == 1

    # a write failing half-way (after the first row) leaves the file as it was: one transaction
    written = []

    def fail_on_second(document):
        written.append(document.id)
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        return original(document)

    original = index_file._body
    monkeypatch.setattr(index_file, "_body", fail_on_second)
    with pytest.raises(IndexNotSavedError, match="disk is full"):
        store.write_documents([_chunk("b.txt", "second", [0.0, 1.0]), _chunk("c.txt", "third", [0.0, 1.0])])
    monkeypatch.undo()
    after = IndexFile(path).read()
    assert after.version == 1 and after.haystack_documents() == saved.haystack_documents()
    assert store.count_documents() == 1 and store.version == 1  # nor did memory change
    assert sorted(p.name for p in path.parent.iterdir()) <= ["p.sqlite", "p.sqlite-shm", "p.sqlite-wal"]

    # a new process (simulated: forget the shared memory of this index) loads the file
    import stores.inmemory.persistent_store as ps

    ps.forget_index("test-persist")
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))
    reloaded = PersistentInMemoryDocumentStore(index="test-persist", persist_path="idx/p.sqlite")
    assert reloaded.count_documents() == 1
    ps.forget_index("test-persist")


def test_fast_retrieval_scores_equal_the_parent_store():
    rng = np.random.default_rng(0)
    words = "telekom fiber network campus 5g port hamburg cloud quantum tariff euro price".split()
    docs = [
        Document(content=" ".join(rng.choice(words, size=12)), meta={"year": 2020 + i % 5},
                 embedding=list(map(float, rng.normal(size=8))))
        for i in range(60)
    ]
    fast = PersistentInMemoryDocumentStore(index="test-fast")
    plain = InMemoryDocumentStore(index="test-plain")
    fast.write_documents(docs)
    plain.write_documents(docs)
    year_filter = {"field": "meta.year", "operator": ">=", "value": 2023}
    for filters in (None, year_filter):
        for query in ("campus 5g port", "quantum euro price telekom"):
            mine = fast.bm25_retrieval(query, filters=filters, top_k=10)
            theirs = plain.bm25_retrieval(query, filters=filters, top_k=10)
            assert np.allclose([d.score for d in mine], [d.score for d in theirs], rtol=1e-5)
            # same documents, up to the order of equal scores
            assert {(d.id, round(d.score, 4)) for d in mine} <= {(d.id, round(d.score, 4)) for d in plain.bm25_retrieval(query, filters=filters, top_k=60)}
        q = list(map(float, rng.normal(size=8)))
        mine = fast.embedding_retrieval(q, filters=filters, top_k=5)
        theirs = plain.embedding_retrieval(q, filters=filters, top_k=5)
        assert [d.id for d in mine] == [d.id for d in theirs]
        assert np.allclose([d.score for d in mine], [d.score for d in theirs], atol=1e-5)
        if filters:
            assert all(d.meta["year"] >= 2023 for d in mine)
