"""The request checks of service/http on their own (issue #21): which Host and Origin are answered, how deep JSON may
nest, how the admission limit counts. Fast, in-process; the same properties against a real service are in
test_hardening_round3.py."""

import asyncio
import json

import pytest

from service.http.admission import AdmissionLimit
from service.http.gate import json_depth_exceeds
from service.http.hosts import HostPolicy, host_name

POLICY = HostPolicy(names=frozenset({"localhost", "qa.example.org"}), any_host=False,
                    origins=frozenset({"https://portal.example.org"}))


@pytest.mark.parametrize(("host", "allowed"), [
    ("127.0.0.1:1416", True), ("[::1]:1416", True), ("10.1.2.3", True), ("localhost:1416", True),
    ("app.localhost", True), ("QA.example.org.", True), ("evil.example.com", False), ("", False),
    ("127.0.0.1.evil.example.com", False),
])
def test_hosts_answered_are_addresses_localhost_and_the_listed_names(host, allowed):
    assert POLICY.host_allowed(host) is allowed


@pytest.mark.parametrize(("origin", "host", "allowed"), [
    ("http://127.0.0.1:1416", "127.0.0.1:1416", True),  # the service's own page
    ("https://qa.example.org", "qa.example.org", True),  # behind a proxy that drops the port from Host
    ("https://portal.example.org/", "qa.example.org", True),  # PRESSQA_CORS_ORIGINS
    ("http://evil.example.com", "127.0.0.1:1416", False), ("null", "127.0.0.1:1416", False),
])
def test_origins_answered_are_the_own_page_and_the_cors_origins(origin, host, allowed):
    assert POLICY.origin_allowed(origin, host) is allowed


def test_refusals_say_which_setting_allows_more():
    assert POLICY.refusal({"host": "evil.example.com"}).status == 400
    assert "PRESSQA_ALLOWED_HOSTS" in POLICY.refusal({"host": "evil.example.com"}).detail
    refused = POLICY.refusal({"host": "localhost", "origin": "http://evil.example.com"})
    assert refused.status == 403 and "PRESSQA_CORS_ORIGINS" in refused.detail
    assert POLICY.refusal({"host": "localhost:1416"}) is None  # no Origin: not a browser page
    assert HostPolicy(names=frozenset(), any_host=True, origins=frozenset()).refusal({"host": "anything"}) is None
    assert host_name("[::1]:80") == "::1" and host_name("Example.ORG.:443") == "example.org"


def test_json_nesting_is_measured_outside_strings():
    assert json_depth_exceeds(b"[" * 33 + b"]" * 33, limit=32)
    assert not json_depth_exceeds(b"[" * 32 + b"]" * 32, limit=32)
    assert not json_depth_exceeds(json.dumps({"query": "[" * 100, "x": [[1], [2]] * 100}).encode(), limit=32)
    assert not json_depth_exceeds(b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', limit=32)


async def status_of(limit: AdmissionLimit, path: str, method: str = "GET") -> int:
    """The status `limit` (and its app) answers a request for `path` with."""
    status = []

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await limit({"type": "http", "path": path, "method": method, "headers": []}, None, send)
    return status[0]


def run_requests(limit: AdmissionLimit, paths: list[str]) -> list[int]:
    """Statuses of requests sent at once to `limit`, whose app holds each request until all have arrived."""
    release = asyncio.Event()

    async def app(scope, receive, send):
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limit.app = app

    async def everything() -> list[int]:
        tasks = [asyncio.create_task(status_of(limit, path)) for path in paths]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(*tasks)

    return asyncio.run(everything())


def test_admission_refuses_beyond_the_limit_but_never_health():
    limit = AdmissionLimit(lambda *_: None, max_active=2, max_streams=1)
    statuses = run_requests(limit, ["/search/run"] * 5 + ["/health", "/"])
    assert statuses[:5].count(200) == 2 and statuses[:5].count(503) == 3
    assert statuses[5:] == [200, 200]
    assert limit.active == 0 and limit.streams == 0  # every place given back


def test_event_streams_beyond_the_cap_are_refused_and_their_app_stopped():
    stopped = []
    release = asyncio.Event()

    async def streaming_app(scope, receive, send):
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream; charset=utf-8")]})
            await release.wait()
            await send({"type": "http.response.body", "body": b"event: done\n\n"})
        except BaseException:
            stopped.append(scope["path"])
            raise

    limit = AdmissionLimit(streaming_app, max_active=10, max_streams=1)

    async def one(path: str) -> list:
        messages = []

        async def send(message):
            messages.append(message)

        await limit({"type": "http", "path": path, "method": "POST", "headers": []}, None, send)
        return messages

    async def everything():
        tasks = [asyncio.create_task(one(f"/ask/stream/{n}")) for n in range(3)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(*tasks)

    replies = asyncio.run(everything())
    statuses = [r[0]["status"] for r in replies]
    assert statuses.count(200) == 1 and statuses.count(503) == 2
    refused = [r for r in replies if r[0]["status"] == 503]
    assert all((b"retry-after", b"1") in r[0]["headers"] for r in refused)
    assert len(stopped) == 2  # the refused streams' app was told to stop
    assert limit.active == 0 and limit.streams == 0


def test_a_request_waiting_on_the_llm_gives_its_active_place_to_another():
    """kit/admission.py: once a request waits on a remote service its active place becomes a stream place, so a
    second request is admitted under max_active=1; without the call it is refused."""
    from kit.admission import waiting_on_remote

    def statuses(signal: bool) -> tuple[list[int], AdmissionLimit]:
        release = asyncio.Event()

        async def app(scope, receive, send):
            if scope["path"] == "/ask/run" and signal:
                waiting_on_remote()
            if scope["path"] == "/ask/run":
                await release.wait()  # the LLM answering
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        limit = AdmissionLimit(app, max_active=1, max_streams=4)

        async def everything() -> list[int]:
            asking = asyncio.create_task(status_of(limit, "/ask/run", "POST"))
            await asyncio.sleep(0.05)
            searching = await status_of(limit, "/search/run", "POST")
            release.set()
            return [await asking, searching]

        return asyncio.run(everything()), limit

    waited, limit = statuses(signal=True)
    assert waited == [200, 200] and limit.active == 0 and limit.streams == 0
    held, limit = statuses(signal=False)
    assert held == [200, 503] and limit.active == 0 and limit.streams == 0
    waiting_on_remote()  # outside a request: nothing to give back, no error
