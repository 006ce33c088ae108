"""The search room's question shape: one request model whose field types are also `run_api`'s parameters (from
which Hayhooks builds /search/run's request model) and the MCP tool's."""

from pydantic import BaseModel, Field

from kit.queries import Filters, Question, top_k_type

MAX_TOP_K = 50
TopK = top_k_type(MAX_TOP_K)


class SearchRequest(BaseModel):
    """A search: the question or search terms, how many chunks, optional metadata filters."""

    query: Question = Field(description="The question or search terms.")
    top_k: TopK = Field(default=5, description=f"How many chunks to return (1-{MAX_TOP_K}).")
    filters: Filters = Field(default=None, description="Optional Haystack metadata filters, e.g. on meta.year.")
