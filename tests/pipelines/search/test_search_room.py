"""The search room end to end: POST /search/run on the session's service, indexed on the whole corpus from ../shared."""

import json
from pathlib import Path

import httpx
import pytest
from service_process import REPO

pytestmark = pytest.mark.e2e
DEV_SET = REPO.parent / "shared" / "eval" / "dev.jsonl"


def _dev_questions() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]


def _post(url: str, path: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, **kw)


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


def test_year_filter_restricts_sources(service_url):
    filters = {"operator": "AND", "conditions": [{"field": "meta.year", "operator": ">=", "value": 2022},
                                                  {"field": "meta.year", "operator": "<=", "value": 2022}]}
    documents = _post(service_url, "/search/run", {"query": "fiber expansion", "top_k": 10, "filters": filters}).json()["result"]["documents"]
    assert documents and all(d["meta"]["year"] == 2022 for d in documents)
