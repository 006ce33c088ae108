"""The ask room end to end: POST /ask/run, /ask/stream and /v1/chat/completions on the session's service."""

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e


def _post(url: str, path: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, **kw)


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


STARLINK = "What partnership has Deutsche Telekom announced with SpaceX's Starlink?"


def test_a_question_the_releases_do_not_answer_is_refused_and_flagged_everywhere(service_url):
    """REST, the stream's done event and the chat reply say `answerable: false`; the answer names what no release
    mentions and cites the related releases it lists."""
    result = _post(service_url, "/ask/run", {"query": STARLINK}).json()["result"]
    assert result["answerable"] is False and result["answerability"] <= 0.05
    assert result["answer"].startswith("The press releases do not contain information about SpaceX, Starlink.")
    assert "Related: " in result["answer"] and "[1]" in result["answer"]
    with httpx.stream("POST", service_url + "/ask/stream", json={"query": STARLINK}, timeout=60) as r:
        lines = list(r.iter_lines())
    done = json.loads(lines[lines.index("event: done") + 1].removeprefix("data: "))
    assert done["answerable"] is False and done["answer"] == result["answer"]
    chat = _post(service_url, "/v1/chat/completions", {"model": "ask", "messages": [{"role": "user", "content": STARLINK}]}).json()
    assert chat["answerable"] is False and chat["choices"][0]["message"]["content"].startswith(result["answer"])
    answered = _post(service_url, "/ask/run", {"query": "What does the T Tablet cost without a mobile plan?"}).json()["result"]
    assert answered["answerable"] is True and "219 euros" in answered["answer"]
