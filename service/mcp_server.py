"""MCP for agents at `/mcp` on the service's own port (streamable HTTP): one process and one auth with REST.

Two read-only tools, with typed inputs and outputs (JSON Schema from the pydantic models below):
- `search_press_releases`: ranked passages with release file, title and dates (search.yml);
- `ask_press_releases`: an answer citing [n], with the cited sources (what `/ask/run` answers).

Built on Hayhooks' MCP support: `hayhooks.server.utils.mcp_utils.create_starlette_app` supplies the
transport (the MCP SDK's stateless streamable-HTTP session manager and its lifespan), whose `/mcp`
endpoint is mounted here and whose lifespan runs inside the service's; the read token is checked by
`service.http.gate`, as for every route.
Hayhooks' own tool server (`create_mcp_server`, what `hayhooks mcp run` serves) is not used: it lists
every pipeline under its pipeline name with its REST input (the index pipeline too) and adds its
deploy/undeploy/status tools (deploy loads code; the REST service removed those routes for that reason).

    # an MCP client config (Claude Desktop, Cursor, …): see docs/api.md
    {"mcpServers": {"telekom-press-releases": {"url": "http://localhost:1416/mcp"}}}
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from hayhooks.server.pipelines.registry import registry
from hayhooks.server.utils.mcp_utils import create_starlette_app
from mcp import types
from mcp.server.lowlevel import Server
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import Mount, Route

from service.citations import cited_sources, source_entry
from service.http.validation import MAX_QUERY_CHARS

MCP_PATH = "/mcp"
SERVER_NAME = "telekom-press-releases"
MAX_TOP_K = 20  # an agent's context needs no more; REST search allows 50

_YEAR = Field(
    default=None, ge=1990, le=2100,
    description="Only releases from this year (the most recent year a release mentions as a date); omit for all.",
)


class SearchInput(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS,
                       description="What to look for: a question or search terms, in English.")
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K, description="How many passages to return, best first.")
    year: int | None = _YEAR


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


class AskInput(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS,
                          description="The question about Deutsche Telekom's press releases, in English.")
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K, description="How many passages to answer from and cite.")
    year: int | None = _YEAR


class Source(BaseModel):
    number: int = Field(description="The n of the [n] citations in the answer.")
    file: str = Field(description="The release's file name, e.g. '103.txt'.")
    title: str
    date: str | None = Field(description="The newest date the release mentions, else its year.")
    dates: list[str]
    year: int | None
    release_path: str | None = Field(description="GET this path on the service for the whole release.")
    passage: str = Field(description="The cited passage (chunk) text.")


class AskOutput(BaseModel):
    answer: str = Field(description="The answer, citing its sources as [1], [2] …")
    mode: str = Field(description="'llm' (generated) or 'extractive' (the best-matching sentences of the sources).")
    warning: str | None = Field(description="Why the answer fell back to the extractive one, when it did.")
    sources: list[Source] = Field(description="The sources the answer cites, by number.")
    timings_ms: dict[str, float]


def _year_filter(year: int | None) -> dict[str, Any] | None:
    return None if year is None else {"field": "meta.year", "operator": "==", "value": year}


def _pipeline(name: str) -> Any:
    """The deployed pipeline wrapper `name`: the tools run what /search/run and /ask/run run."""
    wrapper = registry.get(name)
    if wrapper is None:
        raise RuntimeError(f"The {name} pipeline is not deployed.")
    return wrapper


async def search_press_releases(arguments: SearchInput) -> SearchOutput:
    # the search pipeline is synchronous: in a worker thread, as Hayhooks runs /search/run
    reply = await run_in_threadpool(
        _pipeline("search").run_api, query=arguments.query, top_k=arguments.top_k, filters=_year_filter(arguments.year))
    passages = []
    for rank, document in enumerate(reply["documents"], start=1):
        entry = source_entry(rank, document)
        del entry["number"]
        passages.append(Passage(rank=rank, score=document["score"], **entry))
    return SearchOutput(passages=passages, timings_ms=reply["timings_ms"])


async def ask_press_releases(arguments: AskInput) -> AskOutput:
    # as /ask/run: waiting for the LLM holds no thread, and the deadline cancels it
    reply = await _pipeline("ask").run_api_async(query=arguments.question, top_k=arguments.top_k,
                                                 filters=_year_filter(arguments.year))
    return AskOutput(
        answer=reply["answer"], mode=reply["mode"], warning=reply.get("warning"),
        sources=cited_sources(reply["answer"], reply.get("documents") or []), timings_ms=reply["timings_ms"],
    )


@dataclass(frozen=True)
class _ToolSpec:
    title: str
    description: str
    input: type[BaseModel]
    output: type[BaseModel]
    run: Callable[[Any], Awaitable[BaseModel]]

    def definition(self, name: str) -> types.Tool:
        return types.Tool(
            name=name, title=self.title, description=self.description,
            inputSchema=self.input.model_json_schema(), outputSchema=self.output.model_json_schema(),
            annotations=types.ToolAnnotations(title=self.title, readOnlyHint=True, idempotentHint=True,
                                              openWorldHint=False),
        )


TOOLS: dict[str, _ToolSpec] = {
    "search_press_releases": _ToolSpec(
        title="Search Deutsche Telekom press releases",
        description="Hybrid search (BM25 and embeddings, re-ranked) over Deutsche Telekom's press releases. "
                    "Returns the best-matching passages with the release file, title and the dates it mentions.",
        input=SearchInput, output=SearchOutput, run=search_press_releases,
    ),
    "ask_press_releases": _ToolSpec(
        title="Ask Deutsche Telekom press releases",
        description="Answers a question from Deutsche Telekom's press releases only, citing them as [1], [2] … "
                    "Returns the answer, the cited sources (file, title, dates, passage) and whether it was "
                    "generated by the LLM or extracted; says so when the releases do not contain the answer.",
        input=AskInput, output=AskOutput, run=ask_press_releases,
    ),
}


def create_mcp_server() -> Server:
    """The MCP server with the two tools (the MCP SDK's low-level server: typed input and output schemas)."""
    try:
        server_version = version("telekom-press-qa")
    except PackageNotFoundError:  # run from a checkout that is not installed
        server_version = None
    server: Server = Server(
        SERVER_NAME,
        version=server_version,
        instructions="Deutsche Telekom press releases: search them for passages, or ask a question and get "
                     "an answer that cites its sources as [n].",
    )

    @server.list_tools()
    async def list_tools() -> list[types.Tool]:
        return [spec.definition(name) for name, spec in TOOLS.items()]

    # Arguments are validated by the pydantic input model and results are built from the output model, so
    # the SDK's own jsonschema checks of both are skipped: they cost ~30 ms a call on a loaded 2-core machine.
    @server.call_tool(validate_input=False)
    async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        spec = TOOLS.get(name)
        if spec is None:
            raise ValueError(f"Unknown tool {name!r}; the tools are {', '.join(TOOLS)}.")
        try:
            parsed = spec.input.model_validate(arguments)
        except ValidationError as error:
            raise ValueError("Invalid arguments: " + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors())) from None
        try:
            result = await spec.run(parsed)
        except HTTPException as error:  # the REST checks' 4xx, e.g. an empty question
            raise ValueError(str(error.detail)) from None
        structured = result.model_dump(mode="json")
        # the JSON as text too, for clients that do not read structuredContent (as the MCP spec advises)
        text = types.TextContent(type="text", text=json.dumps(structured, ensure_ascii=False))
        return types.CallToolResult(content=[text], structuredContent=structured)

    return server


class _AsgiEndpoint:
    """The transport's handler as an ASGI app object: Starlette's `Route` would take a bare function for a
    request handler that answers GET only (MCP clients POST)."""

    def __init__(self, handler: Callable) -> None:
        self.handler = handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.handler(scope, receive, send)


def mount_mcp(app: FastAPI) -> None:
    """Serve MCP at /mcp on `app` (streamable HTTP, every method), its session manager running in `app`'s lifespan."""
    mcp_app = create_starlette_app(create_mcp_server())
    endpoint = next(r.app for r in mcp_app.routes if isinstance(r, Mount) and r.path == MCP_PATH)
    # a Route, not a Mount: a Mount answers /mcp with a redirect to /mcp/, which not every client follows
    app.router.routes.append(Route(MCP_PATH, endpoint=_AsgiEndpoint(endpoint), include_in_schema=False))

    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running_app: Any) -> AsyncIterator[Any]:
        async with service_lifespan(running_app) as state, mcp_app.router.lifespan_context(mcp_app):
            yield state

    app.router.lifespan_context = lifespan
