"""The index room end to end: the corpus indexed at start, re-indexing, the index token, /releases, a restart."""

import httpx
import pytest
from service_process import INDEX_TOKEN, ServiceProcess

pytestmark = pytest.mark.e2e


def _post(url: str, path: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, **kw)


def test_all_releases_are_indexed(service_url, corpus_dir):
    health = httpx.get(service_url + "/ready").json()
    assert health["answer_mode"] == "extractive"
    releases = httpx.get(service_url + "/releases").json()["releases"]
    assert len(releases) == len(list(corpus_dir.glob("*.txt")))
    assert health["documents"] == sum(r["chunks"] for r in releases)


def test_reindexing_keeps_the_chunk_count_and_replaces_changed_releases(service_url, corpus_dir):
    auth = {"Authorization": f"Bearer {INDEX_TOKEN}"}
    before = httpx.get(service_url + "/ready").json()["documents"]
    names = ["103.txt", "67.txt", "15.txt"]
    texts = [{"name": n, "content": (corpus_dir / n).read_text()} for n in names]
    reply = _post(service_url, "/index/run", {"texts": texts}, headers=auth)
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"]["chunks_removed"] == 0
    assert httpx.get(service_url + "/ready").json()["documents"] == before

    # a changed release replaces its chunks; restoring it restores the count
    changed = [{"name": "67.txt", "content": "A short replacement text about DATEV and an ID wallet pilot."}]
    result = _post(service_url, "/index/run", {"texts": changed}, headers=auth).json()["result"]
    assert result["chunks_written"] == 1 and result["chunks_removed"] > 0
    assert "replacement" in httpx.get(service_url + "/releases/67.txt").json()["content"]
    _post(service_url, "/index/run", {"texts": texts[1:2]}, headers=auth)
    assert httpx.get(service_url + "/ready").json()["documents"] == before


def test_index_writes_need_the_token(service_url):
    body = {"texts": [{"name": "x.txt", "content": "text"}]}
    assert _post(service_url, "/index/run", body).status_code == 401
    assert _post(service_url, "/index/run", body, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_release_endpoint(service_url, corpus_dir):
    release = httpx.get(service_url + "/releases/103.txt").json()
    assert release["content"].startswith("5G for the digitization of port logistics")
    assert "Wilhelmshaven" in release["content"]
    assert httpx.get(service_url + "/releases/999.txt").status_code == 404
    assert httpx.get(service_url + "/releases/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)


def test_restart_keeps_the_index_without_reembedding(indexed_service, tmp_path):
    before = httpx.get(indexed_service.url + "/ready").json()["documents"]
    # a second process on the same data, with no corpus to index: it must load the persisted index
    second = ServiceProcess(indexed_service.data_dir, corpus=tmp_path / "empty").start(timeout=180)
    try:
        health = httpx.get(second.url + "/ready").json()
        assert health["documents"] == before
        assert health["indexing"]["files_done"] == 0
        answer = _post(second.url, "/search/run", {"query": "EUROGATE ports", "top_k": 1}).json()["result"]
        assert answer["documents"][0]["meta"]["file_path"] == "103.txt"
    finally:
        second.stop()
