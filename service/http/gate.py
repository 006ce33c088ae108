"""One gate in front of every route: the token and the body limit are checked before a request's body is read.

`RequestGate` is plain ASGI middleware that `service.app.create_app()` adds in front of Hayhooks, so it covers
the routes Hayhooks deploys at start-up and any route or mount added later (MCP at /mcp, say) without a call
in a handler. Access is deny-by-default: a path needs the read token (when PRESSQA_READ_TOKEN is set) unless
`OPEN_PATHS` lists it; paths under `INDEX_PREFIX` need the index token.

For each request, in order, before the app sees it:
1. the Host and the browser's Origin (400/403, see `service.http.hosts`: DNS rebinding, other sites' pages) —
   `/health` excepted, which any prober may call;
2. the token (401/403, see `service.http.auth`) — from the headers alone;
3. the declared `Content-Length` against the route's limit (413);
4. the body, read here and counted as it streams in (chunked bodies too), 413 as soon as it passes the limit,
   408 when it stalls (no byte for PRESSQA_BODY_IDLE_SECONDS);
5. for JSON bodies: no `NaN`, `Infinity` or number too large for a double (422); FastAPI would accept them
   and then fail to encode them in its 422 reply (a 500); no nesting deeper than `MAX_JSON_DEPTH` (422; an
   MCP call 5,000 levels deep was a 500);
then the app gets the body as if read from the socket. The body's size and a hash go to `body_summary()`,
which the log uses instead of the body (`service.log_hygiene`).

Why not Starlette's `RequestBodyLimitMiddleware`: it checks only once the app reads the body, answers in
plain text without saying the limit, and takes one limit per app or route, while Hayhooks adds its routes
itself at start-up; auth must come first anyway.

    app.add_middleware(RequestGate)   # limits from the environment, see .env.example
"""

import asyncio
import hashlib
import json
import os
import re
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.auth import Refusal, index_token_refusal, read_token_refusal
from service.http.hosts import HostPolicy

# Paths any caller may fetch without the read token: the load balancer's health check and the page (which
# holds no data and asks for the token itself). Everything else needs the read token when one is set.
OPEN_PATHS = frozenset({"/health", "/"})
OPEN_PREFIXES = ("/static/",)
# Paths that write to the index: they need the index token, also when no read token is set.
INDEX_PREFIX = "/index/"

MAX_BODY_BYTES_ENV = "PRESSQA_MAX_BODY_BYTES"
MAX_INDEX_BODY_BYTES_ENV = "PRESSQA_MAX_REQUEST_BYTES"
# A question of 1,000 characters with filters needs a few kB; a chat client sends the conversation so far.
DEFAULT_MAX_BODY_BYTES = 262_144
DEFAULT_MAX_INDEX_BODY_BYTES = 20_000_000

BODY_IDLE_ENV = "PRESSQA_BODY_IDLE_SECONDS"
# A client on a slow link sends a few kB per second; one that sends nothing for this long holds a socket for nothing.
DEFAULT_BODY_IDLE_SECONDS = 15.0
# The deepest request the service expects: a filter tree (at most 6 levels, kit/queries.py) inside the body, an MCP
# call's arguments inside JSON-RPC. Deeper JSON is refused before a parser recurses into it.
MAX_JSON_DEPTH = 32
_JSON_BRACKETS = re.compile(rb'[\[\]{}]|"(?:[^"\\]|\\.)*"')

_JSON_CONTENT_TYPE = re.compile(r"^application/([\w.+-]+\+)?json\s*(;|$)", re.IGNORECASE)
# Only these spellings can make Python's json module produce a non-finite float: the NaN/Infinity literals,
# an exponent of three or more digits, or a mantissa of 309+ digits. Bodies without them skip the second parse.
_MAYBE_NON_FINITE = re.compile(rb"NaN|Infinity|[eE][+-]?\d{3}|\d{309}")


@dataclass(frozen=True)
class BodySummary:
    """What the log may say about a request body: its size and the start of its SHA-256."""

    size: int
    sha256: str

    def __str__(self) -> str:
        return f"<request body: {self.size} bytes, sha256 {self.sha256}>"


_body: ContextVar[BodySummary | None] = ContextVar("request_body_summary", default=None)


def body_summary() -> BodySummary | None:
    """The summary of the body of the request being handled (in this task or a thread it started)."""
    return _body.get()


def _limit(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def access_of(path: str) -> str:
    """`open`, `index` or `read`: what a request to `path` must carry (read = the read token, if one is set)."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return "open"
    if path.startswith(INDEX_PREFIX):
        return "index"
    return "read"


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NonFinite(text[:40])
    return value


def non_finite_number(body: bytes) -> str | None:
    """The first NaN/Infinity/overflowing number in a JSON body, or None (also for bodies that are not JSON:
    the app reports those itself)."""
    if not _MAYBE_NON_FINITE.search(body):
        return None
    try:
        json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NonFinite as error:
        return str(error)
    except (ValueError, RecursionError):
        return None
    return None


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON body nests arrays and objects deeper than `limit` (brackets inside strings do not count)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_BRACKETS.finditer(body):
        bracket = token.group(0)
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


def _route_path(scope: Scope) -> str:
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class RequestGate:
    """Token, size and strict-JSON checks for every HTTP and WebSocket request, before the app reads the body."""

    def __init__(self, app: ASGIApp, max_body_bytes: int | None = None, max_index_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes or _limit(MAX_BODY_BYTES_ENV, DEFAULT_MAX_BODY_BYTES)
        self.max_index_body_bytes = max_index_body_bytes or _limit(MAX_INDEX_BODY_BYTES_ENV, DEFAULT_MAX_INDEX_BODY_BYTES)
        self.body_idle_seconds = float(os.environ.get(BODY_IDLE_ENV) or DEFAULT_BODY_IDLE_SECONDS)
        self.hosts = HostPolicy.from_environment()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = _route_path(scope)
        access = access_of(path)
        refusal = (None if path == "/health" else self.hosts.refusal(headers)) or self._token_refusal(access, headers)
        if scope["type"] == "websocket":
            if refusal is not None:
                await send({"type": "websocket.close", "code": 1008, "reason": refusal.detail[:120]})
                return
            await self.app(scope, receive, send)
            return
        if refusal is not None:
            await _reply(scope, receive, send, refusal)
            return

        limit = self.max_index_body_bytes if access == "index" else self.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _reply(scope, receive, send, Refusal(400, "Content-Length is not a number of bytes."))
                return
            if int(declared) > limit:
                await _reply(scope, receive, send, _too_large(int(declared), limit), close=True)
                return
        if not (declared not in (None, "0") or "chunked" in headers.get("transfer-encoding", "").lower()):
            token = _body.set(BodySummary(0, hashlib.sha256().hexdigest()[:16]))
            try:
                await self.app(scope, receive, send)
            finally:
                _body.reset(token)
            return

        chunks: list[bytes] = []
        size = 0
        digest = hashlib.sha256()
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.body_idle_seconds)
            except TimeoutError:
                await _reply(scope, receive, send, Refusal(
                    408, f"The request body stalled: nothing arrived for {self.body_idle_seconds:g} s."), close=True)
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # a chunked body (no Content-Length), or one that lied about its length
                await _reply(scope, receive, send, _too_large(size, limit, streamed=True), close=True)
                return
            chunks.append(chunk)
            digest.update(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        if _JSON_CONTENT_TYPE.match(headers.get("content-type", "")):
            if json_depth_exceeds(body):
                await _reply(scope, receive, send, Refusal(
                    422, f"The JSON body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep (the limit)."))
                return
            if bad := non_finite_number(body):
                await _reply(scope, receive, send, Refusal(
                    422, f"The JSON body holds {bad!r}: numbers must be finite (no NaN, Infinity or values beyond ±1.8e308)."
                ))
                return

        pending: deque[Message] = deque([{"type": "http.request", "body": body, "more_body": False}])
        del body

        async def replay() -> Message:
            return pending.popleft() if pending else await receive()

        token = _body.set(BodySummary(size, digest.hexdigest()[:16]))
        try:
            await self.app(scope, replay, send)
        finally:
            _body.reset(token)

    @staticmethod
    def _token_refusal(access: str, headers: Headers) -> Refusal | None:
        if access == "open":
            return None
        if access == "index":
            return index_token_refusal(headers)
        return read_token_refusal(headers)


def _too_large(size: int, limit: int, streamed: bool = False) -> Refusal:
    told = "passed" if streamed else "is"
    return Refusal(413, f"The request body {told} {size} bytes; the limit for this route is {limit} bytes.")


async def _reply(scope: Scope, receive: Receive, send: Send, refusal: Refusal, close: bool = False) -> None:
    # `Connection: close` after a 413: the client is still sending a body nobody will read
    headers = {**refusal.headers, **({"Connection": "close"} if close else {})}
    await JSONResponse({"detail": refusal.detail}, status_code=refusal.status, headers=headers)(scope, receive, send)
