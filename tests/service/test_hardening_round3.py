"""Hardening, round three (issue #21): what a hostile release, a dying worker and an idle connection broke, checked
from outside against real service processes (HTTP, raw sockets, kill -9). Each test names its row of the issue.

- `guarded`: one worker, a tiny corpus of four real releases, a read token and the index token; a short request-head
  timeout and a small admission limit, so that a test can reach them.
- `with_llm`: one worker answering through the LLM STAND-IN (scripts/llm_standin.py: a fake OpenAI-compatible
  server, not a real LLM) whose answers copy source sentences and cite them; at most two event streams.
- Row 1 runs its own two-worker service on 40 real releases and kills its indexing worker.
Both fixtures serve a private copy of pipelines/ (hardening_support.service_on_copy).
"""

import asyncio
import json
import os
import re
import signal
import socket
import time
from pathlib import Path

import httpx
import psutil
import pytest
from hardening_support import service_on_copy, tiny_corpus
from service_process import CORPUS, INDEX_TOKEN, free_port, running_standin

pytestmark = pytest.mark.e2e

READ_TOKEN = "test-read-token-21cd"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
INDEX = {"Authorization": f"Bearer {INDEX_TOKEN}"}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}
HEAD_TIMEOUT = 3  # PRESSQA_HEADER_TIMEOUT_SECONDS of `guarded`
MAX_ACTIVE = 2  # PRESSQA_MAX_ACTIVE_REQUESTS of `guarded`
MAX_STREAMS = 2  # PRESSQA_MAX_STREAMS of `with_llm`
TIMEOUT = 60
HUGE_NUMBER = "9" * 5000  # Python's int() refuses more than 4,300 digits
QUOKKA = f"The quokkaphone costs 5 euros [{HUGE_NUMBER}]. Telekom sells it in Bonn from March 2024."
MARKDOWN_RELEASE = ("![x](http://outside.example/p.png?leak=1)\n\nThe quokka tour costs 7 euros per person. "
                    "Book it at [the desk](javascript:alert(1)) or <img src=http://outside.example/q.png>.")
# A Markdown link or image whose brackets are not escaped: what a chat client renders (and fetches, for images).
ACTIVE_MARKDOWN = re.compile(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(|(?<!\\)<img")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("round3")
    service = service_on_copy(
        data_dir, corpus=tiny_corpus(data_dir / "corpus"), PRESSQA_WORKERS="1", PRESSQA_READ_TOKEN=READ_TOKEN,
        PRESSQA_HEADER_TIMEOUT_SECONDS=str(HEAD_TIMEOUT), PRESSQA_MAX_ACTIVE_REQUESTS=str(MAX_ACTIVE),
    ).start(timeout=300)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def with_llm(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("round3-llm")
    port = free_port()
    with running_standin("--ttft", "1.0", "--tokens-per-second", "40", "--tokens", "60", port=port):
        service = service_on_copy(
            data_dir, corpus=tiny_corpus(data_dir / "corpus"), PRESSQA_WORKERS="1", PRESSQA_MAX_STREAMS=str(MAX_STREAMS),
            OPENAI_API_KEY="sk-test-round3-0123456789", OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
            PRESSQA_LLM_MODEL="llm-standin",
        ).start(timeout=300)
        try:
            yield service
        finally:
            service.stop()


def index(url: str, texts: list[dict]) -> httpx.Response:
    """POST /index/run with the index token (the index routes need it alone, also where reads need a token)."""
    return httpx.post(f"{url}/index/run", json={"texts": texts}, headers=INDEX, timeout=300)


def chat(url: str, question: str, headers: dict | None = None, **options) -> httpx.Response:
    body = {"model": "ask", "messages": [{"role": "user", "content": question}], **options}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=TIMEOUT)


def chat_stream(url: str, question: str, headers: dict | None = None) -> list[dict]:
    """The chunks of a streamed chat answer (asserts 200 and a well-formed end)."""
    body = {"model": "ask", "stream": True, "messages": [{"role": "user", "content": question}]}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=TIMEOUT) as reply:
        assert reply.status_code == 200, reply.read()[:300]
        lines = [line[6:] for line in reply.iter_lines() if line.startswith("data: ") and line != "data: [DONE]"]
    return [json.loads(line) for line in lines]


def mcp_call(url: str, tool: str, arguments: dict, headers: dict | None = None, raw: str | None = None) -> httpx.Response:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    content = raw if raw is not None else json.dumps(call)
    return httpx.post(f"{url}/mcp", content=content, timeout=TIMEOUT,
                      headers={**MCP_ACCEPT, "Content-Type": "application/json", **(headers or {})})


def mcp_result(reply: httpx.Response) -> dict:
    """The JSON-RPC message of an MCP reply, sent as JSON or as one event of a stream."""
    text = reply.text
    if reply.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[6:] for line in text.splitlines() if line.startswith("data: "))
    return json.loads(text)


def absolute_paths(text: str, *roots: Path) -> list[str]:
    return [str(root) for root in roots if str(root) in text]


# ---------------------------------------------------------------------------- row 1: start-up indexing survives its worker


def indexing_lock_holder(service) -> int | None:
    """The pid of the worker holding the run folder's indexing.lock (an indexing job), read from /proc/locks."""
    for child in psutil.Process(service.process.pid).children(recursive=True):
        run_dir = child.environ().get("PRESSQA_RUN_DIR")
        if run_dir and (lock := Path(run_dir) / "indexing.lock").exists():
            inode = lock.stat().st_ino
            for line in Path("/proc/locks").read_text().splitlines():
                fields = line.split()
                if fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):  # a holder ("->" lines wait)
                    return int(fields[4])
    return None


def test_row_1_start_up_indexing_resumes_when_its_worker_is_killed(tmp_path):
    """Two workers, 40 releases to index at start: kill -9 the worker that indexes; the index still becomes complete
    (its respawned successor or the other worker resumes), with every release."""
    names = tuple(p.name for p in sorted(CORPUS.glob("*.txt"))[:40])  # a batch of 32, then 8
    corpus = tiny_corpus(tmp_path / "corpus", names)
    service = service_on_copy(tmp_path / "data", corpus=corpus, PRESSQA_WORKERS="2").start(timeout=300, until_indexed=False)
    try:
        deadline = time.monotonic() + 300
        while (victim := indexing_lock_holder(service)) is None:
            assert time.monotonic() < deadline, "no worker started indexing"
            time.sleep(0.05)
        time.sleep(3)  # mid-indexing
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        while not ((ready := service.ready()).get("index") or {}).get("complete"):
            assert time.monotonic() - killed_at < 240, f"the index stayed incomplete after the kill: {ready}"
            time.sleep(1)
        print(f"complete {time.monotonic() - killed_at:.0f} s after the kill: {ready['index']}")
        releases = {r["file_path"] for r in httpx.get(f"{service.url}/releases", timeout=TIMEOUT).json()["releases"]}
        assert releases == set(names)
    finally:
        service.stop()


# ---------------------------------------------------------------------------- row 2: a huge bracketed number in a release


def test_row_2_a_release_holding_a_huge_bracketed_number_is_answered_everywhere(guarded):
    """Extractive answers copy the release's sentence with its '[' + 5,000 digits + ']': chat (plain and streamed),
    /ask/run and MCP all answer, citing the release."""
    url = guarded.url
    assert index(url, [{"name": "quokka.txt", "content": QUOKKA}]).status_code == 200
    question = "How much does the quokkaphone cost?"
    reply = chat(url, question, READ)
    assert reply.status_code == 200, reply.text[:300]
    assert "5 euros" in reply.json()["choices"][0]["message"]["content"]
    assert [s["file"] for s in reply.json()["sources"]][:1] == ["quokka.txt"]
    chunks = chat_stream(url, question, READ)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop", chunks[-1]  # the stream ends as streams do
    assert not any("error" in chunk for chunk in chunks)
    ask = httpx.post(f"{url}/ask/run", json={"query": question}, headers=READ, timeout=TIMEOUT)
    assert ask.status_code == 200 and "5 euros" in ask.json()["result"]["answer"]
    result = mcp_result(mcp_call(url, "ask_press_releases", {"question": question}, READ))
    assert "result" in result and not result["result"].get("isError"), str(result)[:300]
    assert "5 euros" in result["result"]["structuredContent"]["answer"]


def test_row_2_an_llm_answer_copying_the_huge_number_is_kept(with_llm):
    """The stand-in copies the sentence (and its digits: 2,000 characters of a chunk now, all 5,000 before) and cites
    it: the citation check runs, the LLM answer is the one returned (before: thrown away for the extractive one)."""
    url = with_llm.url
    assert index(with_llm.url, [{"name": "quokka.txt", "content": QUOKKA}]).status_code == 200
    reply = httpx.post(f"{url}/ask/run", json={"query": "How much does the quokkaphone cost?"}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text[:300]
    result = reply.json()["result"]
    assert result["mode"] == "llm" and result["warning"] is None, result["warning"]
    assert "The quokkaphone costs 5 euros [" + "9" * 1000 in result["answer"]


# ---------------------------------------------------------------------------- row 3: characters, not only words


def test_row_3_a_line_without_spaces_is_cut_into_bounded_chunks_and_title(guarded):
    url = guarded.url
    line = "a" * 999_000
    reply = index(url, [{"name": "oneline.txt", "content": line}])
    assert reply.status_code == 200, reply.text[:300]
    releases = httpx.get(f"{url}/releases", headers=READ, timeout=TIMEOUT)
    entry = next(r for r in releases.json()["releases"] if r["file_path"] == "oneline.txt")
    print(f"/releases: {len(releases.content)} bytes; title {len(entry['title'])} characters; {entry['chunks']} chunks")
    assert len(entry["title"]) <= 150 and len(releases.content) < 20_000
    search = httpx.post(f"{url}/search/run", json={"query": "a" * 50, "top_k": 10}, headers=READ, timeout=TIMEOUT)
    assert search.status_code == 200
    assert all(len(d["content"]) <= 2000 for d in search.json()["result"]["documents"])
    assert len(search.content) < 60_000, len(search.content)
    # the release is still whole: stitched from its pieces
    assert httpx.get(f"{url}/releases/oneline.txt", headers=READ, timeout=TIMEOUT).json()["content"] == line


# ---------------------------------------------------------------------------- row 4: a write that did not happen


@pytest.mark.parametrize("content", ["\u00ad\u00ad", "Sorry, we are not allowed to show you this content due to your cookie settings.",
                                     "\u200b\u200d\u2060\ufeff"], ids=["soft-hyphens", "cookie-banner", "zero-width"])
def test_row_4_a_release_that_cleans_to_nothing_is_refused_and_the_old_version_kept(guarded, content):
    url = guarded.url
    before = httpx.get(f"{url}/releases/103.txt", headers=READ, timeout=TIMEOUT).json()
    reply = index(url, [{"name": "103.txt", "content": content}])
    assert reply.status_code == 422, reply.text[:300]
    assert "nothing" in reply.json()["detail"].lower()
    assert httpx.get(f"{url}/releases/103.txt", headers=READ, timeout=TIMEOUT).json() == before
    new = index(url, [{"name": "never.txt", "content": content}])
    assert new.status_code == 422, new.text[:300]
    assert httpx.get(f"{url}/releases/never.txt", headers=READ, timeout=TIMEOUT).status_code == 404


def test_row_4_results_say_what_happened_per_release(guarded, corpus_dir):
    url = guarded.url
    text = (corpus_dir / "67.txt").read_text(encoding="utf-8")
    reply = index(url, [{"name": "67.txt", "content": text}, {"name": "fresh.txt", "content": "Telekom opens a quokka lab."},
                        {"name": "banner.txt", "content": "Sorry, we are not allowed to show you this content due to your cookie settings."}])
    assert reply.status_code == 207, reply.text[:300]  # some written, one not
    results = {r["release"]: r for r in reply.json()["result"]["releases"]}
    assert results["67.txt"]["result"] == "unchanged" and results["fresh.txt"]["result"] == "added"
    assert results["banner.txt"]["result"] == "rejected" and "cleaning" in results["banner.txt"]["reason"]
    again = index(url, [{"name": "fresh.txt", "content": "Telekom opens a bigger quokka lab."}])
    assert again.status_code == 200 and again.json()["result"]["releases"] == [{"release": "fresh.txt", "result": "replaced"}]


# ---------------------------------------------------------------------------- row 5 and row 12: filters


LIST_FILTERS = [
    {"field": "meta.dates", "operator": ">", "value": 1},
    {"operator": "OR", "conditions": [{"field": "meta.year", "operator": "==", "value": 2023},
                                      {"field": "meta.dates", "operator": "<=", "value": 5}]},
    {"field": "meta.dates", "operator": ">=", "value": "2023-01-01"},
]


@pytest.mark.parametrize("path", ["/search/run", "/ask/run", "/ask/stream"])
@pytest.mark.parametrize("filters", LIST_FILTERS, ids=["gt-number", "inside-or", "iso-date"])
def test_row_5_filters_on_list_fields_get_a_clear_422(guarded, path, filters):
    reply = httpx.post(guarded.url + path, json={"query": "5G ports", "filters": filters}, headers=READ, timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text[:300]
    detail = reply.json()["detail"]
    assert "meta.dates" in detail and "Pipeline" not in detail and "Component" not in detail, detail


@pytest.mark.parametrize("filters", [{"field": "meta.year", "operator": ">", "value": "2022-01-01"},
                                     {"field": "meta.title", "operator": ">", "value": "2022-01-01"}])
def test_row_12_a_filter_error_does_not_blame_an_iso_date(guarded, filters):
    reply = httpx.post(f"{guarded.url}/search/run", json={"query": "5G", "filters": filters}, headers=READ, timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text[:300]
    detail = reply.json()["detail"]
    assert "ISO formatted dates" not in detail and filters["field"] in detail, detail


# ---------------------------------------------------------------------------- row 6: connections held without limit


def test_row_6_mcp_event_streams_are_not_held_open(guarded):
    """GET /mcp opened an event stream that never ended (500 of them: +40 MB, 500 sockets); each is answered now."""

    async def open_streams() -> list[int]:
        async with httpx.AsyncClient(base_url=guarded.url, timeout=5, headers={**READ, "Accept": "text/event-stream"},
                                     limits=httpx.Limits(max_connections=60)) as client:

            async def one() -> int:
                try:
                    async with client.stream("GET", "/mcp") as reply:
                        await reply.aread()
                        return reply.status_code
                except httpx.ReadTimeout:
                    return -1  # still open after 5 s

            return await asyncio.gather(*(one() for _ in range(50)))

    statuses = asyncio.run(open_streams())
    assert -1 not in statuses and all(400 <= s < 500 for s in statuses), statuses


def trickle(url: str, connections: int, seconds: float) -> list[str]:
    """Open `connections` sockets that send a request head one byte a second; per socket after `seconds`: "closed"
    (the server answered and closed, or reset), or "open"."""
    host, port = url.removeprefix("http://").split(":")
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    sockets = [socket.create_connection((host, int(port)), timeout=5) for _ in range(connections)]
    fates = {}
    started = time.monotonic()
    for second in range(int(seconds)):
        for index, sock in enumerate(sockets):
            if index in fates:
                continue
            try:
                sock.sendall(head[second : second + 1])
            except OSError:
                fates[index] = "closed"
        time.sleep(max(0.0, started + second + 1 - time.monotonic()))
    for index, sock in enumerate(sockets):
        if index not in fates:
            sock.setblocking(False)
            try:
                fates[index] = "open" if sock.recv(1024, socket.MSG_PEEK) is None else "closed"
            except BlockingIOError:
                fates[index] = "open"
            except OSError:
                fates[index] = "closed"
        sock.close()
    return [fates[i] for i in range(connections)]


def test_row_6_slow_request_heads_and_idle_connections_are_closed(guarded):
    fates = trickle(guarded.url, connections=30, seconds=HEAD_TIMEOUT + 5)
    assert fates.count("closed") == 30, fates
    host, port = guarded.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=HEAD_TIMEOUT + 5) as idle:  # sends nothing at all
        started = time.monotonic()
        reply = idle.recv(1024)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 408"), reply[:80]
        assert time.monotonic() - started < HEAD_TIMEOUT + 3


def test_row_6_streams_beyond_the_cap_are_refused_with_retry_after(with_llm):
    async def streams() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=with_llm.url, timeout=TIMEOUT) as client:

            async def one(n: int) -> httpx.Response:
                async with client.stream("POST", "/ask/stream", json={"query": f"Which ports get 5G? ({n})"}) as reply:
                    await reply.aread()
                    return reply

            return await asyncio.gather(*(one(n) for n in range(MAX_STREAMS + 3)))

    replies = asyncio.run(streams())
    statuses = [r.status_code for r in replies]
    print(f"statuses: {statuses}")
    assert set(statuses) <= {200, 503} and statuses.count(200) >= MAX_STREAMS and 503 in statuses, statuses
    assert all(r.headers.get("retry-after") == "1" and "detail" in r.json() for r in replies if r.status_code == 503)


# ---------------------------------------------------------------------------- row 7: Markdown from a release


def test_row_7_markdown_from_a_release_is_inert_in_chat_replies(guarded):
    url = guarded.url
    assert index(url, [{"name": "tour.txt", "content": MARKDOWN_RELEASE}]).status_code == 200
    question = "How much does the quokka tour cost, and where do I book it?"
    reply = chat(url, question, READ)
    assert reply.status_code == 200
    text = reply.json()["choices"][0]["message"]["content"]
    assert "quokka tour" in text and "tour.txt" in text, text  # the release is cited and listed
    assert not ACTIVE_MARKDOWN.search(text), text
    streamed = "".join(c["choices"][0]["delta"]["content"] or "" for c in chat_stream(url, question, READ) if c["choices"])
    assert "tour.txt" in streamed and not ACTIVE_MARKDOWN.search(streamed), streamed
    assert re.search(r"\[\d\]", text)  # the citations stay citations


# ---------------------------------------------------------------------------- row 8: liveness and readiness


def test_row_8_health_is_open_and_minimal_the_details_need_the_read_token(guarded):
    health = httpx.get(f"{guarded.url}/health", timeout=TIMEOUT)
    assert health.status_code == 200 and health.json() == {"status": "ok"}, health.text
    assert httpx.get(f"{guarded.url}/ready", timeout=TIMEOUT).status_code == 401
    ready = httpx.get(f"{guarded.url}/ready", headers=READ, timeout=TIMEOUT)
    assert ready.status_code == 200 and ready.json()["documents"] > 0 and ready.json()["index"]["complete"]
    text = ready.text
    assert not absolute_paths(text, guarded.data_dir, Path(__file__).resolve().parents[2], Path("/tmp")), text
    assert "pid" not in ready.json() and "pid" not in ready.json()["indexing"], text


# ---------------------------------------------------------------------------- row 9: Host and Origin


def test_row_9_foreign_host_names_and_origins_are_refused(guarded):
    url = guarded.url
    rebound = httpx.get(f"{url}/releases", headers={**READ, "Host": "evil.example.com"}, timeout=TIMEOUT)
    assert rebound.status_code == 400 and "PRESSQA_ALLOWED_HOSTS" in rebound.json()["detail"]
    foreign = mcp_call(url, "search_press_releases", {"query": "5G"}, {**READ, "Origin": "http://evil.example.com"})
    assert foreign.status_code == 403, foreign.text[:300]
    own_page = httpx.post(f"{url}/search/run", json={"query": "5G"}, timeout=TIMEOUT,
                          headers={**READ, "Origin": url, "Host": url.removeprefix("http://")})
    assert own_page.status_code == 200
    assert httpx.get(f"{url}/releases", headers={**READ, "Host": "localhost"}, timeout=TIMEOUT).status_code == 200


# ---------------------------------------------------------------------------- row 11: excess work refused at once


def test_row_11_excess_work_is_refused_with_503_and_retry_after(guarded):
    """30 concurrent searches on a worker that admits 2: the excess gets 503 + Retry-After at once, nothing else
    fails, and /health answers all along. (/health's latency under 50 clients is a benchmark's, README Results.)"""

    async def load() -> tuple[list[httpx.Response], list[int]]:
        async with httpx.AsyncClient(base_url=guarded.url, headers=READ, timeout=TIMEOUT,
                                     limits=httpx.Limits(max_connections=40)) as client:
            health: list[int] = []
            done = asyncio.Event()

            async def probe() -> None:
                while not done.is_set():
                    health.append((await client.get("/health")).status_code)
                    await asyncio.sleep(0.05)

            prober = asyncio.create_task(probe())
            replies = await asyncio.gather(*(client.post("/search/run", json={"query": f"5G campus ports {n}"})
                                             for n in range(30)))
            done.set()
            await prober
            return replies, health

    replies, health = asyncio.run(load())
    statuses = [r.status_code for r in replies]
    print(f"statuses: {sorted(statuses)}; /health: {len(health)} probes")
    assert set(statuses) <= {200, 503} and 503 in statuses and 200 in statuses, statuses
    assert all(r.headers.get("retry-after") == "1" and r.json()["detail"] for r in replies if r.status_code == 503)
    assert health and set(health) == {200}


# ---------------------------------------------------------------------------- row 12: the minor ones


def test_row_12_deeply_nested_mcp_json_is_a_client_error(guarded):
    raw = ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search_press_releases", '
           '"arguments": {"query": "5G", "x": ' + "[" * 5000 + "]" * 5000 + "}}}")
    reply = mcp_call(guarded.url, "", {}, READ, raw=raw)
    assert reply.status_code < 500, reply.text[:300]
    if reply.status_code == 200:
        assert mcp_result(reply).get("error", {}).get("code") != -32603, reply.text[:300]


def test_row_12_chat_refuses_n_above_one(guarded):
    reply = chat(guarded.url, "Which ports get 5G?", READ, n=3)
    assert reply.status_code == 422 and "'n'" in reply.json()["detail"], reply.text[:300]


def test_row_12_index_files_replies_like_index_run(guarded):
    files = [("files", ("upload-shape.txt", b"Telekom tests the reply shape of uploads.", "text/plain"))]
    reply = httpx.post(f"{guarded.url}/index/files", files=files, headers={**INDEX}, timeout=300)
    assert reply.status_code == 200 and set(reply.json()) == {"result"}, reply.text[:300]
    assert reply.json()["result"]["files"] == 1


def test_row_12_a_release_of_zero_width_characters_gets_no_invisible_title(guarded):
    reply = index(guarded.url, [{"name": "invisible.txt", "content": "\u200b" * 20 + "\u2060\u200c"}])
    assert reply.status_code == 422, reply.text[:300]
    titles = {r["file_path"]: r["title"] for r in httpx.get(f"{guarded.url}/releases", headers=READ).json()["releases"]}
    assert "invisible.txt" not in titles
    assert all(title and title.strip("\u200b\u200c\u200d\u2060\ufeff ") for title in titles.values()), titles
