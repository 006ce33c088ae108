"""The ask room's question shape: one request model for /ask/run (its field types are `run_api_async`'s
parameters, from which Hayhooks builds the route's request model), /ask/stream (the body), the chat endpoint
(the last user message) and the MCP tool."""

from pydantic import BaseModel, Field

from kit.queries import Filters, Question, top_k_type

MAX_TOP_K = 20
TopK = top_k_type(MAX_TOP_K)


class AskRequest(BaseModel):
    """A question: the question, how many chunks to retrieve and cite, optional metadata filters."""

    query: Question = Field(description="The question.")
    top_k: TopK = Field(default=5, description=f"How many chunks to retrieve and cite (1-{MAX_TOP_K}).")
    filters: Filters = Field(default=None, description="Haystack metadata filters, e.g. on meta.year.")
