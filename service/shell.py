"""The app shell: Hayhooks' app (it deploys every room of pipelines/) behind one gate, plus what belongs to no
room: /health (liveness), /ready (readiness), the page, /v1/models, /mcp. It serves what each room
(pipelines/<name>/pipeline_wrapper.py, a `kit.room.Room`) declares: its extra routes (`routes`), its part of /ready
(`readiness()`), its work after deploy (`after_deploy()`) and its MCP tools (`mcp_tools()`).

Built by `service.app.create_app()`, which applies the process settings first (kit/process.py).
"""

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from hayhooks import create_app as create_hayhooks_app
from starlette.middleware import Middleware

from kit.room import Room
from kit.run_folder import announce_served
from kit.tools import McpTool
from service import supervisor
from service.chat_models import offer_only_chat_models
from service.http.admission import AdmissionLimit
from service.http.errors import short_validation_error
from service.http.gate import RequestGate
from service.http.hosts import cors_origins
from service.http.security_headers import SecurityHeaders
from service.log_hygiene import configure_logging
from service.mcp_server import mount_mcp
from stores.inmemory.persistent_store import on_publish

WEB_DIR = Path(__file__).resolve().parent / "web"
# Hayhooks routes the service does not serve:
# - runtime deploy/undeploy would let any caller load code into the service or delete a pipeline's folder;
# - /draw/{name} sends the pipeline's graph to mermaid.ink (a third party) and answers 500 without network;
# - the OpenAI Files stubs (/v1/files, /files) read a whole upload into memory and store nothing (no wrapper
#   implements run_file_upload); the Responses API (/v1/responses, /responses) answers 501 for every pipeline.
_REMOVED_ROUTES = ("/deploy", "/undeploy", "/draw", "/v1/files", "/files", "/v1/responses", "/responses")
# Tells the worker processes apart in /ready (clients and tests poll until every worker answered); not the pid.
WORKER_ID = secrets.token_hex(4)


def _without_removed_routes(routes: list[Any], prefix: str = "") -> list[Any]:
    """`routes` without those under `_REMOVED_ROUTES`, looking into included routers (Hayhooks nests the
    OpenAI routers: chat, models, responses, files in one); a router left empty is dropped whole."""
    kept = []
    for route in routes:
        router = getattr(route, "original_router", None)
        if router is None:
            if not (prefix + getattr(route, "path", "")).startswith(_REMOVED_ROUTES):
                kept.append(route)
            continue
        inner_prefix = prefix + (getattr(getattr(route, "include_context", None), "prefix", "") or "")
        inner = _without_removed_routes(router.routes, inner_prefix)
        if len(inner) != len(router.routes):
            router.routes[:] = inner
            getattr(router, "_mark_routes_changed", lambda: None)()  # FastAPI caches the routes it resolves
        if inner:
            kept.append(route)
    return kept


def _add_middleware(app: FastAPI) -> None:
    """CORS (only when configured) outermost, so preflights are answered and refusals carry CORS headers; then
    Hayhooks' request ids; then security headers; then the admission limit (503 at once when the worker is busy);
    then the gate (host, token, body limit) right before the routes."""
    hayhooks_middleware = [m for m in app.user_middleware if m.cls is not CORSMiddleware]  # its default: any origin
    origins = cors_origins()
    cors = [Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type"], max_age=600)] if origins else []
    app.user_middleware[:] = [*cors, *hayhooks_middleware, Middleware(SecurityHeaders), Middleware(AdmissionLimit),
                              Middleware(RequestGate)]


class PipelinesNotDeployedError(RuntimeError):
    """A pipeline of the pipelines folder failed to deploy: the service must not start without it."""


def expected_pipelines() -> list[str]:
    """What Hayhooks deploys from the pipelines folder: its sub-folders and top-level YAML files."""
    folder = Path(os.environ["HAYHOOKS_PIPELINES_DIR"])
    return sorted(
        p.stem if p.is_file() else p.name
        for p in folder.iterdir()
        if not p.name.startswith((".", "_")) and (p.is_dir() or p.suffix in (".yml", ".yaml"))
    )


def _fail_unless_all_deployed(app: FastAPI) -> None:
    # Hayhooks logs a pipeline that fails to deploy and skips it (hayhooks/server/app.py,
    # _deploy_pipelines_sequential: "Skipping pipeline directory"); a service without `ask` would
    # answer 404 for its whole life, so start-up fails instead, naming what is missing.
    deployed = set(app.state.pipeline_registry.get_names())
    missing = [name for name in expected_pipelines() if name not in deployed]
    if missing:
        raise PipelinesNotDeployedError(
            f"Pipelines failed to deploy: {', '.join(missing)} (from {os.environ['HAYHOOKS_PIPELINES_DIR']}); "
            "the log above says why. Not starting without them."
        )


def build_app() -> FastAPI:
    """Hayhooks' app (it deploys pipelines/ at start) with the shell's routes and every room's added, behind one
    gate (service.http.gate.RequestGate: tokens and body limits for every route, also those added later)."""
    supervisor.die_with_supervisor()
    on_publish(announce_served)  # each worker announces the index version it serves (kit/run_folder.py)
    app = create_hayhooks_app()
    configure_logging()
    app.router.routes = _without_removed_routes(app.router.routes)
    _add_middleware(app)
    app.add_exception_handler(RequestValidationError, short_validation_error)
    hayhooks_lifespan = app.router.lifespan_context
    mcp_tools: dict[str, McpTool] = {}  # the rooms' tools, filled once they are deployed

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with hayhooks_lifespan(app_):
            _fail_unless_all_deployed(app_)
            for room in _rooms(app_):
                if room.routes is not None:
                    app_.include_router(room.routes)
                mcp_tools.update((tool.name, tool) for tool in room.mcp_tools())
            # Only once every pipeline is deployed: indexing in the background while Hayhooks still
            # imports wrapper modules made a deploy fail ("dictionary changed size during iteration").
            for room in _rooms(app_):
                room.after_deploy()
            yield

    app.router.lifespan_context = lifespan
    offer_only_chat_models(app)  # /v1/models: only `ask` can chat
    mount_mcp(app, mcp_tools)  # MCP for agents at /mcp

    @app.get("/health", tags=["service"])
    async def health() -> dict:
        """Liveness: this worker's event loop answers. Open (a load balancer's check carries no token), minimal, and
        fast under load: no index or pipeline work on its path, and the admission limit never refuses it."""
        # async: answered on the event loop, never queued behind requests that hold the worker threads
        return {"status": "ok"}

    @app.get("/ready", tags=["service"])
    def ready() -> dict:
        """Readiness, behind the read token: documents indexed, index version, problems and completeness, answer
        mode, indexing progress (in any worker); `worker` tells the worker that answers from the others (an opaque
        id, not its pid). No absolute path, no pid. Each room adds its part."""
        # a plain def, in a worker thread: a search cluster's count is a network call, kept off the event loop
        reply: dict[str, Any] = {"status": "ok", "worker": WORKER_ID}
        for room in _rooms(app):
            reply.update(room.readiness())
        if (reply.get("index") or {}).get("problems"):
            reply["status"] = "degraded"
        return reply

    if WEB_DIR.exists():
        app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

        @app.get("/", include_in_schema=False)
        def page() -> FileResponse:
            return FileResponse(WEB_DIR / "index.html")

    return app


def _rooms(app: FastAPI) -> list[Room]:
    """The deployed rooms (pipeline wrappers declaring what the shell serves), in name order."""
    registry = app.state.pipeline_registry
    return [room for name in sorted(registry.get_names()) if isinstance(room := registry.get(name), Room)]
