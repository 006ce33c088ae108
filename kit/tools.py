"""An MCP tool as a room declares it (`Room.mcp_tools()`): typed input and output (pydantic models, whose JSON
Schema the tool list carries) and the coroutine that answers a call. The app shell serves the tools every room
declares at `/mcp` (service/mcp_server.py)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp import types
from pydantic import BaseModel, Field

# The year filter both tools offer (the releases carry no publication date: `meta.year` is the most recent year
# a release mentions as a date).
YEAR = Field(
    default=None, ge=1990, le=2100,
    description="Only releases from this year (the most recent year a release mentions as a date); omit for all.",
)


def year_filter(year: int | None) -> dict[str, Any] | None:
    """The Haystack metadata filter for `YEAR`."""
    return None if year is None else {"field": "meta.year", "operator": "==", "value": year}


@dataclass(frozen=True)
class McpTool:
    """One read-only MCP tool: `run` takes the validated `input` model and returns an `output` model."""

    name: str
    title: str
    description: str
    input: type[BaseModel]
    output: type[BaseModel]
    run: Callable[[Any], Awaitable[BaseModel]]

    def definition(self) -> types.Tool:
        return types.Tool(
            name=self.name, title=self.title, description=self.description,
            inputSchema=self.input.model_json_schema(), outputSchema=self.output.model_json_schema(),
            annotations=types.ToolAnnotations(title=self.title, readOnlyHint=True, idempotentHint=True,
                                              openWorldHint=False),
        )
