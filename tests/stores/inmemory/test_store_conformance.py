"""`PersistentInMemoryDocumentStore` against Haystack's own document-store test suite (issue #11).

Haystack ships the contract every document store must keep as `haystack.testing.document_store`; the
integrations (Elasticsearch, OpenSearch, ...) subclass it with a `document_store` fixture, and so does
this file. On top of the suite, the fixture checks after every test that the index file holds what
memory holds: a new process (simulated by forgetting the index) loading the file sees the same
documents, so no change of the suite reached memory without reaching the file.
"""

import inspect
import uuid

import pytest
from haystack import Document
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.testing.document_store import (
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    DocumentStoreBaseExtendedTests,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldUniqueValuesTest,
)

from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore, forget_index


def _as_saved(documents: list[Document]) -> list[dict]:
    return sorted((d.to_dict(flatten=False) for d in documents), key=lambda d: d["id"])


class TestPersistentStoreConformance(
    DocumentStoreBaseExtendedTests,
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldUniqueValuesTest,
):
    """The whole extended suite plus every optional mixin the parent `InMemoryDocumentStore` implements."""

    @pytest.fixture
    def document_store(self, tmp_path):
        index = f"conformance-{uuid.uuid4().hex}"
        path = tmp_path / "index.json"
        store = PersistentInMemoryDocumentStore(index=index, persist_path=str(path))
        yield store
        served = _as_saved(store.filter_documents())
        version = store.version
        forget_index(index)
        reloaded = PersistentInMemoryDocumentStore(index=index, persist_path=str(path))
        try:
            assert _as_saved(reloaded.filter_documents()) == served, "memory and the index file differ"
            assert reloaded.version == version
        finally:
            forget_index(index)

    # The suite leaves the default policy to each store. This one keeps the parent's: `NONE` means `FAIL`,
    # and a failed write is no version (nothing saved, nothing published).
    def test_write_documents(self, document_store):
        doc = Document(content="test doc")
        assert document_store.write_documents([doc]) == 1
        version = document_store.version
        with pytest.raises(DuplicateDocumentError):
            document_store.write_documents([doc])
        assert document_store.version == version
        self.assert_documents_are_equal(document_store.filter_documents(), [doc])

    # The suite skips its two `recreate_index` tests for a store whose `delete_all_documents` has no such
    # parameter. This store has none by design: there is no server-side index to drop and re-create, the
    # index *is* the file, and emptying it is one saved version like any other change. Tested instead:
    # that documented behaviour (no parameter; the emptied index is saved and a new version).

    @staticmethod
    def test_delete_all_documents_without_recreate_index(document_store):
        assert "recreate_index" not in inspect.signature(document_store.delete_all_documents).parameters
        document_store.write_documents([Document(id="1", content="A first document")])
        before = document_store.version
        document_store.delete_all_documents()
        assert document_store.count_documents() == 0 and document_store.version == before + 1
        forget_index(document_store.index)
        reopened = PersistentInMemoryDocumentStore(index=document_store.index, persist_path=document_store.persist_path)
        assert reopened.count_documents() == 0 and reopened.version == before + 1

    @staticmethod
    def test_delete_all_documents_with_recreate_index(document_store):
        assert "recreate_collection" not in inspect.signature(document_store.delete_all_documents).parameters
        document_store.write_documents([Document(id="1", content="A first document")])
        document_store.delete_all_documents()
        document_store.write_documents([Document(id="3", content="New document after delete all")])
        assert [d.content for d in document_store.filter_documents()] == ["New document after delete all"]
