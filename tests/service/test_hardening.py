"""Hardening (issue #5), checked from outside over HTTP against real service processes:
who may write, bad input gets a clear 4xx (never a 500, a hang or a stack trace), no lost or half-written index.

- `locked_service`: no index token (REST writes are off), a read token, nothing indexed.
- `guarded_service`: the index token, small upload limits, a tiny corpus of four real releases.
- The kill test runs its own processes on the real corpus.
Both services serve a private copy of pipelines/ (see hardening_support.service_on_copy).
"""

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from hardening_support import service_on_copy, tiny_corpus
from service_process import INDEX_TOKEN

from stores.inmemory.index_file import IndexFile

pytestmark = pytest.mark.e2e

READ_TOKEN = "test-read-token-5b1e"
WRONG_TOKEN = "wrong-token-9c4d"
INDEX_AUTH = {"Authorization": f"Bearer {INDEX_TOKEN}"}
READ_AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
MAX_FILE_BYTES = 20_000  # the largest release of the corpus has 16,647 bytes
MAX_REQUEST_BYTES = 300_000
TIMEOUT = 60  # seconds: a request that takes longer is a hang


@pytest.fixture(scope="module")
def locked_service(tmp_path_factory):
    """REST indexing off (PRESSQA_INDEX_TOKEN empty), reads behind PRESSQA_READ_TOKEN, empty index."""
    service = service_on_copy(
        tmp_path_factory.mktemp("locked"), corpus=None, PRESSQA_INDEX_TOKEN="", PRESSQA_READ_TOKEN=READ_TOKEN
    ).start(timeout=300, until_indexed=False)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def guarded_service(tmp_path_factory):
    """Index token set, reads open, upload limits of 20,000 bytes per file and 300,000 per request."""
    data_dir = tmp_path_factory.mktemp("guarded")
    service = service_on_copy(
        data_dir,
        corpus=tiny_corpus(data_dir / "corpus"),
        PRESSQA_MAX_FILE_BYTES=str(MAX_FILE_BYTES),
        PRESSQA_MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES),
    ).start(timeout=300)
    yield service
    service.stop()


def post_texts(url: str, texts: list[dict], headers: dict | None = None) -> httpx.Response:
    """POST /index/run (JSON)."""
    return httpx.post(f"{url}/index/run", json={"texts": texts}, headers=headers, timeout=TIMEOUT)


def post_files(url: str, files: list[tuple[str, bytes]], headers: dict | None = None) -> httpx.Response:
    """POST /index/files (multipart, field `files`)."""
    parts = [("files", (name, data, "text/plain")) for name, data in files]
    return httpx.post(f"{url}/index/files", files=parts, headers=headers, timeout=TIMEOUT)


def index_one(endpoint: str, url: str, name: str, data: bytes, headers: dict | None = None) -> httpx.Response:
    """Index one release through `endpoint` ("run": JSON, "files": multipart)."""
    if endpoint == "run":
        return post_texts(url, [{"name": name, "content": data.decode("utf-8")}], headers)
    return post_files(url, [(name, data)], headers)


def assert_clear_4xx(reply: httpx.Response, status: int | None = None, says: str = "") -> None:
    """A 4xx (or exactly `status`) with a JSON `detail`, containing `says`, and no stack trace."""
    assert 400 <= reply.status_code < 500, f"{reply.status_code}: {reply.text[:300]}"
    if status is not None:
        assert reply.status_code == status, reply.text[:300]
    detail = reply.json()["detail"]
    assert detail
    assert says.lower() in json.dumps(detail).lower(), detail
    assert "Traceback" not in reply.text and 'File "' not in reply.text


def release_names(url: str) -> set[str]:
    return {r["file_path"] for r in httpx.get(f"{url}/releases", timeout=TIMEOUT).json()["releases"]}


# ---------------------------------------------------------------------------- who may write, who may read


@pytest.mark.parametrize("endpoint", ["run", "files"])
@pytest.mark.parametrize("headers", [None, INDEX_AUTH], ids=["no-token", "some-token"])
def test_index_writes_are_refused_when_no_index_token_is_configured(locked_service, endpoint, headers):
    reply = index_one(endpoint, locked_service.url, "new.txt", b"A new release.", headers)
    assert_clear_4xx(reply, 403, says="PRESSQA_INDEX_TOKEN")


@pytest.mark.parametrize("endpoint", ["run", "files"])
@pytest.mark.parametrize(
    "headers",
    [None, {"Authorization": f"Bearer {WRONG_TOKEN}"}, {"Authorization": f"Basic {INDEX_TOKEN}"}, {"Authorization": INDEX_TOKEN}],
    ids=["no-token", "wrong-token", "basic-scheme", "no-scheme"],
)
def test_index_writes_without_the_right_token_get_401(guarded_service, endpoint, headers):
    reply = index_one(endpoint, guarded_service.url, "new.txt", b"A new release.", headers)
    assert_clear_4xx(reply, 401, says="Authorization: Bearer")
    assert reply.headers["www-authenticate"] == "Bearer"
    assert "new.txt" not in release_names(guarded_service.url)


@pytest.mark.parametrize("endpoint", ["run", "files"])
def test_index_writes_with_the_index_token_are_accepted(guarded_service, endpoint):
    name = f"accepted-via-{endpoint}.txt"
    reply = index_one(endpoint, guarded_service.url, name, b"Telekom opens a test lab for posted releases.", INDEX_AUTH)
    assert reply.status_code == 200, reply.text
    result = reply.json().get("result", reply.json())  # /index/run wraps its reply in Hayhooks' "result"
    assert result["files"] == 1 and result["chunks_written"] == 1
    assert "test lab" in httpx.get(f"{guarded_service.url}/releases/{name}").json()["content"]


READS = [
    ("POST", "/search/run", {"query": "5G ports"}),
    ("POST", "/ask/run", {"query": "Which ports get 5G?"}),
    ("POST", "/ask/stream", {"query": "Which ports get 5G?"}),
    ("POST", "/v1/chat/completions", {"model": "ask", "messages": [{"role": "user", "content": "Which ports get 5G?"}]}),
    ("GET", "/releases", None),
    ("GET", "/releases/103.txt", None),
]


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=[f"{m} {p}" for m, p, _ in READS])
def test_reads_need_the_read_token_when_one_is_set(locked_service, method, path, body):
    def call(headers):
        return httpx.request(method, locked_service.url + path, json=body, headers=headers, timeout=TIMEOUT)

    assert_clear_4xx(call(None), 401, says="read token")
    assert_clear_4xx(call({"Authorization": f"Bearer {WRONG_TOKEN}"}), 401, says="read token")
    with_token = call(READ_AUTH)
    # the index is empty: the release is unknown (404), everything else answers
    assert with_token.status_code == (404 if path == "/releases/103.txt" else 200), with_token.text[:300]


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=[f"{m} {p}" for m, p, _ in READS])
def test_reads_are_open_when_no_read_token_is_set(guarded_service, method, path, body):
    reply = httpx.request(method, guarded_service.url + path, json=body, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text[:300]


def test_tokens_never_reach_the_log(locked_service, guarded_service):
    sent = [
        (locked_service, "POST", "/search/run", READ_TOKEN),
        (locked_service, "POST", "/search/run", WRONG_TOKEN),
        (locked_service, "POST", "/index/run", INDEX_TOKEN),
        (guarded_service, "POST", "/index/run", WRONG_TOKEN),
        (guarded_service, "POST", "/index/files", WRONG_TOKEN),
    ]
    for service, method, path, token in sent:
        httpx.request(method, service.url + path, json={"query": "x"}, headers={"Authorization": f"Bearer {token}"})
    for service in (locked_service, guarded_service):
        log = wait_for_log(service.log_path, '"POST /search/run' if service is locked_service else '"POST /index/files')
        for token in (INDEX_TOKEN, READ_TOKEN, WRONG_TOKEN):
            assert token not in log, f"{token} in {service.log_path}"


def wait_for_log(path: Path, line: str, timeout: float = 10) -> str:
    """The log once it holds `line` (access lines are written just after the reply)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(errors="replace")
        if line in text or time.monotonic() > deadline:
            assert line in text, f"{line!r} not logged in {path}"
            return text
        time.sleep(0.1)


def test_hayhooks_operator_routes_are_gone(guarded_service):
    """Hayhooks' /deploy-yaml, /deploy_files and /undeploy/{name} load code into the service or delete a
    pipeline's folder from disk, /draw/{name} posts the pipeline graph to a third party: the service removes
    them (this service runs on a copy of pipelines/, so a failure here cannot delete the repository's)."""
    url = guarded_service.url
    pipelines_dir = guarded_service.data_dir / "pipelines"
    for path in ("/deploy-yaml", "/deploy_files", "/undeploy/search", "/undeploy/index"):
        reply = httpx.post(url + path, json={"name": "x", "source_code": "x", "files": {}}, headers=INDEX_AUTH)
        assert reply.status_code in (404, 405), f"{path}: {reply.status_code}"
    assert httpx.get(f"{url}/draw/search").status_code == 404
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert not {p for p in paths if p.startswith(("/deploy", "/undeploy", "/draw"))}
    assert (pipelines_dir / "search" / "search.yml").exists()
    assert {"search", "ask", "index"} <= set(httpx.get(f"{url}/status").json()["pipelines"])


# ---------------------------------------------------------------------------- bad input: a clear 4xx


UPLOADS = [
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 422, "binary"),
    ("latin-1", "Café in Köln".encode("latin-1"), 422, "not UTF-8"),
    ("empty", b"", 422, "empty"),
    ("blank", b" \n\t \n", 422, "empty"),
    ("too large", b"word " * (MAX_FILE_BYTES // 5 + 1), 413, "limit"),
]


@pytest.mark.parametrize(("case", "data", "status", "says"), UPLOADS, ids=[u[0] for u in UPLOADS])
def test_upload_that_is_not_usable_text_gets_a_clear_4xx(guarded_service, case, data, status, says):
    assert_clear_4xx(post_files(guarded_service.url, [("upload.txt", data)], INDEX_AUTH), status, says)


POSTED_TEXTS = [
    ("binary", "PNG\x00\x00IHDR", 422, "binary"),
    ("unpaired surrogate", "Caf\ud800", 422, "not UTF-8"),  # valid JSON (\ud800), not text
    ("empty", "", 422, "empty"),
    ("blank", " \n\t ", 422, "empty"),
    ("too large", "word " * (MAX_FILE_BYTES // 5 + 1), 413, "limit"),
]


@pytest.mark.parametrize(("case", "content", "status", "says"), POSTED_TEXTS, ids=[t[0] for t in POSTED_TEXTS])
def test_posted_text_that_is_not_usable_gets_a_clear_4xx(guarded_service, case, content, status, says):
    body = json.dumps({"texts": [{"name": "posted.txt", "content": content}]})  # ASCII-escaped: surrogates survive
    reply = httpx.post(
        f"{guarded_service.url}/index/run", content=body, headers=INDEX_AUTH | {"Content-Type": "application/json"}
    )
    assert_clear_4xx(reply, status, says)


@pytest.mark.parametrize("endpoint", ["run", "files"])
def test_request_over_the_total_size_limit_gets_413(guarded_service, endpoint):
    count = MAX_REQUEST_BYTES // MAX_FILE_BYTES + 1
    files = [(f"part-{n}.txt", b"word " * ((MAX_FILE_BYTES - 100) // 5)) for n in range(count)]  # each under the file limit
    if endpoint == "run":
        reply = post_texts(guarded_service.url, [{"name": n, "content": d.decode()} for n, d in files], INDEX_AUTH)
    else:
        reply = post_files(guarded_service.url, files, INDEX_AUTH)
    assert_clear_4xx(reply, 413, says="request")
    assert not {name for name, _ in files} & release_names(guarded_service.url)


@pytest.mark.parametrize("endpoint", ["run", "files"])
@pytest.mark.parametrize("name", ["../x.txt", "/etc/passwd", "a/b.txt", "..\\x.txt", "../../etc/cron.d/x.txt", "x.txt\x00.sh", ".hidden.txt", "x.py"])
def test_path_tricks_in_release_names_are_refused(guarded_service, endpoint, name):
    before = release_names(guarded_service.url)
    reply = index_one(endpoint, guarded_service.url, name, b"Text of a release.", INDEX_AUTH)
    assert_clear_4xx(reply, 422, says="Invalid release name")
    assert release_names(guarded_service.url) == before


@pytest.mark.parametrize(
    ("path", "status"),
    [("/releases/999.txt", 404), ("/releases/..%2F..%2Fetc%2Fpasswd", 404), ("/releases/%2Fetc%2Fpasswd", 404),
     ("/releases/..%5Cx.txt", 422), ("/releases/%00.txt", 422), ("/releases/103", 422)],
)
def test_unknown_or_odd_release_names_get_404_or_422(guarded_service, path, status):
    assert_clear_4xx(httpx.get(guarded_service.url + path, timeout=TIMEOUT), status)


BAD_BODIES = [
    ("/index/run", "not json"),
    ("/index/run", "[1, 2]"),
    ("/index/run", '{"texts": "x"}'),
    ("/index/run", '{"texts": [{"name": 1, "content": 2}]}'),
    ("/index/run", '{"texts": [{"name": "a.txt"}]}'),
    ("/index/run", '{"texts": []}'),
    ("/index/run", '{"texts": [{"name": "a.txt", "content": "x"}, {"name": "a.txt", "content": "y"}]}'),
    ("/search/run", '{"query": ["fiber"]}'),
    ("/search/run", '{"query": null}'),
    ("/search/run", '{"query": "fiber \\ud800"}'),
    ("/search/run", '{"query": "fiber", "top_k": 2.5}'),
    ("/search/run", '{"query": "fiber", "filters": "year 2022"}'),
    ("/search/run", '{"query": "fiber", "filters": [1]}'),
    ("/search/run", '{"query": "fiber", "filters": {"field": "meta.year", "operator": ">", "value": "2022-01-01"}}'),
    ("/search/run", '{"query": "fiber", "filters": {"field": "meta.title", "operator": "<", "value": "b"}}'),
    ("/ask/run", '{"query": "\\ud800"}'),
    ("/ask/run", '{"query": {"text": "fiber"}}'),
    ("/ask/run", '{"query": "fiber", "filters": {"field": "meta.year", "operator": ">=", "value": "2022"}}'),
    ("/ask/stream", '{"query": "fiber", "top_k": "a", "filters": "b"}'),
    ("/ask/stream", '{"query": "\\ud800"}'),
    ("/ask/stream", "{"),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES, ids=[f"{p} {b[:60]}" for p, b in BAD_BODIES])
def test_wrong_json_gets_a_clear_4xx(guarded_service, path, body):
    headers = INDEX_AUTH | {"Content-Type": "application/json"}
    assert_clear_4xx(httpx.post(guarded_service.url + path, content=body, headers=headers, timeout=TIMEOUT))


def test_bad_input_leaves_no_stack_trace_in_the_log(guarded_service):
    """Every bad request above is refused before it reaches an unhandled exception (which would log one)."""
    headers = INDEX_AUTH | {"Content-Type": "application/json"}
    for path, body in BAD_BODIES:
        httpx.post(guarded_service.url + path, content=body, headers=headers, timeout=TIMEOUT)
    for _, content, _, _ in POSTED_TEXTS:
        body = json.dumps({"texts": [{"name": "posted.txt", "content": content}]})
        httpx.post(f"{guarded_service.url}/index/run", content=body, headers=headers, timeout=TIMEOUT)
    post_files(guarded_service.url, [("upload.txt", UPLOADS[0][1])], INDEX_AUTH)
    log = wait_for_log(guarded_service.log_path, '"POST /index/files HTTP/1.1" 422')
    assert "Traceback" not in log and '" 500' not in log


def test_chat_with_openai_content_parts_is_answered(guarded_service):
    """A user message as content parts (text and image), as OpenAI clients send it, once gave a 500."""
    content = [{"type": "text", "text": "Which ports get 5G campus networks?"}, {"type": "image_url", "image_url": {"url": "x"}}]
    body = {"model": "ask", "messages": [{"role": "user", "content": content}]}
    reply = httpx.post(f"{guarded_service.url}/v1/chat/completions", json=body, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text[:300]
    assert "Hamburg" in reply.json()["choices"][0]["message"]["content"]


# ---------------------------------------------------------------------------- no lost or half-written index


def kill_during_a_write(process, index_dir: Path, timeout: float = 600) -> str:
    """SIGKILL `process` while it writes its index file for the second time (the first write made the file).

    A write in progress shows as the file's write-ahead log (SQLite) growing between two looks, after the
    file holds a first version: the kill lands mid-write.
    """
    target = index_dir / "press-releases.sqlite"
    log = index_dir / "press-releases.sqlite-wal"
    deadline = time.monotonic() + timeout
    previous_size = None
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service ended before it was killed"
        try:
            first_version = IndexFile(target).stamp() is not None
            size = log.stat().st_size
        except (FileNotFoundError, OSError):  # not written yet, or busy
            time.sleep(0.002)
            continue
        if first_version and previous_size is not None and size > previous_size:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return "write-ahead log growing"
        previous_size = size if first_version else None
        time.sleep(0.002)
    raise TimeoutError("no second write of the index seen")


def test_kill_during_indexing_leaves_the_last_complete_index(tmp_path, corpus_dir):
    data_dir = tmp_path / "data"
    index_dir = data_dir / "index"
    index_dir.mkdir(parents=True)
    # 40 real releases: indexing at start writes the index after 32 (one batch) and again after 40
    corpus = tiny_corpus(tmp_path / "corpus", tuple(p.name for p in sorted(corpus_dir.glob("*.txt"))[:40]))
    service = service_on_copy(data_dir, corpus=corpus).start(timeout=300, until_indexed=False)
    try:
        seen = kill_during_a_write(service.process, index_dir)
    finally:
        service.stop()
    assert service.process.returncode == -signal.SIGKILL

    stored = IndexFile(index_dir / "press-releases.sqlite").read()  # a whole version, readable
    chunks = len(stored.documents)
    assert chunks > 0 and all(d.embedding is not None for d in stored.documents)
    assert seen == "write-ahead log growing"  # the kill landed while the second write was being written
    print(f"killed mid-write; index holds {chunks} chunks of version {stored.version}")

    restarted = service_on_copy(data_dir, corpus=tmp_path / "no-corpus").start(timeout=300, until_indexed=False)
    try:
        health = httpx.get(f"{restarted.url}/ready").json()
        assert health["documents"] == chunks and health["indexing"]["files_done"] == 0
        reply = httpx.post(f"{restarted.url}/search/run", json={"query": "Telekom", "top_k": 3}, timeout=TIMEOUT)
        assert reply.status_code == 200 and reply.json()["result"]["documents"]
    finally:
        restarted.stop()


def bulk_texts(corpus_dir: Path, count: int, prefix: str) -> list[dict]:
    """`count` real releases posted under new names."""
    files = sorted(corpus_dir.glob("*.txt"))[:count]
    return [{"name": f"{prefix}-{f.name}", "content": f.read_text(encoding="utf-8")} for f in files]


def test_searches_are_answered_while_indexing_runs(guarded_service, corpus_dir):
    url = guarded_service.url
    texts = bulk_texts(corpus_dir, 8, "bulk")  # some seconds of embedding
    indexing: dict = {}

    def index() -> None:
        started = time.perf_counter()
        indexing["reply"] = httpx.post(f"{url}/index/run", json={"texts": texts}, headers=INDEX_AUTH, timeout=600)
        indexing["seconds"] = time.perf_counter() - started

    worker = threading.Thread(target=index)
    worker.start()
    wait_until(lambda: not worker.is_alive() or httpx.get(f"{url}/ready").json()["indexing"]["running"], "indexing to start")
    replies, slowest = [], 0.0
    while worker.is_alive():
        started = time.perf_counter()
        replies.append(httpx.post(f"{url}/search/run", json={"query": "5G campus network ports"}, timeout=TIMEOUT))
        slowest = max(slowest, time.perf_counter() - started)
    worker.join()
    print(f"{len(replies)} searches during {indexing['seconds']:.1f} s of indexing, slowest {slowest:.2f} s")
    assert indexing["reply"].status_code == 200, indexing["reply"].text
    assert all(r.status_code == 200 and r.json()["result"]["documents"] for r in replies)
    # answered all along, not queued behind the indexing request
    assert len(replies) >= 3, f"{len(replies)} searches during {indexing['seconds']:.1f} s of indexing"
    assert slowest < indexing["seconds"] / 2, f"a search took {slowest:.1f} s of {indexing['seconds']:.1f} s"


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_concurrent_index_requests_are_serialized(guarded_service, corpus_dir):
    """Two requests indexing different versions of the same releases at once: each reply counts its own
    files, and every release ends up with exactly one version's chunks, as after sequential runs."""
    url = guarded_service.url
    names = ["103.txt", "67.txt", "15.txt"]
    first = [{"name": f"race-{n}", "content": (corpus_dir / n).read_text(encoding="utf-8")[:1200]} for n in names]
    second = [{"name": t["name"], "content": t["content"] + "\n\nUpdated: version two."} for t in first]

    # sequential: each version's chunk count per release
    chunks_of = {}
    for version, texts in (("first", first), ("second", second)):
        assert post_texts(url, texts, INDEX_AUTH).status_code == 200
        chunks_of[version] = release_chunks(url)
    before = httpx.get(f"{url}/ready").json()["documents"]  # holds the second version

    barrier = threading.Barrier(2)
    replies: dict = {}

    def send(version, texts):
        barrier.wait()
        replies[version] = post_texts(url, texts, INDEX_AUTH)

    threads = [threading.Thread(target=send, args=v) for v in (("first", first), ("second", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    for version in ("first", "second"):
        assert replies[version].status_code == 200, replies[version].text
        assert replies[version].json()["result"]["files"] == len(names)  # its own count, not a mix of both
    after = release_chunks(url)
    expected_total = before
    for text in first:
        name = text["name"]
        content = httpx.get(f"{url}/releases/{name}").json()["content"]
        version = "second" if "version two" in content else "first"
        assert after[name] == chunks_of[version][name], f"{name}: {after[name]} chunks, the {version} version has {chunks_of[version][name]}"
        expected_total += chunks_of[version][name] - chunks_of["second"][name]
    assert httpx.get(f"{url}/ready").json()["documents"] == expected_total


def release_chunks(url: str) -> dict[str, int]:
    return {r["file_path"]: r["chunks"] for r in httpx.get(f"{url}/releases").json()["releases"]}
