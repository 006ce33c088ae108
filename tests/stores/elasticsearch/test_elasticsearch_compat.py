"""The two REST endpoints the local Elasticsearch gets from the test scaffold (scripts/elasticsearch_compat/).

Elastic's integ-test build lacks `GET /` (module rest-root) and `_delete_by_query` (module reindex); the
scaffold supplies them. These tests hold its replies and effects to what elasticsearch-haystack reads and what
Elastic's own modules answer (the reply fields of the reindex module's delete-by-query, the info fields of
rest-root), so they pass unchanged against Elastic's distribution (ELASTICSEARCH_URL pointing at one), where
they check the reference instead. Against the scaffold they also check that a parameter it does not implement
is refused, never ignored.
"""

import os
import uuid

import httpx
import pytest
from elasticsearch import Elasticsearch
from haystack import Document

from stores.elasticsearch.elasticsearch_store import EnvElasticsearchDocumentStore

pytestmark = pytest.mark.elasticsearch

# What the reindex module's _delete_by_query answers (BulkByScrollResponse without `created`/`updated`).
DELETE_BY_QUERY_REPLY = {"took", "timed_out", "total", "deleted", "batches", "version_conflicts", "noops", "retries",
                         "throttled_millis", "requests_per_second", "throttled_until_millis", "failures"}


@pytest.fixture(scope="module")
def nodes() -> list[str]:
    if not os.environ.get("ELASTICSEARCH_URL"):  # tests/conftest.py deselects these tests then, except under CI
        pytest.fail("no Elasticsearch: set ELASTICSEARCH_URL or run `bash scripts/elasticsearch_local.sh start`")
    return [url.strip() for url in os.environ["ELASTICSEARCH_URL"].split(",")]


@pytest.fixture(scope="module")
def scaffold(nodes) -> bool:
    """Whether the cluster runs the test scaffold (the local integ-test build) rather than Elastic's modules."""
    info = httpx.get(nodes[0] + "/_nodes", params={"filter_path": "nodes.*.modules.name"}, timeout=30).json()
    return any(m["name"] == "pressqa-test-compat" for node in info["nodes"].values() for m in node["modules"])


@pytest.fixture
def store(nodes):
    """A store on an index of its own: 10 documents of group a (file 1.txt … 10.txt), 5 of group b."""
    store = EnvElasticsearchDocumentStore(index=f"pressqa-compat-{uuid.uuid4().hex[:12]}")
    documents = [Document(id=f"a{i}", content=f"chunk {i} of release a", meta={"group": "a", "file_path": f"{i}.txt"})
                 for i in range(1, 11)]
    documents += [Document(id=f"b{i}", content=f"chunk {i} of release b", meta={"group": "b"}) for i in range(5)]
    assert store.write_documents(documents) == 15
    yield store
    store.client.options(ignore_status=[404]).indices.delete(index=store._index)
    store.client.close()


def _delete_by_query(nodes: list[str], index: str, body: dict | None, **params) -> httpx.Response:
    return httpx.post(f"{nodes[0]}/{index}/_delete_by_query", params=params, json=body, timeout=60)


# --- GET / ------------------------------------------------------------------------------------------


def test_every_node_answers_get_root_as_elasticsearch_8_19(nodes):
    health = httpx.get(nodes[0] + "/_cluster/health", timeout=30).json()
    uuid_ = httpx.get(nodes[0] + "/_cluster/state/metadata", params={"filter_path": "metadata.cluster_uuid"},
                      timeout=30).json()["metadata"]["cluster_uuid"]
    names = set()
    for node in nodes:
        reply = httpx.get(node + "/", timeout=30)
        assert reply.status_code == 200 and reply.headers["x-elastic-product"] == "Elasticsearch"
        info = reply.json()
        assert info["tagline"] == "You Know, for Search"
        assert info["cluster_name"] == health["cluster_name"] and info["cluster_uuid"] == uuid_
        assert info["version"]["number"].startswith("8.19.") and info["version"]["build_flavor"] == "default"
        assert info["version"]["lucene_version"].startswith("9.") and info["version"]["build_hash"]
        assert httpx.head(node + "/", timeout=30).status_code == 200
        names.add(info["name"])
    assert len(names) == len(nodes)  # each node answers with its own name


def test_the_client_and_the_store_connect(nodes):
    client = Elasticsearch(nodes)
    try:
        assert client.ping() and client.info()["version"]["number"].startswith("8.19.")
    finally:
        client.close()
    store = EnvElasticsearchDocumentStore(index=f"pressqa-compat-{uuid.uuid4().hex[:12]}")
    try:
        assert store.count_documents() == 0  # connecting calls info(), then creates the index
    finally:
        store.client.indices.delete(index=store._index)
        store.client.close()


# --- _delete_by_query -------------------------------------------------------------------------------


def test_delete_by_filter_and_delete_all_through_the_store(store):
    deleted = store.delete_by_filter({"field": "meta.group", "operator": "==", "value": "a"}, refresh=True)
    assert deleted == 10 and store.count_documents() == 5
    assert {d.id for d in store.filter_documents()} == {f"b{i}" for i in range(5)}
    assert store.delete_by_filter({"field": "meta.group", "operator": "==", "value": "a"}, refresh=True) == 0
    store.delete_all_documents()  # _delete_by_query with match_all, wait_for_completion and refresh
    assert store.count_documents() == 0


def test_reply_has_the_reindex_modules_shape(nodes, store):
    body = {"query": {"term": {"group": "a"}}}
    reply = _delete_by_query(nodes, store._index, body, refresh="true", scroll_size=4)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert set(result) == DELETE_BY_QUERY_REPLY
    assert (result["total"], result["deleted"], result["batches"]) == (10, 10, 3)  # 4 + 4 + 2
    assert (result["version_conflicts"], result["noops"], result["failures"], result["timed_out"]) == (0, 0, [], False)
    assert result["retries"] == {"bulk": 0, "search": 0} and result["requests_per_second"] == -1
    assert store.count_documents() == 5  # refresh=true: the deletes are visible at once

    nothing = _delete_by_query(nodes, store._index, body, refresh="true").json()
    assert (nothing["total"], nothing["deleted"], nothing["batches"]) == (0, 0, 0)


def test_max_docs_and_filters_inside_the_query(nodes, store):
    body = {"query": {"bool": {"filter": [{"terms": {"file_path": ["1.txt", "2.txt", "3.txt", "4.txt"]}}]}},
            "max_docs": 3}
    result = _delete_by_query(nodes, store._index, body, refresh="true").json()
    assert (result["total"], result["deleted"]) == (3, 3)
    assert store.count_documents() == 12
    left = {d.meta["file_path"] for d in store.filter_documents({"field": "meta.group", "operator": "==", "value": "a"})}
    assert len(left & {"1.txt", "2.txt", "3.txt", "4.txt"}) == 1


def test_bad_requests_are_refused(nodes, store):
    assert _delete_by_query(nodes, store._index, None).status_code == 400  # no query
    assert _delete_by_query(nodes, store._index, {"query": {"match_all": {}}}, conflicts="sometimes").status_code == 400
    missing = _delete_by_query(nodes, "pressqa-compat-missing-index", {"query": {"match_all": {}}})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "index_not_found_exception"
    assert store.count_documents() == 15


def test_what_the_scaffold_does_not_implement_is_refused_not_ignored(nodes, store, scaffold):
    """Slicing: Elastic's reindex module runs it; the scaffold answers 400 naming the parameter."""
    reply = _delete_by_query(nodes, store._index, {"query": {"term": {"group": "b"}}}, slices=2, refresh="true")
    if scaffold:
        assert reply.status_code == 400 and "slices" in reply.text
        assert store.count_documents() == 15
    else:
        assert reply.status_code == 200 and reply.json()["deleted"] == 5
