"""LLM faults degrade (issue #5): whatever the LLM does, /ask answers with the extractive answer and a warning,
within the service's deadline (PRESSQA_ANSWER_TIMEOUT, pipelines/ask/answering.py), and never shows the API key.

One service in LLM mode points at a fixed loopback port; each test puts a different LLM there: the stand-in
(scripts/llm_standin.py) with a fault for every request (`--fault`: the service does not forward headers, so
the per-request header cannot reach it), nothing at all (connection refused), or a server that echoes the key.
"""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import httpx
import pytest
import uvicorn
from hardening_support import service_on_copy, tiny_corpus
from service_process import free_port, running_standin
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

pytestmark = pytest.mark.e2e

ANSWER_TIMEOUT = 3  # seconds, PRESSQA_ANSWER_TIMEOUT of the service under test
GRACE = 5  # seconds on top: search, the extractive answer, a loaded machine
API_KEY = "sk-" + "test-hardening-0123456789abcdef"  # split: no key-looking literal in the repository
QUESTION = {"query": "At which ports is Deutsche Telekom building 5G campus networks for EUROGATE?"}
QUICK = ("--ttft", "0.1", "--tokens-per-second", "200", "--tokens", "40", "--fault-sleep", "15")


@pytest.fixture(scope="module")
def llm_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def llm_service(tmp_path_factory, llm_port):
    data_dir = tmp_path_factory.mktemp("llm-faults")
    service = service_on_copy(
        data_dir,
        corpus=tiny_corpus(data_dir / "corpus"),
        OPENAI_API_KEY=API_KEY,
        OPENAI_BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        PRESSQA_LLM_MODEL="llm-standin",
        PRESSQA_ANSWER_TIMEOUT=str(ANSWER_TIMEOUT),
    ).start(timeout=300)
    assert httpx.get(f"{service.url}/ready").json()["answer_mode"] == "llm"
    yield service
    service.stop()


def ask(url: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    reply = httpx.post(f"{url}/ask/run", json=QUESTION, timeout=60)
    return reply, time.perf_counter() - started


def ask_stream(url: str) -> tuple[list[tuple[str, dict]], float]:
    """The SSE events of /ask/stream as (event, data) pairs, and the seconds the stream took."""
    started = time.perf_counter()
    events, event = [], None
    with httpx.stream("POST", f"{url}/ask/stream", json=QUESTION, timeout=60) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
    return events, time.perf_counter() - started


def test_without_a_fault_the_answer_comes_from_the_llm(llm_service, llm_port):
    with running_standin(*QUICK, port=llm_port):
        reply, _ = ask(llm_service.url)
        events, _ = ask_stream(llm_service.url)
    result = reply.json()["result"]
    assert result["mode"] == "llm" and result["warning"] is None
    assert "[1]" in result["answer"] and result["documents"]
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert events[-1][1]["mode"] == "llm" and events[-1][1]["warning"] is None
    assert sum(e == "delta" for e, _ in events) > 1  # streamed token by token


FAULTS = {
    "timeout": "did not answer within",
    "401": "failed",
    "429": "failed",
    "500": "failed",
    "malformed": "",  # a broken stream: an error or an empty reply, both degrade
    "connection refused": "failed",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_llm_fault_degrades_to_the_extractive_answer(llm_service, llm_port, fault):
    llm = nullcontext() if fault == "connection refused" else running_standin("--fault", fault, *QUICK, port=llm_port)
    with llm:
        reply, seconds = ask(llm_service.url)
        events, stream_seconds = ask_stream(llm_service.url)

    assert reply.status_code == 200, reply.text
    result = reply.json()["result"]
    assert result["mode"] == "extractive" and result["documents"]
    assert "Hamburg" in result["answer"] and "[1]" in result["answer"]
    assert result["warning"].startswith("No generated answer") and FAULTS[fault] in result["warning"]
    assert seconds < ANSWER_TIMEOUT + GRACE, f"/ask/run took {seconds:.1f} s"

    done = events[-1]
    assert events[0][0] == "sources" and done[0] == "done", events
    assert done[1]["mode"] == "extractive" and done[1]["warning"].startswith("No generated answer")
    assert "Hamburg" in done[1]["answer"]
    assert stream_seconds < ANSWER_TIMEOUT + GRACE, f"/ask/stream took {stream_seconds:.1f} s"
    assert API_KEY not in reply.text + json.dumps(events)


@contextmanager
def key_echoing_llm(port: int) -> Iterator[list[str]]:
    """An OpenAI-like server that refuses every key with 401 and repeats the key in its message, as OpenAI's
    own "Incorrect API key provided: sk-…" does; yields the list of keys it was shown."""
    shown: list[str] = []

    async def chat(request: Request) -> JSONResponse:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        shown.append(key)
        message = f"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys."
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
        return JSONResponse({"error": error}, status_code=401)

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "key-echoing server did not start"
        time.sleep(0.05)
    try:
        yield shown
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_llm_error_that_repeats_the_key_is_redacted(llm_service, llm_port):
    streams_logged = llm_service.log_path.read_text(errors="replace").count('"POST /ask/stream')
    with key_echoing_llm(llm_port) as shown:
        reply, _ = ask(llm_service.url)
        events, _ = ask_stream(llm_service.url)
    assert API_KEY in shown  # the LLM was given the key and put it in its error message
    warnings = [reply.json()["result"]["warning"], events[-1][1]["warning"]]
    assert all("Incorrect API key provided" in w for w in warnings), warnings  # the message got through ...
    assert API_KEY not in reply.text and API_KEY not in json.dumps(events)  # ... without the key
    deadline = time.monotonic() + 10
    while (log := llm_service.log_path.read_text(errors="replace")).count('"POST /ask/stream') == streams_logged:
        assert time.monotonic() < deadline, "the stream's access line was never logged"
        time.sleep(0.05)
    assert API_KEY not in log
