"""Bounded work per worker process: excess requests are refused at once (503 with `Retry-After`), not queued.

Before: 50 concurrent searches on 2 cores all ran at once, every request slowed, `/health` took 0.8 s typically
and 4.5 s at worst (a load balancer's 1 s check would flap), and 500 event streams held 40 MB and 500 sockets.
Now each worker admits at most
- `PRESSQA_MAX_ACTIVE_REQUESTS` requests until their reply starts (the work: search, answer, indexing);
- `PRESSQA_MAX_STREAMS` event streams (`text/event-stream` replies: /ask/stream, streamed chat) while they run;
  a stream holds an active place until its first event (its search), then a stream place; so does a
  non-streamed LLM answer once it waits on the LLM (`kit/admission.py`).
The paths open to everyone (`/health`, the page) are never refused: liveness must answer under load.

Why not uvicorn's `limit_concurrency`: it counts connections (idle keep-alive ones too) and refuses `/health` with
the rest, in plain text and without `Retry-After`.

    app.add_middleware(AdmissionLimit)   # limits from the environment, see .env.example
"""

import json
import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.admission import forget, on_waiting
from service.http.gate import access_of

MAX_ACTIVE_ENV = "PRESSQA_MAX_ACTIVE_REQUESTS"
MAX_STREAMS_ENV = "PRESSQA_MAX_STREAMS"
# The brief's ten colleagues asking at once must never be refused, even by a one-worker service: at 8, ten clients
# got 328 of 609 searches refused from one worker and 400 of 732 from two (connections are not spread evenly).
# scripts/health_under_load.py, 50 clients searching, 2 workers on a quiet 2-core machine (README, Security and
# limits): /health p99 182 ms with 8, 640 ms with 10, 186 ms with 12, 892 ms with 16 (single runs: the spread is
# the machine's, not the limit's); the excess is refused with 503 + Retry-After and nothing else fails.
DEFAULT_MAX_ACTIVE = 12
# An LLM answer streams for seconds while holding no thread: streams are cheap, but each holds a socket and memory.
DEFAULT_MAX_STREAMS = 32
RETRY_AFTER_SECONDS = 1


class _StreamRefused(Exception):
    """Raised into the app when its reply turns out to be a stream beyond the cap (the app's stream ends)."""


class AdmissionLimit:
    """Counts this worker's requests in progress and refuses those beyond the limits (see the module)."""

    def __init__(self, app: ASGIApp, max_active: int | None = None, max_streams: int | None = None) -> None:
        self.app = app
        self.max_active = max_active or int(os.environ.get(MAX_ACTIVE_ENV) or DEFAULT_MAX_ACTIVE)
        self.max_streams = max_streams or int(os.environ.get(MAX_STREAMS_ENV) or DEFAULT_MAX_STREAMS)
        self.active = 0
        self.streams = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or access_of(scope.get("path", "")) == "open":
            await self.app(scope, receive, send)
            return
        if self.active >= self.max_active:
            await _refuse(send, f"The service is busy ({self.max_active} requests in progress in this worker): "
                                f"retry after {RETRY_AFTER_SECONDS} s.")
            return
        self.active += 1
        held = {"active": True, "stream": False}

        def waiting() -> None:  # kit/admission.py: the request now waits on the LLM, using no CPU here
            if held["active"] and self.streams < self.max_streams:
                held["active"], held["stream"] = False, True
                self.active -= 1
                self.streams += 1

        async def send_admitted(message: Message) -> None:
            if message["type"] == "http.response.start" and held["active"]:
                held["active"] = False
                self.active -= 1
                if _is_event_stream(message):
                    if self.streams >= self.max_streams:
                        await _refuse(send, f"Too many answers are streaming ({self.max_streams} in this worker): "
                                            f"retry after {RETRY_AFTER_SECONDS} s.")
                        raise _StreamRefused
                    held["stream"] = True
                    self.streams += 1
            await send(message)

        token = on_waiting(waiting)
        try:
            await self.app(scope, receive, send_admitted)
        except* _StreamRefused:  # raised by send_admitted, perhaps inside the response's task group
            pass
        finally:
            forget(token)
            if held["active"]:
                self.active -= 1
            if held["stream"]:
                self.streams -= 1


def _is_event_stream(message: Message) -> bool:
    return any(name.lower() == b"content-type" and value.split(b";")[0].strip().lower() == b"text/event-stream"
               for name, value in message.get("headers", []))


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode())]})
    await send({"type": "http.response.body", "body": body})
