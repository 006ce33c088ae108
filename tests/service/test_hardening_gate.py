"""Hardening, round two (issue #12, rows 1-4, 9-11, 13): nothing is read or logged before the token and the body
limit are checked, on every route; bad input is a short 4xx, never a 500 or an echo of the input.

Against a real service process (`gated_service`: a read token, the index token, a 300 kB limit for the index
routes, the default 256 kB for the others, a tiny corpus of four real releases). Where a property is about
the app's wiring rather than a running process (a route mounted after create_app, CORS configured), the
tests build the app in-process.
"""

import re
import socket
import time

import httpx
import pytest
from hardening_support import service_on_copy, tiny_corpus
from service_process import INDEX_TOKEN

pytestmark = pytest.mark.e2e

READ_TOKEN = "test-read-token-12ab"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
INDEX = {"Authorization": f"Bearer {INDEX_TOKEN}"}
JSON = {"Content-Type": "application/json"}
MAX_INDEX_BODY = 300_000
MAX_BODY = 262_144  # PRESSQA_MAX_BODY_BYTES' default
TIMEOUT = 60
FAST = 2.0  # seconds: a refusal that takes longer has read (or waited for) the body


@pytest.fixture(scope="module")
def gated_service(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("gated")
    service = service_on_copy(
        data_dir,
        corpus=tiny_corpus(data_dir / "corpus"),
        PRESSQA_READ_TOKEN=READ_TOKEN,
        PRESSQA_MAX_REQUEST_BYTES=str(MAX_INDEX_BODY),
    ).start(timeout=300)
    yield service
    service.stop()


def rss_kib(pid: int) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def raw_request(url: str, head: str, body: bytes = b"", timeout: float = 10) -> tuple[int, str, float]:
    """Send `head` (request line and headers) and `body` over a raw socket; the status, the reply and the
    seconds until the reply arrived. The socket never sends more than `body`: a server that waits for the
    declared rest of the body times out here."""
    host, port = url.removeprefix("http://").split(":")
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply) < reply.find(b"\r\n\r\n") + 4 + _length(reply):
            data = conn.recv(65536)
            if not data:
                break
            reply += data
    seconds = time.perf_counter() - started
    return int(reply.split(b" ", 2)[1]), reply.decode(errors="replace"), seconds


def _length(reply: bytes) -> int:
    found = re.search(rb"content-length: (\d+)", reply, re.IGNORECASE)
    return int(found.group(1)) if found else 0


def wait_for_log(service, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while text not in (log := service.log_path.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{text!r} not logged"
        time.sleep(0.1)
    return log


# ---------------------------------------------------------------------------- row 2: auth and limits first


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [("/index/run", "", 401), ("/index/files", "", 401), ("/search/run", "", 401),
     ("/index/run", f"Authorization: Bearer {INDEX_TOKEN}\r\n", 413),
     ("/search/run", f"Authorization: Bearer {READ_TOKEN}\r\n", 413)],
    ids=["index-no-token", "files-no-token", "search-no-token", "index-too-large", "search-too-large"],
)
def test_a_declared_100_mb_body_is_refused_before_it_is_read(gated_service, path, headers, status):
    """Content-Length says 100 MB, not one byte of it is sent: the reply comes at once (a server that read
    or waited for the body would time out), 401 without the token, 413 with it."""
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Type: application/json\r\n"
            f"Content-Length: 100000000\r\n")
    code, reply, seconds = raw_request(gated_service.url, head)
    print(f"{path}: {code} after {seconds * 1000:.0f} ms")
    assert code == status, reply[:500]
    assert seconds < FAST, f"{seconds:.2f} s"
    assert '"detail"' in reply


def test_a_chunked_body_is_counted_as_it_streams_in(gated_service):
    """No Content-Length (chunked): 413 once the bytes that arrived pass the limit, without taking the rest
    into memory."""
    pid = gated_service.process.pid
    before = rss_kib(pid)
    sent = 0

    def chunks():
        nonlocal sent
        for _ in range(200):  # up to 200 MB if the server kept reading
            sent += 1_000_000
            yield b" " * 1_000_000

    started = time.perf_counter()
    reply = httpx.post(f"{gated_service.url}/index/run", content=chunks(), headers=INDEX | JSON, timeout=TIMEOUT)
    seconds = time.perf_counter() - started
    assert reply.status_code == 413, reply.text[:300]
    assert "limit" in reply.json()["detail"]
    assert sent < 50_000_000, f"the client could send {sent} bytes"
    assert rss_kib(pid) - before < 50_000, f"RSS grew by {(rss_kib(pid) - before) // 1024} MiB"
    print(f"413 after {sent} bytes sent, {seconds:.2f} s")


def test_a_large_multipart_upload_without_a_token_is_refused_at_once(gated_service):
    pid = gated_service.process.pid
    before = rss_kib(pid)
    parts = [("files", (f"{n}.txt", b"x" * 1_000_000, "text/plain")) for n in range(30)]
    started = time.perf_counter()
    reply = httpx.post(f"{gated_service.url}/index/files", files=parts, timeout=TIMEOUT)
    assert reply.status_code == 401, reply.text[:300]
    assert time.perf_counter() - started < FAST * 2
    assert rss_kib(pid) - before < 20_000


@pytest.mark.parametrize(
    "body",
    [{"query": "x" * 200_000}, {"query": "5G", "top_k": "7" * 200_000}, {"query": "5G", "filters": {"operator": "x" * 200_000}},
     {"query": ["y" * 1000] * 200}],
    ids=["long query", "long top_k", "long operator", "list query"],
)
def test_a_422_quotes_at_most_a_short_excerpt_of_the_input(gated_service, body):
    reply = httpx.post(f"{gated_service.url}/search/run", json=body, headers=READ, timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text[:300]
    assert len(reply.content) < 3000, f"{len(reply.content)} bytes of reply"


# ---------------------------------------------------------------------------- row 1: bodies never logged


def test_request_bodies_never_reach_the_log(gated_service, corpus_dir):
    question_marker = "zebracorn" * 10_000  # 90 kB question: under the body limit, far over the query limit
    release_marker = "Quokkaphone launches on the moon"
    log_before = gated_service.log_path.stat().st_size
    httpx.post(f"{gated_service.url}/search/run", json={"query": question_marker}, headers=READ, timeout=TIMEOUT)
    httpx.post(f"{gated_service.url}/ask/run", json={"query": "zebracorn question"}, headers=READ, timeout=TIMEOUT)
    text = (corpus_dir / "103.txt").read_text(encoding="utf-8") + f"\n\n{release_marker}."
    reply = httpx.post(f"{gated_service.url}/index/run", json={"texts": [{"name": "logged.txt", "content": text}]},
                       headers=INDEX, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text[:300]
    log = wait_for_log(gated_service, '"POST /index/run HTTP/1.1" 200')[log_before:]
    assert "zebracorn" not in log and "Quokkaphone" not in log
    assert "sha256" in log  # what the log says instead: the body's size and hash
    assert len(log) < 6000, f"{len(log)} characters logged for three requests"


def test_indexing_logs_no_line_per_chunk_or_release(gated_service):
    """Releases whose first chunk is a short headline (before a paragraph too long to join it): Haystack's
    splitter warns "Overlap is the same as the previous chunk" for each; the log holds it once at most."""
    paragraph = " ".join(f"word{i}" for i in range(190)) + "."
    texts = [{"name": f"short-head-{n}.txt", "content": f"Headline {n}\n\n{paragraph}\n\n{paragraph}"} for n in range(12)]
    log_before = gated_service.log_path.stat().st_size
    reply = httpx.post(f"{gated_service.url}/index/run", json={"texts": texts}, headers=INDEX, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text[:300]
    log = wait_for_log(gated_service, '"POST /index/run HTTP/1.1" 200')[log_before:]
    assert log.count("Overlap is the same as the previous chunk") <= 1, log[-3000:]
    assert len(log.splitlines()) < 12, log[-3000:]


# ---------------------------------------------------------------------------- row 3: upload stubs removed


@pytest.mark.parametrize("path", ["/v1/files", "/files", "/v1/responses", "/responses"])
def test_hayhooks_upload_and_responses_stubs_are_gone(gated_service, path):
    reply = httpx.post(f"{gated_service.url}{path}", files={"file": ("a.txt", b"x" * 1000)}, data={"purpose": "x"},
                       headers=READ, timeout=TIMEOUT)
    assert reply.status_code in (404, 405), reply.text[:300]
    paths = httpx.get(f"{gated_service.url}/openapi.json", headers=READ).json()["paths"]
    assert path not in paths
    assert "/v1/chat/completions" in paths  # the router they came in with is still there


# ---------------------------------------------------------------------------- row 4: filter caps


@pytest.mark.parametrize(
    ("filters", "cap"),
    [({"field": "meta.year", "operator": "in", "value": list(range(301))}, "300"),
     ({"operator": "OR", "conditions": [{"field": "meta.year", "operator": "==", "value": y} for y in range(51)]}, "50"),
     ({"operator": "AND", "conditions": [{"operator": "OR", "conditions": [{"field": "meta.year", "operator": "==", "value": 1}] * 30}] * 2}, "50"),
     ({"operator": "NOT", "conditions": [{"operator": "NOT", "conditions": [{"operator": "NOT", "conditions": [
         {"operator": "NOT", "conditions": [{"operator": "NOT", "conditions": [{"operator": "NOT", "conditions": [
             {"field": "meta.year", "operator": "==", "value": 1}]}]}]}]}]}]}, "6")],
    ids=["list of 301", "51 conditions", "62 nested conditions", "7 levels"],
)
def test_filters_beyond_a_cap_get_a_422_naming_it(gated_service, filters, cap):
    started = time.perf_counter()
    reply = httpx.post(f"{gated_service.url}/search/run", json={"query": "5G", "filters": filters}, headers=READ, timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text[:300]
    assert cap in reply.json()["detail"] and "limit" in reply.json()["detail"]
    assert time.perf_counter() - started < FAST


def test_filters_within_the_caps_still_work(gated_service):
    filters = {"operator": "AND", "conditions": [{"field": "meta.year", "operator": "in", "value": list(range(1990, 2290))}]}
    reply = httpx.post(f"{gated_service.url}/search/run", json={"query": "5G", "filters": filters}, headers=READ, timeout=TIMEOUT)
    assert reply.status_code == 200 and reply.json()["result"]["documents"], reply.text[:300]


# ---------------------------------------------------------------------------- rows 9, 10, 11: 422 not 500


NON_FINITE = [
    ("/search/run", '{"query": "5G", "top_k": NaN}'),
    ("/search/run", '{"query": "5G", "top_k": Infinity}'),
    ("/search/run", '{"query": "5G", "top_k": 1e400}'),
    ("/search/run", '{"query": "5G", "filters": {"field": "meta.year", "operator": ">", "value": -Infinity}}'),
    ("/ask/run", '{"query": "5G", "unused": [1, NaN]}'),
    ("/ask/stream", '{"query": "5G", "top_k": 1E+999}'),
    ("/v1/chat/completions", '{"model": "ask", "temperature": NaN, "messages": [{"role": "user", "content": "5G?"}]}'),
]


@pytest.mark.parametrize(("path", "body"), NON_FINITE, ids=[b for _, b in NON_FINITE])
def test_non_finite_numbers_in_json_get_422(gated_service, path, body):
    reply = httpx.post(gated_service.url + path, content=body, headers=READ | JSON, timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text[:300]
    assert reply.json()["detail"]


def test_nan_inside_a_string_is_just_text(gated_service):
    body = '{"query": "NaN Infinity 1e400 prices"}'
    assert httpx.post(f"{gated_service.url}/search/run", content=body, headers=READ | JSON).status_code == 200


@pytest.mark.parametrize(
    "filters",
    [{"operator": ["AND"]}, {"operator": {"x": 1}}, {"operator": "AND", "conditions": [{"operator": ["OR"], "conditions": []}]},
     {"field": "meta.year", "operator": ["=="], "value": 1}],
    ids=["list", "dict", "nested list", "comparison list"],
)
def test_an_operator_that_is_not_a_string_gets_422(gated_service, filters):
    reply = httpx.post(f"{gated_service.url}/search/run", json={"query": "5G", "filters": filters}, headers=READ, timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text[:300]
    assert "operator" in reply.json()["detail"]


@pytest.mark.parametrize("name", ["103.txt\n", "103.txt\r\n", "new.txt\n"])
def test_a_release_name_with_a_trailing_newline_is_refused(gated_service, name):
    reply = httpx.post(f"{gated_service.url}/index/run", json={"texts": [{"name": name, "content": "A release."}]},
                       headers=INDEX, timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text[:300]
    names = [r["file_path"] for r in httpx.get(f"{gated_service.url}/releases", headers=READ).json()["releases"]]
    assert name not in names


# ---------------------------------------------------------------------------- row 13: a decision per route


OPEN = ["/health", "/", "/static/app.js"]
NEED_THE_READ_TOKEN = ["/docs", "/redoc", "/openapi.json", "/status", "/status/search", "/models", "/v1/models",
                       "/releases", "/mcp", "/a/route/nobody/listed"]


@pytest.mark.parametrize("path", OPEN)
def test_open_routes_answer_without_a_token(gated_service, path):
    assert httpx.get(gated_service.url + path, timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("path", NEED_THE_READ_TOKEN)
def test_every_other_route_needs_the_read_token(gated_service, path):
    reply = httpx.get(gated_service.url + path, timeout=TIMEOUT)
    assert reply.status_code == 401, f"{path}: {reply.status_code}"
    assert reply.headers["www-authenticate"] == "Bearer"
    assert httpx.get(gated_service.url + path, headers=READ, timeout=TIMEOUT).status_code != 401


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/app.css"])
def test_the_page_has_a_csp_header_that_forbids_framing(gated_service, path):
    reply = httpx.get(gated_service.url + path, timeout=TIMEOUT)
    csp = reply.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, reply.headers
    assert reply.headers.get("x-content-type-options") == "nosniff"


def test_cors_is_off_by_default(gated_service):
    origin = {"Origin": "https://elsewhere.example"}
    reply = httpx.get(f"{gated_service.url}/health", headers=origin, timeout=TIMEOUT)
    assert "access-control-allow-origin" not in reply.headers
    preflight = httpx.options(f"{gated_service.url}/search/run", headers=origin | {
        "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}, timeout=TIMEOUT)
    assert "access-control-allow-origin" not in preflight.headers


# ---------------------------------------------------------------------------- in-process: the app's wiring


# A host name the service answers to (TestClient's default `testserver` is refused: 400, DNS rebinding).
LOCAL = "http://localhost"


@pytest.fixture
def app_with(monkeypatch):
    """create_app() with these environment variables (no lifespan: no pipelines deployed, nothing loaded)."""

    def build(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        from service.app import create_app

        return create_app()

    return build


def test_a_route_mounted_after_create_app_is_behind_the_token(app_with):
    """What the MCP mount at /mcp (or any later route) gets without a line of auth code: deny-by-default."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    app = app_with(PRESSQA_READ_TOKEN=READ_TOKEN)
    app.mount("/mcp", Starlette(routes=[Route("/", lambda request: PlainTextResponse("tools"), methods=["GET", "POST"])]))
    client = TestClient(app, base_url=LOCAL)
    assert client.post("/mcp/", json={"jsonrpc": "2.0"}).status_code == 401
    assert client.post("/mcp/", json={"jsonrpc": "2.0"}, headers=READ).text == "tools"
    assert client.post("/mcp/", content=b'{"x": NaN}', headers=READ | JSON).status_code == 422
    assert client.post("/mcp/", content=b"x" * (MAX_BODY + 1), headers=READ).status_code == 413


def test_cors_allows_only_the_configured_origins(app_with):
    from starlette.testclient import TestClient

    client = TestClient(app_with(PRESSQA_CORS_ORIGINS="https://intranet.example, https://wiki.example"), base_url=LOCAL)
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = client.options("/search/run", headers={"Origin": "https://wiki.example", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == "https://wiki.example"
    refused = client.options("/search/run", headers={"Origin": "https://elsewhere.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers


def test_env_limits_are_read(app_with):
    from starlette.testclient import TestClient

    client = TestClient(app_with(PRESSQA_MAX_BODY_BYTES="100"), base_url=LOCAL)
    assert client.post("/search/run", content=b"x" * 101).status_code == 413
    assert "100" in client.post("/search/run", content=b"x" * 101).json()["detail"]
