"""End-to-end: the real service, indexed on the whole corpus from ../shared, called over HTTP."""

import json
from pathlib import Path

import httpx
import pytest
from service_process import INDEX_TOKEN, REPO, ServiceProcess

pytestmark = pytest.mark.e2e
DEV_SET = REPO.parent / "shared" / "eval" / "dev.jsonl"


def _dev_questions() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]


def _post(url: str, path: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, **kw)


def test_all_releases_are_indexed(service_url, corpus_dir):
    health = httpx.get(service_url + "/health").json()
    assert health["answer_mode"] == "extractive"
    releases = httpx.get(service_url + "/releases").json()["releases"]
    assert len(releases) == len(list(corpus_dir.glob("*.txt")))
    assert health["documents"] == sum(r["chunks"] for r in releases)


def test_search_returns_ranked_chunks_with_meta(service_url):
    reply = _post(service_url, "/search/run", {"query": "Which ports get 5G campus networks for EUROGATE?", "top_k": 5})
    assert reply.status_code == 200
    documents = reply.json()["result"]["documents"]
    assert len(documents) == 5
    assert documents[0]["meta"]["file_path"] == "103.txt"
    assert "Wilhelmshaven" in documents[0]["content"]
    assert {"title", "dates", "file_path"} <= documents[0]["meta"].keys()
    assert "embedding" not in documents[0]
    scores = [d["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)


def test_gold_release_in_top5_for_most_dev_questions(service_url):
    answerable = [q for q in _dev_questions() if q["gold_files"]]
    hits = 0
    for q in answerable:
        documents = _post(service_url, "/search/run", {"query": q["question"], "top_k": 5}).json()["result"]["documents"]
        gold = {Path(f).name for f in q["gold_files"]}
        hits += any(d["meta"]["file_path"] in gold for d in documents)
    assert hits / len(answerable) >= 0.9, f"gold release in top 5 for {hits}/{len(answerable)}"


def test_ask_answers_extractively_with_citations(service_url):
    reply = _post(service_url, "/ask/run", {"query": "At which ports is Deutsche Telekom building 5G campus networks for EUROGATE?"})
    assert reply.status_code == 200
    result = reply.json()["result"]
    assert result["mode"] == "extractive"
    assert all(port in result["answer"] for port in ("Hamburg", "Bremerhaven", "Wilhelmshaven"))
    assert "[1]" in result["answer"]
    assert result["documents"][0]["meta"]["file_path"] == "103.txt"
    assert result["timings_ms"]["total"] > 0


def test_same_question_same_answer(service_url):
    body = {"query": "What does the T Tablet cost without a mobile plan?"}
    first, second = (_post(service_url, "/ask/run", body).json()["result"] for _ in range(2))
    assert first["answer"] == second["answer"]
    assert [d["id"] for d in first["documents"]] == [d["id"] for d in second["documents"]]


def test_year_filter_restricts_sources(service_url):
    filters = {"operator": "AND", "conditions": [{"field": "meta.year", "operator": ">=", "value": 2022},
                                                  {"field": "meta.year", "operator": "<=", "value": 2022}]}
    documents = _post(service_url, "/search/run", {"query": "fiber expansion", "top_k": 10, "filters": filters}).json()["result"]["documents"]
    assert documents and all(d["meta"]["year"] == 2022 for d in documents)


def test_streaming_events_and_openai_endpoint(service_url):
    with httpx.stream("POST", service_url + "/ask/stream", json={"query": "Who developed the T-DevEdge API platform?"}, timeout=60) as r:
        assert r.status_code == 200
        events = [line.split(": ", 1)[1] for line in r.iter_lines() if line.startswith("event: ")]
    assert events[0] == "sources" and events[-1] == "done" and "delta" in events

    body = {"model": "ask", "stream": True, "messages": [{"role": "user", "content": "What is the Kira B 50?"}]}
    with httpx.stream("POST", service_url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        text = "".join(
            (json.loads(line[6:])["choices"][0]["delta"].get("content") or "")
            for line in r.iter_lines() if line.startswith("data: {")
        )
    assert "Kärcher" in text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/ask/run", {"query": ""}),
        ("/ask/run", {"query": "   \n "}),
        ("/ask/run", {"query": "why " * 1000}),
        ("/search/run", {"query": "fiber", "top_k": 0}),
        ("/search/run", {"query": "fiber", "top_k": 10_000}),
        ("/search/run", {"query": "fiber", "top_k": "many"}),
        ("/search/run", {"query": 42}),
        ("/search/run", {"query": "fiber", "filters": {"field": "meta.year", "operator": "~", "value": 1}}),
        ("/search/run", {"query": "fiber", "filters": {"operator": "AND", "conditions": "no"}}),
        ("/ask/stream", {"query": ""}),
    ],
)
def test_bad_input_gets_a_clear_4xx(service_url, path, body):
    reply = _post(service_url, path, body)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["detail"]


def test_reindexing_keeps_the_chunk_count_and_replaces_changed_releases(service_url, corpus_dir):
    auth = {"Authorization": f"Bearer {INDEX_TOKEN}"}
    before = httpx.get(service_url + "/health").json()["documents"]
    names = ["103.txt", "67.txt", "15.txt"]
    texts = [{"name": n, "content": (corpus_dir / n).read_text()} for n in names]
    reply = _post(service_url, "/index/run", {"texts": texts}, headers=auth)
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"]["chunks_removed"] == 0
    assert httpx.get(service_url + "/health").json()["documents"] == before

    # a changed release replaces its chunks; restoring it restores the count
    changed = [{"name": "67.txt", "content": "A short replacement text about DATEV and an ID wallet pilot."}]
    result = _post(service_url, "/index/run", {"texts": changed}, headers=auth).json()["result"]
    assert result["chunks_written"] == 1 and result["chunks_removed"] > 0
    assert "replacement" in httpx.get(service_url + "/releases/67.txt").json()["content"]
    _post(service_url, "/index/run", {"texts": texts[1:2]}, headers=auth)
    assert httpx.get(service_url + "/health").json()["documents"] == before


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
    before = httpx.get(indexed_service.url + "/health").json()["documents"]
    # a second process on the same data, with no corpus to index: it must load the persisted index
    second = ServiceProcess(indexed_service.data_dir, corpus=tmp_path / "empty").start(timeout=180)
    try:
        health = httpx.get(second.url + "/health").json()
        assert health["documents"] == before
        assert health["indexing"]["files_done"] == 0
        answer = _post(second.url, "/search/run", {"query": "EUROGATE ports", "top_k": 1}).json()["result"]
        assert answer["documents"][0]["meta"]["file_path"] == "103.txt"
    finally:
        second.stop()


def test_pipelines_cannot_be_deployed_or_undeployed_over_http(service_url):
    assert _post(service_url, "/undeploy/search", {}).status_code in (404, 405)
    assert _post(service_url, "/deploy-yaml", {"name": "x", "source_code": "components: {}"}).status_code in (404, 405)
    assert (REPO / "pipelines" / "search" / "search.yml").exists()
    assert _post(service_url, "/search/run", {"query": "fiber"}).status_code == 200
