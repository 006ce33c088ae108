"""Per-request stage timings: how long each pipeline component took, so a slow reply explains itself."""

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from haystack import Pipeline

_current: ContextVar[dict[str, float] | None] = ContextVar("stage_timings", default=None)


@contextmanager
def collect_timings() -> Iterator[dict[str, float]]:
    """Collect, into the yielded dict, milliseconds per component run inside this block (this thread/task)."""
    timings: dict[str, float] = {}
    token = _current.set(timings)
    try:
        yield timings
    finally:
        _current.reset(token)


def record(stage: str, started: float) -> None:
    """Add the milliseconds since `started` (a `time.perf_counter()` value) to `stage`."""
    timings = _current.get()
    if timings is not None:
        timings[stage] = round(timings.get(stage, 0.0) + (time.perf_counter() - started) * 1000, 2)


def instrument(pipeline: Pipeline, prefix: str = "") -> Pipeline:
    """Time every component's `run` of `pipeline` into the active `collect_timings` block."""
    for name, instance in pipeline.walk():
        original = instance.run

        @functools.wraps(original)
        def timed_run(*args, _original=original, _stage=prefix + name, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                record(_stage, started)

        instance.run = timed_run
        if callable(getattr(instance, "run_async", None)):
            instance.run_async = _timed_async(instance.run_async, prefix + name)
    return pipeline


def _timed_async(original, stage: str):
    @functools.wraps(original)
    async def timed_run_async(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            record(stage, started)

    return timed_run_async
