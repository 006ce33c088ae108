"""The served app: Hayhooks (pipelines from pipelines/) plus the page, release texts, SSE answers, uploads, health.

Run with `pressqa-serve` (see README); `create_app()` is also what the tests use.
"""

import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

# Defaults that must be in place before Hayhooks reads its settings.
os.environ.setdefault("HAYHOOKS_PIPELINES_DIR", str(Path(__file__).resolve().parent.parent / "pipelines"))
os.environ.setdefault("HAYHOOKS_STARTUP_DEPLOY_STRATEGY", "sequential")  # parallel deploy races (NOTES.md)
os.environ.setdefault("HAYHOOKS_HOST", "0.0.0.0")
# Hayhooks' in-process trace buffer costs ~15 % of search throughput; replies carry their own stage
# timings (`timings_ms`). Set HAYHOOKS_TRACING_ENABLED=true to browse traces at /traces.
os.environ.setdefault("HAYHOOKS_TRACING_ENABLED", "false")
# Haystack's usage telemetry posts to posthog.com from every process (seen as DNS failures in the log here):
# nothing about the service leaves it unless the operator opts in.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model comes from the local cache, never from the hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

# Many requests at once on few cores: one thread per inference beats threads competing for cores
# (measured on 2 cores under load: query embedding 45 ms with 1 thread, 586 ms with 2).
torch.set_num_threads(int(os.environ.get("PRESSQA_TORCH_THREADS", "1")))
# The same for numpy's BLAS, which the store's vector search runs on (1,613 x 384 matrix times the query):
# under load on 2 cores its 2-thread matvec took 2.7 ms, 1 thread 0.2 ms; it was the top item of the search
# profile (NOTES-speed.md).
threadpool_limits(int(os.environ.get("PRESSQA_BLAS_THREADS", "1")), user_api="blas")

from fastapi import FastAPI, File, UploadFile  # noqa: E402
from fastapi.concurrency import run_in_threadpool  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from hayhooks import create_app as create_hayhooks_app  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from components.index_file import IndexNotSavedError  # noqa: E402
from components.persistent_store import on_publish  # noqa: E402
from service import runtime, workers  # noqa: E402
from service.chat import offer_only_chat_models  # noqa: E402
from service.gate import RequestGate  # noqa: E402
from service.log_hygiene import configure_logging  # noqa: E402
from service.mcp_server import mount_mcp  # noqa: E402
from service.releases import get_release, list_releases  # noqa: E402
from service.security_headers import SecurityHeaders  # noqa: E402
from service.uploads import MAX_REQUEST_BYTES, check_batch, check_name  # noqa: E402
from service.validation import check_filters, check_top_k, clean_query, excerpt, short_validation_error  # noqa: E402

logger = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent / "web"
# Hayhooks routes the service does not serve:
# - runtime deploy/undeploy would let any caller load code into the service or delete a pipeline's folder;
# - /draw/{name} sends the pipeline's graph to mermaid.ink (a third party) and answers 500 without network;
# - the OpenAI Files stubs (/v1/files, /files) read a whole upload into memory and store nothing (no wrapper
#   implements run_file_upload); the Responses API (/v1/responses, /responses) answers 501 for every pipeline.
_REMOVED_ROUTES = ("/deploy", "/undeploy", "/draw", "/v1/files", "/files", "/v1/responses", "/responses")
CORS_ORIGINS_ENV = "PRESSQA_CORS_ORIGINS"


class AskRequest(BaseModel):
    """Body of POST /ask/stream (the same fields as /ask/run)."""

    query: str = Field(description="The question.")
    top_k: int = Field(default=5, description="How many chunks to retrieve and cite (1-20).")
    filters: dict[str, Any] | None = Field(default=None, description="Haystack metadata filters, e.g. on meta.year.")


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


def _cors_origins() -> list[str]:
    """Origins allowed to call the API from a browser page of theirs (PRESSQA_CORS_ORIGINS, comma-separated)."""
    return [o.strip() for o in os.environ.get(CORS_ORIGINS_ENV, "").split(",") if o.strip()]


def _add_middleware(app: FastAPI) -> None:
    """CORS (only when configured) outermost, so preflights are answered and refusals carry CORS headers; then
    Hayhooks' request ids; then security headers; then the gate (token, body limit) right before the routes."""
    hayhooks_middleware = [m for m in app.user_middleware if m.cls is not CORSMiddleware]  # its default: any origin
    origins = _cors_origins()
    cors = [Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type"], max_age=600)] if origins else []
    app.user_middleware[:] = [*cors, *hayhooks_middleware, Middleware(SecurityHeaders), Middleware(RequestGate)]


def _event(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _asse(first: tuple[str, dict], events: AsyncIterator[tuple[str, dict]]) -> AsyncIterator[str]:
    try:
        yield _event(*first)
        async for event, data in events:
            yield _event(event, data)
    except Exception as error:  # the stream has started: report in-band, the status line is already sent
        yield _event("error", {"detail": f"{type(error).__name__}: {error}"})
    finally:
        await events.aclose()  # a client that went away ends the LLM request too


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


def index_not_saved(error: IndexNotSavedError) -> JSONResponse:
    """507 Insufficient Storage for a full disk, 503 for any other failure to save: nothing was changed."""
    status = 507 if error.errno in (28, 122) else 503  # ENOSPC, EDQUOT
    return JSONResponse(status_code=status, content={"detail": f"{error.strerror} Nothing was indexed; the index is unchanged."})


def create_app() -> FastAPI:
    """Hayhooks' app (it deploys pipelines/ at start) with this service's own routes added, behind one gate
    (service.gate.RequestGate: tokens and body limits for every route, also those mounted later)."""
    workers.die_with_supervisor()
    on_publish(workers.announce_served)
    app = create_hayhooks_app()
    configure_logging()
    app.router.routes = _without_removed_routes(app.router.routes)
    _add_middleware(app)
    app.add_exception_handler(RequestValidationError, short_validation_error)
    hayhooks_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with hayhooks_lifespan(app_):
            _fail_unless_all_deployed(app_)
            # Only once every pipeline is deployed: indexing in the background while Hayhooks still
            # imports wrapper modules made a deploy fail ("dictionary changed size during iteration").
            runtime.index_corpus_at_start()
            yield

    app.router.lifespan_context = lifespan
    app.add_exception_handler(IndexNotSavedError, lambda request, error: index_not_saved(error))
    offer_only_chat_models(app)  # /v1/models: only `ask` can chat
    mount_mcp(app)  # MCP for agents at /mcp

    @app.get("/health", tags=["service"])
    async def health() -> dict:
        # async: answered on the event loop, never queued behind requests that hold the worker threads
        """Liveness and readiness: documents indexed, index version and completeness, answer mode,
        indexing progress (in any worker); `pid` names the worker that answers."""
        store = runtime.document_store()
        indexing = runtime.indexer().status.as_json()
        if not indexing["running"]:
            indexing = workers.indexing_elsewhere() or indexing
        index: dict[str, Any] = {"version": getattr(store, "version", None), "problems": getattr(store, "problems", [])}
        index.update(runtime.index_completeness())
        return {
            "status": "degraded" if index["problems"] else "ok",
            "pid": os.getpid(),
            "documents": store.count_documents(),
            "index": index,
            "answer_mode": runtime.answerer().mode,
            "llm_model": runtime.answerer().llm_model,
            "store": type(store).__name__,
            "indexing": indexing,
        }

    @app.post("/ask/stream", tags=["service"])
    async def ask_stream(body: AskRequest) -> StreamingResponse:
        """The answer as Server-Sent Events: `sources`, `delta`…, `done` (or `error`)."""
        query = clean_query(body.query)
        events = runtime.answerer().astream(query, check_top_k(body.top_k, 20), check_filters(body.filters))
        # Run the search before the status line goes out: its errors (e.g. a filter the store rejects)
        # then get their 4xx instead of an in-band error event.
        first = await anext(events)
        return StreamingResponse(
            _asse(first, events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/releases", tags=["service"])
    def releases() -> dict:
        """Every indexed release: file name, title, year, number of chunks."""
        return {"releases": list_releases(runtime.document_store())}

    @app.get("/releases/{file_path}", tags=["service"])
    def release(file_path: str) -> dict:
        """One release's full (cleaned) text and meta."""
        found = get_release(runtime.document_store(), check_name(file_path))
        if found is None:
            return JSONResponse(status_code=404, content={"detail": f"No release named {excerpt(file_path)!r} is indexed."})
        return found

    @app.post("/index/files", tags=["service"])
    async def index_files(files: list[UploadFile] = File(...)) -> dict:
        """Index uploaded .txt releases (multipart `files`); needs the index token."""
        items = []
        for upload in files:
            data = await upload.read(MAX_REQUEST_BYTES + 1)
            items.append((upload.filename or "", data))
        releases_ = check_batch(items)
        indexer = runtime.indexer()
        try:
            status = await run_in_threadpool(indexer.index, indexer.texts_to_sources(releases_), "upload")
        except IndexNotSavedError as error:
            return index_not_saved(error)
        return {
            "files": status.files_done,
            "chunks_written": status.chunks_written,
            "chunks_removed": status.chunks_removed,
            "documents_in_store": runtime.document_store().count_documents(),
        }

    if WEB_DIR.exists():
        app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

        @app.get("/", include_in_schema=False)
        def page() -> FileResponse:
            return FileResponse(WEB_DIR / "index.html")

    return app


def main() -> None:
    """Start the service on HAYHOOKS_HOST:HAYHOOKS_PORT (default 0.0.0.0:1416) with PRESSQA_WORKERS
    worker processes (default: one per core), as Hayhooks' own `hayhooks run --workers N` does."""
    import uvicorn
    from hayhooks.server.logger import intercept_stdlib_logging
    from hayhooks.settings import settings

    count = workers.worker_count()
    os.environ["PRESSQA_WORKERS"] = str(count)
    os.environ[workers.SUPERVISOR_ENV] = str(os.getpid())
    if count > 1:
        # The supervisor only forks and watches workers: replace this process (same pid) with one
        # that never imports torch, Haystack or the pipelines (~550 MiB less resident memory).
        os.execv(sys.executable, [sys.executable, "-m", "service.workers", settings.host, str(settings.port),
                                  str(settings.graceful_shutdown_timeout)])
    intercept_stdlib_logging(settings.intercepted_loggers, access_log_excluded_path_prefixes=settings.access_log_excluded_path_prefixes)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout,
    )
