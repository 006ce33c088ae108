"""The search room's MCP tool `search_press_releases`: ranked passages with release file, title and dates, from
the same run as POST /search/run."""

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from kit.citations import source_entry
from kit.queries import Question
from kit.tools import YEAR, McpTool, year_filter

from .request import SearchRequest

MAX_TOP_K = 20  # an agent's context needs no more; REST search allows 50


class SearchInput(BaseModel):
    query: Question = Field(description="What to look for: a question or search terms, in English.")
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K, description="How many passages to return, best first.")
    year: int | None = YEAR


class Passage(BaseModel):
    rank: int = Field(description="1 for the best match.")
    file: str = Field(description="The release's file name, e.g. '103.txt'.")
    title: str = Field(description="The release's headline, or its first sentence shortened.")
    date: str | None = Field(description="The newest date the release mentions (YYYY-MM-DD or YYYY-MM), else its year.")
    dates: list[str] = Field(description="Every date the release mentions, newest first.")
    year: int | None = Field(description="The most recent year the release mentions as a date.")
    score: float | None = Field(description="Ranking score (higher is better; comparable within one reply only).")
    release_path: str | None = Field(description="GET this path on the service for the whole release.")
    passage: str = Field(description="The passage (chunk) text.")


class SearchOutput(BaseModel):
    passages: list[Passage]
    timings_ms: dict[str, float] = Field(description="Time per stage, in milliseconds.")


def search_tool(search: Callable[[SearchRequest], Awaitable[dict[str, Any]]]) -> McpTool:
    """The tool over the room's `search` (what /search/run runs)."""

    async def search_press_releases(arguments: SearchInput) -> SearchOutput:
        request = SearchRequest(query=arguments.query, top_k=arguments.top_k, filters=year_filter(arguments.year))
        reply = await search(request)  # as /search/run runs it
        passages = []
        for rank, document in enumerate(reply["documents"], start=1):
            entry = source_entry(rank, document)
            del entry["number"]
            passages.append(Passage(rank=rank, score=document["score"], **entry))
        return SearchOutput(passages=passages, timings_ms=reply["timings_ms"])

    return McpTool(
        name="search_press_releases",
        title="Search Deutsche Telekom press releases",
        description="Hybrid search (BM25 and embeddings, re-ranked) over Deutsche Telekom's press releases. "
                    "Returns the best-matching passages with the release file, title and the dates it mentions.",
        input=SearchInput, output=SearchOutput, run=search_press_releases,
    )
