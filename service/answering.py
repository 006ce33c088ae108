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

from service.documents import document_to_json
from service.pipelines import load_pipeline
from service.search import Searcher
from service.timings import collect_timings, record

NOTHING_FOUND = "The press releases do not contain information that answers this question."
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
        if llm_configured():
            self.generate = load_pipeline("ask", "generate")
            llm = next(c for _, c in self.generate.pipeline.walk() if hasattr(c, "model"))
            llm.model = os.environ.get("PRESSQA_LLM_MODEL", "").strip() or llm.model
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
        """Events `sources`, then `delta` (answer text pieces), then `done` with the final answer."""
        with collect_timings() as timings:
            started = time.perf_counter()
            documents, search_timings = self.searcher.search(query, top_k, filters)
            timings.update(search_timings)
            yield "sources", {"documents": [document_to_json(d) for d in documents], "mode": self.mode}

            warning, usage = None, None
            if not documents:
                answer, mode = NOTHING_FOUND, self.mode
                yield "delta", {"text": answer}
            elif self.generate is not None:
                answer, usage, warning = yield from self._stream_llm(query, documents)
                mode = "llm" if warning is None else "extractive"
            else:
                answer, mode = self._extract(query, documents), "extractive"
                yield "delta", {"text": answer}
            record("total", started)
        yield "done", {"answer": answer, "mode": mode, "warning": warning, "timings_ms": dict(timings), "usage": usage}

    def _extract(self, query: str, documents: list[Document]) -> str:
        return self.extract.run(query=query, documents=documents)["answer"]

    def _stream_llm(self, query: str, documents: list[Document]) -> Iterator[Event]:
        """Stream the LLM's answer; on a fault or past the deadline, return the extractive answer and a warning."""
        events: queue.Queue = queue.Queue()

        def on_chunk(chunk: StreamingChunk) -> None:
            if chunk.content:
                events.put(("delta", chunk.content))

        def generate() -> None:
            try:
                replies = self.generate.run(query=query, documents=documents, streaming_callback=on_chunk)["replies"]
                events.put(("result", replies))
            except Exception as error:  # any LLM fault (timeout, 401, 429, 5xx, malformed reply) degrades
                events.put(("error", error))

        started = time.perf_counter()
        deadline = started + answer_deadline()
        threading.Thread(target=generate, daemon=True, name="llm-answer").start()
        parts: list[str] = []
        problem = None
        while problem is None:
            try:
                kind, payload = events.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                problem = f"the language model did not answer within {answer_deadline():.0f} s"
                break
            if kind == "delta":
                parts.append(payload)
                yield "delta", {"text": payload}
            elif kind == "error":
                problem = f"the language model failed ({type(payload).__name__}: {_short(payload)})"
            else:
                record("generation", started)
                text = (payload[0].text or "").strip() if payload else ""
                if not text:
                    problem = "the language model returned an empty reply"
                    break
                return text, (payload[0].meta or {}).get("usage"), None
        record("generation", started)
        answer = self._extract(query, documents)
        warning = f"No generated answer: {problem}. Shown instead: the best-matching sentences of the sources."
        yield "delta", {"text": ("\n\n" if parts else "") + answer}
        return answer, None, warning


def _short(error: Exception) -> str:
    """The error message in one line, cut short, with anything that looks like a key removed."""
    text = re.sub(r"sk-[A-Za-z0-9_-]{8,}", "sk-***", str(error).splitlines()[0] if str(error) else "")
    return text[:200]
