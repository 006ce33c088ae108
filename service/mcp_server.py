"""MCP for agents at `/mcp` on the service's own port (streamable HTTP): one process and one auth with REST.

The tools are those the rooms declare (`Room.mcp_tools()`, kit/room.py), read-only, with typed inputs and outputs
(JSON Schema from their pydantic models):
- `search_press_releases` (pipelines/search/mcp_tool.py): ranked passages with release file, title and dates;
- `ask_press_releases` (pipelines/ask/mcp_tool.py): an answer citing [n], with the cited sources.

Built on Hayhooks' MCP support: `hayhooks.server.utils.mcp_utils.create_starlette_app` supplies the
transport (the MCP SDK's stateless streamable-HTTP session manager and its lifespan), whose `/mcp`
endpoint is mounted here and whose lifespan runs inside the service's; the read token, the Host and the Origin
are checked by `service.http.gate`, as for every route. Replies are plain JSON (`json_response`): a call's
work ends with its reply, which the admission limit counts (service/http/admission.py). `GET /mcp` answers
405: a stateless server has nothing to send on its own, and each GET held an event stream open for ever (500
of them: +40 MB, 500 sockets); the MCP spec lets a server without that stream answer 405.
Hayhooks' own tool server (`create_mcp_server`, what `hayhooks mcp run` serves) is not used: it lists
every pipeline under its pipeline name with its REST input (the index pipeline too) and adds its
deploy/undeploy/status tools (deploy loads code; the REST service removed those routes for that reason).

    # an MCP client config (Claude Desktop, Cursor, …): see docs/api.md
    {"mcpServers": {"telekom-press-releases": {"url": "http://localhost:1416/mcp"}}}
"""

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, HTTPException
from hayhooks.server.utils.mcp_utils import create_starlette_app
from mcp import types
from mcp.server.lowlevel import Server
from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from kit.tools import McpTool

MCP_PATH = "/mcp"
SERVER_NAME = "telekom-press-releases"


def create_mcp_server(tools: dict[str, McpTool]) -> Server:
    """The MCP server answering `tools` (filled by the shell once the rooms are deployed; the MCP SDK's low-level
    server: typed input and output schemas)."""
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
        return [tool.definition() for tool in tools.values()]

    # Arguments are validated by the pydantic input model and results are built from the output model, so
    # the SDK's own jsonschema checks of both are skipped: they cost ~30 ms a call on a loaded 2-core machine.
    @server.call_tool(validate_input=False)
    async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        spec = tools.get(name)
        if spec is None:
            raise ValueError(f"Unknown tool {name!r}; the tools are {', '.join(tools)}.")
        try:
            parsed = spec.input.model_validate(arguments)
        except ValidationError as error:
            raise ValueError("Invalid arguments: " + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors())) from None
        try:
            result = await spec.run(parsed)
        except HTTPException as error:  # the rooms' own 4xx, e.g. malformed filters
            raise ValueError(str(error.detail)) from None
        structured = result.model_dump(mode="json")
        # the JSON as text too, for clients that do not read structuredContent (as the MCP spec advises)
        text = types.TextContent(type="text", text=json.dumps(structured, ensure_ascii=False))
        return types.CallToolResult(content=[text], structuredContent=structured)

    return server


class _AsgiEndpoint:
    """The transport's handler as an ASGI app object: Starlette's `Route` would take a bare function for a
    request handler that answers GET only (MCP clients POST). GET, the server's own event stream, is 405."""

    def __init__(self, handler: Callable) -> None:
        self.handler = handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("method") == "GET":
            reply = JSONResponse({"detail": "This MCP server is stateless and sends nothing on its own: POST to /mcp."},
                                 status_code=405, headers={"Allow": "POST, DELETE"})
            await reply(scope, receive, send)
            return
        await self.handler(scope, receive, send)


def mount_mcp(app: FastAPI, tools: dict[str, McpTool]) -> None:
    """Serve `tools` over MCP at /mcp on `app` (streamable HTTP, every method), its session manager running in
    `app`'s lifespan."""
    mcp_app = create_starlette_app(create_mcp_server(tools), json_response=True)
    endpoint = next(r.app for r in mcp_app.routes if isinstance(r, Mount) and r.path == MCP_PATH)
    # a Route, not a Mount: a Mount answers /mcp with a redirect to /mcp/, which not every client follows
    app.router.routes.append(Route(MCP_PATH, endpoint=_AsgiEndpoint(endpoint), include_in_schema=False))

    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running_app: Any) -> AsyncIterator[Any]:
        async with service_lifespan(running_app) as state, mcp_app.router.lifespan_context(mcp_app):
            yield state

    app.router.lifespan_context = lifespan
