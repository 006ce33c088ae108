"""POST /search/run: the retrieval service (pipelines/search/search.yml)."""

from typing import Any

from hayhooks import BasePipelineWrapper

from service import runtime
from service.documents import document_to_json
from service.validation import check_filters, check_top_k, clean_query

MAX_TOP_K = 50


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        self.pipeline = runtime.searcher().pipeline.pipeline

    def run_api(self, query: str, top_k: int = 5, filters: dict[str, Any] | None = None) -> dict:
        """
        Search the press releases: BM25 and embedding retrieval, fused and re-ranked.

        :param query: The question or search terms.
        :param top_k: How many chunks to return (1-50).
        :param filters: Optional Haystack metadata filters, e.g. on meta.year.
        """
        result = runtime.searcher().run(clean_query(query), check_top_k(top_k, MAX_TOP_K), check_filters(filters))
        # every output search.yml declares, documents as JSON (interpreted_filters: the period the question names)
        return {**result, "documents": [document_to_json(d) for d in result["documents"]]}
