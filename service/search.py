"""The retrieval service: runs pipelines/search/search.yml and times it."""

import time
from typing import Any

from fastapi import HTTPException
from haystack import Document
from haystack.core.errors import PipelineRuntimeError
from haystack.errors import FilterError

from service.pipelines import load_pipeline
from service.timings import collect_timings, record


class Searcher:
    """Hybrid search over the press releases (BM25 + embeddings, fused, re-ranked), as declared in YAML."""

    def __init__(self) -> None:
        self.pipeline = load_pipeline("search", "search")
        self.pipeline.pipeline.warm_up()

    def search(self, query: str, top_k: int, filters: dict[str, Any] | None) -> tuple[list[Document], dict[str, float]]:
        """Ranked chunks for `query` (at most `top_k`, matching `filters`) and the stage timings in ms."""
        result = self.run(query, top_k, filters)
        return result["documents"], result["timings_ms"]

    def run(self, query: str, top_k: int, filters: dict[str, Any] | None) -> dict[str, Any]:
        """Every output search.yml declares (`documents`, `interpreted_filters` …) and `timings_ms`."""
        with collect_timings() as timings:
            started = time.perf_counter()
            try:
                result = self.pipeline.run(query=query, filters=filters, top_k=top_k)
            except PipelineRuntimeError as error:
                # well-formed filters the store cannot apply (a string compared with '>' to a number): 422, not 500
                if isinstance(error.__cause__, FilterError):
                    raise HTTPException(status_code=422, detail=f"Malformed filters: {error.__cause__}") from None
                raise
            record("search_total", started)
        return {**result, "timings_ms": dict(timings)}
