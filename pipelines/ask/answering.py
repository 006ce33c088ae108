"""The ask flow: search.yml's ranked chunks (the search pipeline as a sub-pipeline), then an LLM answer
(generate.yml) or an extractive one (extract.yml), streamed as events. What YAML cannot say lives here: the
deadline, streaming, and the fallback to the extractive answer when the LLM fails or is late."""

import asyncio
import concurrent.futures
import inspect
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.concurrency import run_in_threadpool

from haystack import Document
from haystack.dataclasses import StreamingChunk

from components.extractive_answerer import NOT_FOUND
from kit.admission import waiting_on_remote
from kit.documents import document_to_json
from kit.loader import load_pipeline, run_timed_async
from kit.timings import collect_timings

Event = tuple[str, dict[str, Any]]
LLM_COMPONENT = "llm"  # generate.yml's chat generator


def llm_configured() -> bool:
    """Answers come from an LLM exactly when OPENAI_API_KEY is set (to anything non-empty)."""
    return bool(os.environ.get("OPENAI_API_KEY", "").strip())


def answer_deadline() -> float:
    """Seconds an answer may take before the LLM is given up for the extractive answer (PRESSQA_ANSWER_TIMEOUT)."""
    return float(os.environ.get("PRESSQA_ANSWER_TIMEOUT", "12"))


class Answerer:
    """Answers a question from the press releases, citing the ranked chunks as [1], [2] …

    ```python
    answerer = Answerer()
    reply = await answerer.aanswer("What does the T Tablet cost?", top_k=5, filters=None)
    reply["answer"], reply["mode"], reply["documents"]
    ```
    """

    def __init__(self) -> None:
        self.search = load_pipeline("search", "search")
        self.search.warm_up()
        self.extract = load_pipeline("ask", "extract")
        self.generate = None
        self.llm_model: str | None = None  # the chat model answers come from; None in extractive mode
        if llm_configured():
            self.generate = load_pipeline("ask", "generate", overrides=self._llm_settings)
            self.generate.warm_up()
            self._llm_loop = _LlmLoop()

    def _llm_settings(self, name: str, component_class: type, init_params: dict[str, Any]) -> None:
        """Deserialization callback for generate.yml: PRESSQA_LLM_MODEL replaces the chat model, and the
        client's own timeout never outlasts the answer it serves (a backstop: the deadline cancels it)."""
        if name != LLM_COMPONENT:
            return
        if model := os.environ.get("PRESSQA_LLM_MODEL", "").strip():
            init_params["model"] = model
        accepted = inspect.signature(component_class.__init__).parameters
        self.llm_model = init_params.get("model") or getattr(accepted.get("model"), "default", None)
        if "timeout" in accepted:
            init_params["timeout"] = min(init_params.get("timeout") or answer_deadline(), answer_deadline())

    @property
    def mode(self) -> str:
        """`llm` or `extractive`."""
        return "llm" if self.generate is not None else "extractive"

    async def aanswer(self, query: str, top_k: int, filters: dict[str, Any] | None) -> dict[str, Any]:
        """The whole answer at once: `answer`, `mode`, `documents`, `warning`, `timings_ms`, `usage`,
        `interpreted_filters`, `unsupported_citations`, `answerable`, `answerability`. Waiting for the LLM holds no
        thread."""
        reply: dict[str, Any] = {}
        async for event, data in self.astream(query, top_k, filters):
            if event == "sources":
                reply["documents"] = data["documents"]
            elif event == "done":
                reply.update(data)
        return reply

    async def astream(self, query: str, top_k: int, filters: dict[str, Any] | None) -> AsyncIterator[Event]:
        """Events `sources`, then `delta` (answer text pieces), then `done` with the final answer.

        Search and the extractive answer run in worker threads, the LLM on the answerer's event loop; waiting
        for it holds no thread. The deadline (PRESSQA_ANSWER_TIMEOUT) counts from here, search included; it,
        or a client that goes away, cancels the LLM request.
        """
        started = time.perf_counter()
        deadline = started + answer_deadline()
        found = await run_timed_async(self.search, "search_total", query=query, top_k=top_k, filters=filters)
        documents, timings, interpreted = found["documents"], found["timings_ms"], found.get("interpreted_filters") or {}
        yield "sources", _sources_event(documents, self.mode, interpreted)

        warning, usage = None, None
        outcome: dict[str, Any] = {"answerable": False, "answerability": 0.0}
        if not documents:
            answer, mode = NOT_FOUND, self.mode
            yield "delta", {"text": answer}
        elif self.generate is not None:
            async for event in self._astream_llm(query, documents, timings, deadline, outcome):
                yield event
            answer, usage, warning = outcome["answer"], outcome["usage"], outcome["warning"]
            mode = "llm" if warning is None else "extractive"
        else:
            outcome.update(await run_in_threadpool(self._extract, query, documents, timings))
            answer, mode = outcome["answer"], "extractive"
            yield "delta", {"text": answer}
        timings["total"] = _ms_since(started)
        yield "done", _done_event(answer, mode, warning, timings, usage, interpreted, outcome)

    def _extract(self, query: str, documents: list[Document], timings: dict[str, float]) -> dict[str, Any]:
        """extract.yml's `answer`, `answerable` and `answerability`."""
        with collect_timings() as extract_timings:
            result = self.extract.run(query=query, documents=documents)
        timings.update(extract_timings)
        return {key: result[key] for key in ("answer", "answerable", "answerability")}

    async def _generate(self, query: str, documents: list[Document], deliver: Callable[[tuple], None]) -> None:
        """Run generate.yml on the LLM loop, handing ("delta", text), then ("result", …) or ("error", …) to
        `deliver`. Cancelling the task ends the HTTP request to the LLM."""

        async def on_chunk(chunk: StreamingChunk) -> None:
            if chunk.content:
                deliver(("delta", chunk.content))

        try:
            with collect_timings() as generate_timings:
                result = await self.generate.run_async(query=query, documents=documents, streaming_callback=on_chunk)
            deliver(("result", (result["replies"], generate_timings, result)))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # any LLM fault (timeout, 401, 429, 5xx, malformed reply) degrades
            deliver(("error", error))

    async def _astream_llm(
        self, query: str, documents: list[Document], timings: dict[str, float], deadline: float, outcome: dict
    ) -> AsyncIterator[Event]:
        """Stream the LLM's answer; on a fault or past the deadline, the extractive answer and a warning. The
        answer, usage, warning and answerability go into `outcome`."""
        events: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        future = self._llm_loop.submit(self._generate(query, documents, lambda item: loop.call_soon_threadsafe(events.put_nowait, item)))
        waiting_on_remote()  # the CPU work is done: the admission limit may give this request's place to another
        state = _LlmState(started)
        try:
            while not state.finished:
                try:
                    item = await asyncio.wait_for(events.get(), timeout=max(0.0, deadline - time.perf_counter()))
                except TimeoutError:
                    state.timed_out(timings)
                    break
                if (delta := state.take(item, timings)) is not None:
                    yield "delta", {"text": delta}
        finally:
            future.cancel()
        if state.answer is not None:
            outcome.update(answer=state.answer, usage=state.usage, warning=None, unsupported_citations=state.unsupported,
                           **state.answerability)
            return
        outcome.update(await run_in_threadpool(self._extract, query, documents, timings))
        yield "delta", {"text": ("\n\n" if state.streamed else "") + outcome["answer"]}
        outcome.update(usage=None, warning=state.warning())


class _LlmState:
    """What the LLM has sent so far for one answer, and why it failed if it did."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.streamed = False
        self.problem: str | None = None
        self.answer: str | None = None
        self.usage: dict | None = None
        self.unsupported: list = []  # sentences whose citation does not support them
        self.answerability: dict[str, Any] = {}  # generate.yml's answerability check

    @property
    def finished(self) -> bool:
        return self.problem is not None or self.answer is not None

    def timed_out(self, timings: dict[str, float]) -> None:
        timings["generation"] = _ms_since(self.started)
        self.problem = f"the language model did not answer within {answer_deadline():.0f} s"

    def take(self, item: tuple[str, Any], timings: dict[str, float]) -> str | None:
        """Record one item from `_generate`; the text to stream on, if it was a delta."""
        kind, payload = item
        if kind == "delta":
            if not self.streamed:
                timings["first_token"] = _ms_since(self.started)
            self.streamed = True
            return payload
        timings["generation"] = _ms_since(self.started)
        if kind == "error":
            cause = _root_cause(payload)
            self.problem = f"the language model failed ({type(cause).__name__}: {_short(cause)})"
            return None
        replies, generate_timings, result = payload
        timings.update(generate_timings)
        text = (replies[0].text or "").strip() if replies else ""
        if not text:
            self.problem = "the language model returned an empty reply"
            return None
        self.answer, self.usage = text, (replies[0].meta or {}).get("usage")
        self.unsupported = result.get("unsupported_citations") or []
        self.answerability = {key: result[key] for key in ("answerable", "answerability") if key in result}
        return None

    def warning(self) -> str:
        return f"No generated answer: {self.problem}. Shown instead: the best-matching sentences of the sources."


class _LlmLoop:
    """One event loop in one daemon thread for every LLM request of the process: waiting for tokens costs no
    thread per request, and a request cancelled at its deadline is gone at once (a thread blocked in a
    synchronous HTTP call could not be stopped: under load they piled up for the client's whole timeout)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="llm-loop", daemon=True).start()

    def submit(self, coroutine) -> concurrent.futures.Future:
        """Run `coroutine` on the loop; cancelling the returned future cancels it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


def _sources_event(documents: list[Document], mode: str, interpreted: dict[str, Any]) -> dict[str, Any]:
    return {"documents": [document_to_json(d) for d in documents], "mode": mode, "interpreted_filters": interpreted}


def _done_event(
    answer: str, mode: str, warning: str | None, timings: dict, usage: dict | None, interpreted: dict, checked: dict
) -> dict[str, Any]:
    return {
        "answer": answer,
        "mode": mode,
        "warning": warning,
        "timings_ms": timings,
        "usage": usage,
        "interpreted_filters": interpreted,  # the period the question names (search.yml's `period`)
        # LLM answers: the sentences whose [n] does not support them (generate.yml's `citation_check`)
        "unsupported_citations": checked.get("unsupported_citations", []) if mode == "llm" else [],
        # whether the sources likely hold the answer, and that probability (the answerability check of
        # extract.yml / generate.yml); an extractive answer refuses when False
        "answerable": bool(checked.get("answerable", False)),
        "answerability": round(float(checked.get("answerability", 0.0)), 3),
    }


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _root_cause(error: BaseException) -> BaseException:
    """The exception under Haystack's PipelineRuntimeError wrapping (e.g. openai.RateLimitError)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _short(error: BaseException) -> str:
    """The error message in one line, cut short, with the configured key and anything key-like removed."""
    text = str(error).splitlines()[0] if str(error) else ""
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if len(key) >= 8:
        text = text.replace(key, "***")
    return re.sub(r"sk-[A-Za-z0-9_-]{8,}", "sk-***", text)[:200]
