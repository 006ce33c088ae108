"""The store's search index against Haystack's own `InMemoryDocumentStore`, and its one change hook (issue #11).

The corpus is written here: a small vocabulary so that many documents share terms (near-ties, long
postings), documents without content, without embedding and with a zero embedding.
"""

import threading

import numpy as np
import pytest
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore

from stores.inmemory.index_file import IndexFile, IndexNotSavedError
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore, forget_index
from stores.inmemory.store_search_index import StoreSearchIndex

WORDS = "telekom fiber network campus 5g port hamburg cloud quantum tariff euro price bonn magenta".split()
QUERIES = ("campus 5g port", "quantum euro price telekom", "bonn", "telekom telekom network", "unknownword fiber")


def _corpus(seed: int = 0, n: int = 80) -> list[Document]:
    rng = np.random.default_rng(seed)
    docs = [
        Document(content=" ".join(rng.choice(WORDS, size=int(rng.integers(3, 30)))), meta={"year": 2020 + i % 5, "n": i},
                 embedding=list(map(float, rng.normal(size=8))))
        for i in range(n)
    ]
    docs += [Document(content=docs[3].content, meta={"copy": True}, embedding=docs[3].embedding)]  # an exact tie
    docs += [Document(meta={"no": "content"}, embedding=[1.0] * 8), Document(content="telekom without embedding")]
    docs += [Document(content="zero vector telekom", embedding=[0.0] * 8)]
    return docs


def _pairs(documents: list[Document]) -> list[tuple[str, float]]:
    return [(d.id, d.score) for d in documents]


@pytest.fixture
def stores(tmp_path):
    created = []

    def make(**kwargs):
        ours = PersistentInMemoryDocumentStore(index=f"search-{len(created)}", persist_path=str(tmp_path / f"{len(created)}.sqlite"), **kwargs)
        created.append(ours.index)
        return ours, InMemoryDocumentStore(shared=False, **kwargs)

    yield make
    for index in created:
        forget_index(index)


@pytest.mark.parametrize("kwargs", [{}, {"embedding_similarity_function": "cosine"}, {"bm25_parameters": {"k1": 1.2, "b": 0.5, "delta": 1.0}}])
def test_scores_and_order_equal_haystacks_in_memory_store(stores, kwargs):
    ours, theirs = stores(**kwargs)
    docs = _corpus()
    ours.write_documents(docs)
    theirs.write_documents(docs)
    # a change history (overwrite, delete) as the indexer makes: both stores' statistics must follow it
    ours.delete_documents([docs[5].id, docs[6].id])
    theirs.delete_documents([docs[5].id, docs[6].id])
    changed = Document(id=docs[7].id, content="hamburg hamburg port campus", embedding=docs[7].embedding)
    ours.write_documents([changed], policy="overwrite")
    theirs.write_documents([changed], policy="overwrite")
    rng = np.random.default_rng(1)
    for filters in (None, {"field": "meta.year", "operator": ">=", "value": 2023}):
        for top_k in (1, 5, 10, 100):
            for scale in (False, True):
                for query in QUERIES:
                    mine, haystack = ours.bm25_retrieval(query, filters, top_k, scale), theirs.bm25_retrieval(query, filters, top_k, scale)
                    assert [d.id for d in mine] == [d.id for d in haystack], (query, filters, top_k)
                    assert np.allclose([d.score for d in mine], [d.score for d in haystack], rtol=1e-9, atol=0)
                q = list(map(float, rng.normal(size=8)))
                mine, haystack = ours.embedding_retrieval(q, filters, top_k, scale), theirs.embedding_retrieval(q, filters, top_k, scale)
                assert [d.id for d in mine] == [d.id for d in haystack], (filters, top_k)
                assert np.allclose([d.score for d in mine], [d.score for d in haystack], rtol=1e-9, atol=1e-12)
                assert all(d.embedding is None for d in mine)


def test_a_reloaded_store_scores_as_the_writer(stores, tmp_path):
    """A process that loads the file (statistics built from it) ranks exactly as the writing process."""
    ours, _ = stores()
    ours.write_documents(_corpus(seed=3))
    ours.delete_documents([d.id for d in ours.filter_documents()[:10]])
    before = {q: _pairs(ours.bm25_retrieval(q, top_k=20)) for q in QUERIES}
    forget_index(ours.index)
    reloaded = PersistentInMemoryDocumentStore(index=ours.index, persist_path=ours.persist_path)
    for query, hits in before.items():
        again = _pairs(reloaded.bm25_retrieval(query, top_k=20))
        assert [i for i, _ in again] == [i for i, _ in hits]
        assert np.allclose([s for _, s in again], [s for _, s in hits], rtol=1e-12, atol=0)


def test_update_by_filter_is_saved_as_a_new_version(stores):
    store, _ = stores()
    store.write_documents(_corpus(n=10))
    version = store.version
    selected = {"field": "meta.year", "operator": "==", "value": 2021}
    assert store.update_by_filter(selected, {"reviewed": True, "year": 2021}) == 2
    assert store.version == version + 1
    saved = IndexFile(store.resolved_path).read()
    assert saved.version == version + 1
    assert sum(d.document.meta.get("reviewed") is True for d in saved.documents) == 2
    forget_index(store.index)  # a new process, from the same file
    fresh = PersistentInMemoryDocumentStore(index=store.index, persist_path=store.persist_path)
    assert fresh.version == version + 1
    assert len(fresh.filter_documents({"field": "meta.reviewed", "operator": "==", "value": True})) == 2


def test_a_failed_save_of_update_by_filter_changes_nothing(stores, monkeypatch):
    """Disk full while saving an update: memory, the served documents and the file stay as they were."""
    store, _ = stores()
    store.write_documents(_corpus(n=10))
    served = store.filter_documents()
    saved, version = IndexFile(store.resolved_path).read().haystack_documents(), store.version

    def full(*args, **kwargs):
        raise IndexNotSavedError(28, "The index could not be saved: the disk is full")

    monkeypatch.setattr(store._file, "write", full)
    with pytest.raises(IndexNotSavedError):
        store.update_by_filter({"field": "meta.year", "operator": "==", "value": 2021}, {"reviewed": True})
    assert all("reviewed" not in d.meta for d in served)  # the documents readers held are untouched
    assert all("reviewed" not in d.meta for d in store.filter_documents())
    assert all("reviewed" not in d.meta for d in store.storage.values())  # nor is the memory the next change starts from
    assert store.version == version and IndexFile(store.resolved_path).read().haystack_documents() == saved
    monkeypatch.undo()
    store.write_documents([Document(content="after the disk has room again")])
    assert sum("reviewed" in d.document.meta for d in IndexFile(store.resolved_path).read().documents) == 0


@pytest.mark.parametrize("change", [
    lambda s, d: s.write_documents([Document(content="new one")]),
    lambda s, d: s.delete_documents([d[0].id]),
    lambda s, d: s.delete_by_filter({"field": "meta.year", "operator": "==", "value": 2020}),
    lambda s, d: s.update_by_filter({"field": "meta.year", "operator": "==", "value": 2020}, {"x": 1}),
    lambda s, d: s.delete_all_documents(),
], ids=["write_documents", "delete_documents", "delete_by_filter", "update_by_filter", "delete_all_documents"])
def test_every_mutator_goes_through_the_change_hook(stores, monkeypatch, change):
    store, _ = stores()
    docs = _corpus(n=10)
    store.write_documents(docs)
    calls = []
    original = PersistentInMemoryDocumentStore.transaction
    monkeypatch.setattr(PersistentInMemoryDocumentStore, "transaction", lambda self: calls.append(1) or original(self))
    version = store.version
    change(store, docs)
    assert calls and store.version == version + 1
    assert IndexFile(store.resolved_path).read().version == version + 1


def test_haystacks_read_helpers_see_the_served_version_during_a_change(stores):
    """The parent's metadata helpers read `storage`: outside the writing thread that is the version
    served, so a change half made (here: a transaction still open) is invisible, as it is to searches."""
    store, _ = stores()
    store.write_documents([Document(content="old", meta={"year": 2020})])
    seen = {}

    def read():
        seen.update(fields=store.get_metadata_fields_info(), count=store.count_documents_by_filter({"field": "meta.year", "operator": ">", "value": 0}),
                    unique=store.count_unique_metadata_by_filter({}, ["year"]))

    with store.transaction():
        store.write_documents([Document(content="new", meta={"year": 2021, "reviewed": True})])
        reader = threading.Thread(target=read)
        reader.start()
        reader.join()
        assert "reviewed" in store.get_metadata_fields_info()  # the writing thread sees its own change
    assert seen == {"fields": {"year": {"type": "int"}}, "count": 1, "unique": {"year": 1}}
    assert "reviewed" in store.get_metadata_fields_info() and store.count_unique_metadata_by_filter({}, ["year"]) == {"year": 2}
    with pytest.raises(TypeError):
        store.storage["x"] = Document(content="not through the change hook")  # the served version is read-only


def test_a_store_not_shared_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="shared=True"):
        PersistentInMemoryDocumentStore(index="not-shared", persist_path=str(tmp_path / "n.sqlite"), shared=False)


def _same_search(made: StoreSearchIndex, fresh: StoreSearchIndex, tokenize) -> None:
    """Two indexes of the same documents answer every search, filter and count alike."""
    assert [d.id for d in made.documents] == [d.id for d in fresh.documents]
    rng = np.random.default_rng(5)
    for query in QUERIES:
        mine, theirs = made.bm25_retrieval(tokenize(query), top_k=20), fresh.bm25_retrieval(tokenize(query), top_k=20)
        assert _pairs(mine) == _pairs(theirs), query
    for _ in range(5):
        q = list(map(float, rng.normal(size=8)))
        mine, theirs = made.embedding_retrieval(q, top_k=1000), fresh.embedding_retrieval(q, top_k=1000)  # no cut inside a tie
        # the same, up to the last bits of a BLAS product (its blocking depends on a row's place in the matrix,
        # so two equal vectors, a tie, may come out in either order)
        assert np.allclose([d.score for d in mine], [d.score for d in theirs], rtol=1e-12, atol=0)
        ties = lambda docs: sorted((round(d.score, 10), d.id) for d in docs)  # noqa: E731
        assert ties(mine) == ties(theirs)
    year = {"field": "meta.year", "operator": ">=", "value": 2022}
    assert [d.id for d in made.filter_documents(year)] == [d.id for d in fresh.filter_documents(year)]
    assert made.meta_value_counts(("year",)) == fresh.meta_value_counts(("year",))
    assert [d.embedding for d in made.filter_documents()] == [d.embedding for d in fresh.filter_documents()]


@pytest.mark.parametrize("seed", range(4))
def test_a_version_made_from_the_one_before_equals_one_made_whole(seed):
    """Random changes (writes, overwrites, deletes, meta updates, enough deletes to compact) applied one version
    at a time give the index a fresh build of the resulting documents gives; versions already made, read
    while later ones append into the shared vector buffer, keep answering as they did."""
    from stores.inmemory.index_file import stored_document
    from stores.inmemory.store_search_index import tokenizing_stats

    tokenize = InMemoryDocumentStore()._tokenize_bm25
    stats = tokenizing_stats(tokenize)
    rng = np.random.default_rng(seed)
    docs = {d.id: d for d in _corpus(seed=seed, n=60)}
    index = StoreSearchIndex.build(docs.values(), stats, version=1)
    index.filter_rows({"field": "meta.year", "operator": "==", "value": 2021}), index.meta_value_counts(("year",))  # carried on
    first, first_hits = index, _pairs(index.bm25_retrieval(tokenize("campus port"), top_k=10))
    for version in range(2, 40):
        ids = list(docs)
        deleted = set(rng.choice(ids, size=int(rng.integers(0, 6)), replace=False)) if ids else set()
        replaced = []
        for doc_id in rng.choice([i for i in ids if i not in deleted], size=min(2, len(ids) - len(deleted)), replace=False):
            replaced.append(Document(id=doc_id, content=docs[doc_id].content, meta={**docs[doc_id].meta, "year": 2030},
                                     embedding=docs[doc_id].embedding))
        new = [Document(content=" ".join(rng.choice(WORDS, size=int(rng.integers(1, 20)))), meta={"year": 2020 + version % 5, "v": version, "i": i},
                        embedding=list(map(float, rng.normal(size=8))) if i % 3 else None) for i in range(int(rng.integers(0, 5)))]
        if version % 7 == 0 and docs:  # written again without being deleted first: the old row dies too
            again = next(iter(docs.values()))
            new.append(Document(id=again.id, content="written again", meta={"year": 2018}, embedding=[0.25] * 8))
        moved = [Document(id=i, content="moved " + (docs[i].content or ""), meta={"year": 2019}, embedding=[0.5] * 8)
                 for i in list(deleted)[:1]]  # deleted and written again in one version: a new row at the end
        for doc_id in deleted:
            del docs[doc_id]
        for doc in replaced:
            docs[doc.id] = doc  # same place
        for doc in new + moved:
            docs.pop(doc.id, None)
            docs[doc.id] = doc
        index = index.apply(deleted, [stored_document(d) for d in new + moved], [stored_document(d).document for d in replaced], stats, version)
        _same_search(index, StoreSearchIndex.build(docs.values(), stats, version), tokenize)
        assert _pairs(first.bm25_retrieval(tokenize("campus port"), top_k=10)) == first_hits


def test_many_deletes_compact_the_rows(monkeypatch):
    import stores.inmemory.store_search_index as ssi
    from stores.inmemory.store_search_index import tokenizing_stats

    monkeypatch.setattr(ssi, "_MIN_DEAD", 5)
    tokenize = InMemoryDocumentStore()._tokenize_bm25
    stats = tokenizing_stats(tokenize)
    docs = _corpus(n=40)
    index = StoreSearchIndex.build(docs, stats)
    index = index.apply({d.id for d in docs[:12]}, [], [], stats, 2)
    assert len(index.rows) == len(index.row_of) == len(docs) - 12  # dead rows gone
    _same_search(index, StoreSearchIndex.build(docs[12:], stats, 2), tokenize)
