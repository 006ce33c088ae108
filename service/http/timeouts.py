"""uvicorn's HTTP protocol with a time limit on a request's head: a connection whose request line and headers are
not complete within PRESSQA_HEADER_TIMEOUT_SECONDS of its opening (or of its last reply) is answered 408 and closed.

uvicorn closes an idle keep-alive connection after `timeout_keep_alive` but cancels that timer at the first byte,
and arms none before a connection's first request: 300 connections trickling their headers a byte at a time, or
sending nothing, all stayed open after 31 s (slowloris). A stalled body is the gate's (service.http.gate).

    uvicorn.run(app, http=HeadTimeoutProtocol, timeout_keep_alive=KEEP_ALIVE_SECONDS)
"""

import asyncio
import os

from uvicorn.protocols.http.auto import AutoHTTPProtocol

HEADER_TIMEOUT_ENV = "PRESSQA_HEADER_TIMEOUT_SECONDS"
# A browser or client sends its request head in one packet; a slow link needs well under a second more.
DEFAULT_HEADER_TIMEOUT = 10.0
# Idle keep-alive connections between requests (uvicorn's default, stated here beside the head limit).
KEEP_ALIVE_SECONDS = 5
_TIMEOUT_REPLY = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                  b"content-length: 62\r\n\r\n"
                  b'{"detail": "The request head did not arrive in time: closed."}')


def header_timeout() -> float:
    return float(os.environ.get(HEADER_TIMEOUT_ENV) or DEFAULT_HEADER_TIMEOUT)


class HeadTimeoutProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's protocol (httptools, or h11 without it) that waits at most `header_timeout()` for a request head."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a request's head is complete: its cycle started
            self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_timer = self.loop.call_later(header_timeout(), self._head_timed_out)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not (self.cycle is None or self.cycle.response_complete):
            return
        self.transport.write(_TIMEOUT_REPLY)
        self.transport.close()
