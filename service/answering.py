"""The answering service: search, then an LLM answer (pipelines/ask/generate.yml) or an extractive one
(pipelines/ask/extract.yml), streamed as events; LLM faults fall back to the extractive answer."""

import os
import queue
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from haystack import Document
from haystack.dataclasses import StreamingChunk

from components.extractive_answerer import NOT_FOUND
from service.documents import document_to_json
from service.pipelines import load_pipeline
from service.search import Searcher
from service.timings import collect_timings

Event = tuple[str, dict[str, Any]]


def llm_configured() -> bool:
    """Answers come from an LLM exactly when OPENAI_API_KEY is set (to anything non-empty)."""
    return bool(os.environ.get("OPENAI_API_KEY", "").strip())


def answer_deadline() -> float:
    """Seconds an answer may take before the LLM is given up for the extractive answer (PRESSQA_ANSWER_TIMEOUT)."""
    return float(os.environ.get("PRESSQA_ANSWER_TIMEOUT", "12"))


class Answerer:
    """Answers a question from the press releases, citing the ranked chunks as [1], [2] …"""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.extract = load_pipeline("ask", "extract")
        self.generate = None
        self.llm_model: str | None = None  # the chat model answers come from; None in extractive mode
        if llm_configured():
            self.generate = load_pipeline("ask", "generate")
            llm = next(c for _, c in self.generate.pipeline.walk() if hasattr(c, "model"))
            llm.model = os.environ.get("PRESSQA_LLM_MODEL", "").strip() or llm.model
            self.llm_model = llm.model
            self.generate.pipeline.warm_up()

    @property
    def mode(self) -> str:
        """`llm` or `extractive`."""
        return "llm" if self.generate is not None else "extractive"

    def answer(self, query: str, top_k: int, filters: dict[str, Any] | None) -> dict[str, Any]:
        """The whole answer at once: `answer`, `mode`, `documents`, `warning`, `timings_ms`, `usage`."""
        reply: dict[str, Any] = {}
        for event, data in self.stream(query, top_k, filters):
            if event == "sources":
                reply["documents"] = data["documents"]
            elif event == "done":
                reply.update(data)
        return reply

    def stream(self, query: str, top_k: int, filters: dict[str, Any] | None) -> Iterator[Event]:
        """Events `sources`, then `delta` (answer text pieces), then `done` with the final answer.

        Timings are collected per synchronous step: a streamed generator may resume in another thread.
        """
        started = time.perf_counter()
        found = self.searcher.run(query, top_k, filters)
        documents, timings = found["documents"], found["timings_ms"]
        interpreted = found.get("interpreted_filters") or {}
        yield "sources", {
            "documents": [document_to_json(d) for d in documents],
            "mode": self.mode,
            "interpreted_filters": interpreted,
        }

        warning, usage = None, None
        checked: dict[str, Any] = {}  # the citation check's findings, filled by _stream_llm
        if not documents:
            answer, mode = NOT_FOUND, self.mode
            yield "delta", {"text": answer}
        elif self.generate is not None:
            answer, usage, warning = yield from self._stream_llm(query, documents, timings, checked)
            mode = "llm" if warning is None else "extractive"
        else:
            answer, mode = self._extract(query, documents, timings), "extractive"
            yield "delta", {"text": answer}
        timings["total"] = _ms_since(started)
        yield "done", {
            "answer": answer,
            "mode": mode,
            "warning": warning,
            "timings_ms": timings,
            "usage": usage,
            "interpreted_filters": interpreted,
            # LLM answers: the sentences whose [n] does not support them (pipelines/ask/generate.yml)
            "unsupported_citations": checked.get("unsupported_citations", []) if mode == "llm" else [],
        }

    def _extract(self, query: str, documents: list[Document], timings: dict[str, float]) -> str:
        with collect_timings() as extract_timings:
            answer = self.extract.run(query=query, documents=documents)["answer"]
        timings.update(extract_timings)
        return answer

    def _stream_llm(
        self, query: str, documents: list[Document], timings: dict[str, float], checked: dict[str, Any] | None = None
    ) -> Iterator[Event]:
        """Stream the LLM's answer; on a fault or past the deadline, return the extractive answer and a warning."""
        events: queue.Queue = queue.Queue()

        def on_chunk(chunk: StreamingChunk) -> None:
            if chunk.content:
                events.put(("delta", chunk.content))

        def generate() -> None:
            try:
                with collect_timings() as generate_timings:
                    result = self.generate.run(query=query, documents=documents, streaming_callback=on_chunk)
                events.put(("result", (result["replies"], generate_timings, result.get("unsupported_citations"))))
            except Exception as error:  # any LLM fault (timeout, 401, 429, 5xx, malformed reply) degrades
                events.put(("error", error))

        started = time.perf_counter()
        deadline = started + answer_deadline()
        threading.Thread(target=generate, daemon=True, name="llm-answer").start()
        streamed = False
        problem = None
        while problem is None:
            try:
                kind, payload = events.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                problem = f"the language model did not answer within {answer_deadline():.0f} s"
                break
            if kind == "delta":
                if not streamed:
                    timings["first_token"] = _ms_since(started)
                streamed = True
                yield "delta", {"text": payload}
            elif kind == "error":
                cause = _root_cause(payload)
                problem = f"the language model failed ({type(cause).__name__}: {_short(cause)})"
            else:
                replies, generate_timings, unsupported = payload
                timings.update(generate_timings)
                if checked is not None:
                    checked["unsupported_citations"] = unsupported or []
                text = (replies[0].text or "").strip() if replies else ""
                if not text:
                    problem = "the language model returned an empty reply"
                    break
                timings["generation"] = _ms_since(started)
                return text, (replies[0].meta or {}).get("usage"), None
        timings["generation"] = _ms_since(started)
        answer = self._extract(query, documents, timings)
        warning = f"No generated answer: {problem}. Shown instead: the best-matching sentences of the sources."
        yield "delta", {"text": ("\n\n" if streamed else "") + answer}
        return answer, None, warning


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
