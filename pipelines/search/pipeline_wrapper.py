"""POST /search/run: the retrieval service (search.yml: BM25 and embedding retrieval, fused and re-ranked)."""

from typing import Any

from haystack.core.super_component import SuperComponent

from components.evidence_ranker import EvidenceRanker
from kit.documents import document_to_json
from kit.evidence import PREPARED_CHUNKS
from kit.loader import load_pipeline, run_timed_async
from kit.queries import Filters, Question, check_filters
from kit.room import Room
from kit.tools import McpTool

from .mcp_tool import search_tool
from .request import SearchRequest, TopK


def prepare_rankers(pipeline: SuperComponent) -> None:
    """Let the pipeline's evidence rankers work out ahead what they need of every sentence of the index
    (EvidenceRanker.prepare), so that fresh workers answer their first questions as fast as later ones. The
    retrievers all read one index: its chunks are read once, from the first retriever's store (a cluster's too).
    An index larger than the rankers' caches is prepared as questions retrieve its chunks."""
    parts = [part for _, part in pipeline.pipeline.walk()]
    rankers = [part for part in parts if isinstance(part, EvidenceRanker)]
    store = next((part.document_store for part in parts if getattr(part, "document_store", None) is not None), None)
    if not rankers or store is None or store.count_documents() > PREPARED_CHUNKS:
        return
    documents = store.filter_documents()
    for ranker in rankers:
        ranker.prepare(documents)


class PipelineWrapper(Room):
    def setup(self) -> None:
        self.pipeline = load_pipeline("search", "search")
        self.pipeline.warm_up()
        prepare_rankers(self.pipeline)

    def mcp_tools(self) -> list[McpTool]:
        """`search_press_releases` (mcp_tool.py): what /search/run returns, for agents."""
        return [search_tool(self.search)]

    async def run_api_async(self, query: Question, top_k: TopK = 5, filters: Filters = None) -> dict:
        """
        Search the press releases: BM25 and embedding retrieval, fused and re-ranked.

        :param query: The question or search terms.
        :param top_k: How many chunks to return (1-50).
        :param filters: Optional Haystack metadata filters, e.g. on meta.year.
        """
        # Hayhooks validated the body with a model of these parameters, SearchRequest's types
        return await self.search(SearchRequest.model_construct(query=query, top_k=top_k, filters=filters))

    async def search(self, request: SearchRequest) -> dict[str, Any]:
        """What /search/run returns: every output search.yml declares, documents as JSON (interpreted_filters:
        the period the question names) and the stage timings."""
        result = await run_timed_async(self.pipeline, "search_total", query=request.query, top_k=request.top_k,
                                       filters=check_filters(request.filters))
        return {**result, "documents": [document_to_json(d) for d in result["documents"]]}
