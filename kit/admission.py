"""What a room tells the shell's admission limit (`service/http/admission.py`): this request now waits on a remote
service (the LLM) and uses no CPU here, so its place among the worker's active requests can go to another one.

Why: a non-streamed LLM answer holds its active place for the whole LLM call (3-4 s) while the limit exists to bound
CPU work; with the limit at 8, ten colleagues asking through the LLM at once got 3,120 refusals in 20 s from a
2-worker service (`scripts/compare_releases.sh`, 2026-12-03). The place becomes a stream place instead (the
`PRESSQA_MAX_STREAMS` cap: a waiting request holds a socket and memory as a stream does).

    from kit.admission import waiting_on_remote
    waiting_on_remote()   # before awaiting the LLM; a no-op outside a request the limit admitted
"""

from collections.abc import Callable
from contextvars import ContextVar, Token

_on_waiting: ContextVar[Callable[[], None] | None] = ContextVar("pressqa_admission_on_waiting", default=None)


def waiting_on_remote() -> None:
    """Give this request's active place back to the admission limit while it waits on a remote service."""
    callback = _on_waiting.get()
    if callback is not None:
        callback()


def on_waiting(callback: Callable[[], None]) -> Token:
    """The admission limit's side: what `waiting_on_remote` calls in this request's context (reset with the token)."""
    return _on_waiting.set(callback)


def forget(token: Token) -> None:
    """Undo `on_waiting` when the request ends."""
    _on_waiting.reset(token)
