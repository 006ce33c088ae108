"""`EnvElasticsearchDocumentStore` against Haystack's document-store contract, on a real Elasticsearch (issue #20).

The same suite `tests/components/test_store_conformance.py` runs for the embedded store, here against the
cluster at ELASTICSEARCH_URL (the local one of scripts/elasticsearch_local.sh when unset; tests/conftest.py):
writes, duplicate policies, every filter operator, deletes, `delete_all_documents` (its `_delete_by_query`
and its `recreate_index` form), `delete_by_filter`, counts and the metadata queries. Each test gets an index
of its own (outside the `press-releases*` template: the suite's vectors are not 384-d), deleted afterwards.

On the local cluster the tests that need a module Elastic's integ-test build lacks are deselected, with the
reason printed (conftest.py, NEEDS_MODULE): `update_by_filter` (reindex's `_update_by_query`) and the
search_term of `get_metadata_field_unique_values` (a painless script).
"""

import dataclasses
import os
import uuid

import httpx
import pytest
from haystack import Document
from haystack.document_stores.errors import DocumentStoreError, DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack.testing.document_store import (
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    DocumentStoreBaseExtendedTests,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldUniqueValuesTest,
)

from stores.elasticsearch.elasticsearch_store import EnvElasticsearchDocumentStore

pytestmark = pytest.mark.elasticsearch
PREFIX = "pressqa-conformance-"


@pytest.fixture(scope="module")
def fast_indices():
    """An index template for this suite's indices: no replica and a 100 ms refresh (writes wait for a refresh).

    Each test creates and deletes an index; on the shared 2-core machine this halves the suite's time. The
    store's behaviour does not depend on either setting; replicas and refresh are the cluster suite's subject.
    """
    if not os.environ.get("ELASTICSEARCH_URL"):  # tests/conftest.py deselects these tests then, except under CI
        pytest.fail("no Elasticsearch: set ELASTICSEARCH_URL or run `bash scripts/elasticsearch_local.sh start`")
    url = os.environ["ELASTICSEARCH_URL"].split(",")[0]
    template = {"index_patterns": [f"{PREFIX}*"], "priority": 1,
                "template": {"settings": {"number_of_replicas": 0, "refresh_interval": "100ms"}}}
    httpx.put(f"{url}/_index_template/pressqa-conformance", json=template, timeout=30).raise_for_status()
    yield
    httpx.delete(f"{url}/_index_template/pressqa-conformance", timeout=30)


class TestElasticsearchStoreConformance(
    DocumentStoreBaseExtendedTests,
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldUniqueValuesTest,
):
    """The extended suite and every optional mixin elasticsearch-haystack 7.1.0 implements."""

    @pytest.fixture
    def document_store(self, fast_indices):
        # max_inner_product accepts the suite's unnormalized and all-zero vectors (dot_product and cosine refuse them)
        store = EnvElasticsearchDocumentStore(
            index=f"{PREFIX}{uuid.uuid4().hex[:12]}", embedding_similarity_function="max_inner_product"
        )
        yield store
        store.client.options(ignore_status=[404]).indices.delete(index=store._index)
        store.client.close()

    @staticmethod
    def assert_documents_are_equal(received: list[Document], expected: list[Document]):
        """Documents from filter_documents carry a score (a constant for filters), which the suite cannot know."""
        key = lambda d: d.id  # noqa: E731 - ordering is not part of filter_documents' contract
        received = sorted((dataclasses.replace(d, score=None) for d in received), key=key)
        assert received == sorted(expected, key=key)

    # The suite leaves the default duplicate policy to each store: Elasticsearch's is FAIL.
    def test_write_documents(self, document_store):
        doc = Document(id="1", content="test doc")
        assert document_store.write_documents([doc]) == 1
        with pytest.raises(DuplicateDocumentError):
            document_store.write_documents([doc])
        assert document_store.write_documents([doc], DuplicatePolicy.OVERWRITE) == 1
        self.assert_documents_are_equal(document_store.filter_documents(), [doc])

    # Elasticsearch maps each field to one type (the first value's; strings and floats are coerced to it), so
    # the suite's field holding 1, "1", 1.0 and True cannot be written: the boolean is refused. Checked here.
    @staticmethod
    def test_get_metadata_field_unique_values_distinct_types(document_store):
        document_store.write_documents([Document(content=f"Doc {i}", meta={"priority": 1}) for i in range(2)])
        with pytest.raises(DocumentStoreError, match="failed to parse field \\[priority\\] of type \\[long\\]"):
            document_store.write_documents([Document(content="Doc 4", meta={"priority": True})])
        assert document_store.get_metadata_field_unique_values(metadata_field="priority") == ([1], 1)
