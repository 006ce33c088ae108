"""The embedded index's SQLite file (issue #23): a change writes only its rows, a reader reads only what it has not
seen, and a JSON index of the format before is imported once."""

import json

from haystack import Document

import stores.inmemory.index_file as index_file
from stores.inmemory.index_file import Changes, IndexFile, stored_document
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore, forget_index


def _docs(n: int, tag: str) -> list[Document]:
    return [Document(content=f"{tag} {i}", meta={"file_path": f"{tag}.txt", "i": i}, embedding=[float(i), 1.0]) for i in range(n)]


def test_a_reader_gets_only_the_changes_after_its_version(tmp_path):
    file = IndexFile(tmp_path / "i.sqlite")
    base = _docs(200, "base")
    first = file.write("t", 1, Changes(inserted=tuple(stored_document(d) for d in base)))
    new = _docs(3, "new")
    rewritten = Document(id=base[5].id, content=base[5].content, meta={**base[5].meta, "reviewed": True}, embedding=base[5].embedding)
    file.write("t", 2, Changes(deleted=frozenset({base[0].id}), inserted=tuple(stored_document(d) for d in new),
                               replaced=(stored_document(rewritten).document,)))
    delta = file.changes_since(first)
    assert delta.version == 2 and delta.deleted == {base[0].id}
    assert [d.document.id for d in delta.written] == [base[5].id, *(d.id for d in new)]  # storage order: in place, then appended
    assert delta.written[0].document.meta["reviewed"] is True and list(delta.written[1].embedding) == [0.0, 1.0]
    assert file.changes_since(delta.stamp).written == ()  # nothing newer
    whole = file.read()
    assert len(whole.documents) == 202 and whole.haystack_documents()[-1].embedding == [2.0, 1.0]


def test_a_reader_too_far_behind_or_of_another_file_reads_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(index_file, "KEEP_DELETIONS_FOR", 3)
    file = IndexFile(tmp_path / "i.sqlite")
    stamps = [file.write("t", v, Changes(inserted=(stored_document(Document(content=f"v{v}")),))) for v in range(1, 8)]
    assert file.changes_since(stamps[-2]) is not None  # one version behind: the delta
    assert file.changes_since(stamps[0]) is None  # deletions of versions before 4 are forgotten
    assert file.changes_since(("another-file", 6)) is None


def test_a_json_index_of_the_format_before_is_imported_once(tmp_path):
    legacy = tmp_path / "press.json"
    docs = _docs(5, "old")
    legacy.write_text(json.dumps({"index": "legacy", "version": 7, "documents": [d.to_dict(flatten=False) for d in docs]}))
    try:
        store = PersistentInMemoryDocumentStore(index="legacy", persist_path=str(tmp_path / "press.sqlite"))
        assert store.version == 7 and sorted(d.id for d in store.filter_documents()) == sorted(d.id for d in docs)
        assert store.filter_documents()[0].embedding is not None
        store.write_documents(_docs(1, "new"))
        forget_index("legacy")
        again = PersistentInMemoryDocumentStore(index="legacy", persist_path=str(tmp_path / "press.sqlite"))
        assert again.version == 8 and again.count_documents() == 6  # not imported a second time
        assert legacy.exists()  # kept, unused
    finally:
        forget_index("legacy")


def test_meta_value_counts_follow_every_change(tmp_path):
    store = PersistentInMemoryDocumentStore(index="counts", persist_path=str(tmp_path / "c.sqlite"))
    try:
        store.write_documents(_docs(4, "a") + _docs(2, "b"))
        assert store.meta_value_counts(["file_path"]) == {("a.txt",): 4, ("b.txt",): 2}
        store.delete_by_filter({"field": "meta.file_path", "operator": "==", "value": "b.txt"})
        store.write_documents(_docs(3, "c"))
        store.update_by_filter({"field": "meta.i", "operator": "==", "value": 0}, {"file_path": "z.txt"})
        expected: dict = {}
        for doc in store.filter_documents():
            expected[(doc.meta["file_path"],)] = expected.get((doc.meta["file_path"],), 0) + 1
        assert store.meta_value_counts(["file_path"]) == expected == {("a.txt",): 3, ("c.txt",): 2, ("z.txt",): 2}
    finally:
        forget_index("counts")
