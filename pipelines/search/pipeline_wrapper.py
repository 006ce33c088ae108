"""POST /search/run: the retrieval service (search.yml: BM25 and embedding retrieval, fused and re-ranked)."""

from typing import Any

from hayhooks import BasePipelineWrapper

from service.documents import document_to_json
from service.http.validation import check_filters, check_top_k, clean_query
from service.pipelines import load_pipeline, run_timed

MAX_TOP_K = 50


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        self.pipeline = load_pipeline("search", "search")
        self.pipeline.warm_up()

    def run_api(self, query: str, top_k: int = 5, filters: dict[str, Any] | None = None) -> dict:
        """
        Search the press releases: BM25 and embedding retrieval, fused and re-ranked.

        :param query: The question or search terms.
        :param top_k: How many chunks to return (1-50).
        :param filters: Optional Haystack metadata filters, e.g. on meta.year.
        """
        result = run_timed(self.pipeline, "search_total", query=clean_query(query),
                           top_k=check_top_k(top_k, MAX_TOP_K), filters=check_filters(filters))
        # every output search.yml declares, documents as JSON (interpreted_filters: the period the question names)
        return {**result, "documents": [document_to_json(d) for d in result["documents"]]}
