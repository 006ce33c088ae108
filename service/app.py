"""The served app: Hayhooks (pipelines from pipelines/) plus the page, release texts, SSE answers, uploads, health.

Run with `pressqa-serve` (see README); `create_app()` is also what the tests use.
"""

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Defaults that must be in place before Hayhooks reads its settings.
os.environ.setdefault("HAYHOOKS_PIPELINES_DIR", str(Path(__file__).resolve().parent.parent / "pipelines"))
os.environ.setdefault("HAYHOOKS_STARTUP_DEPLOY_STRATEGY", "sequential")  # parallel deploy races (NOTES.md)
os.environ.setdefault("HAYHOOKS_HOST", "0.0.0.0")
# Hayhooks' in-process trace buffer costs ~15 % of search throughput; replies carry their own stage
# timings (`timings_ms`). Set HAYHOOKS_TRACING_ENABLED=true to browse traces at /traces.
os.environ.setdefault("HAYHOOKS_TRACING_ENABLED", "false")
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

from fastapi import FastAPI, File, Request, UploadFile  # noqa: E402
from fastapi.concurrency import run_in_threadpool  # noqa: E402
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from hayhooks import create_app as create_hayhooks_app  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from service import runtime  # noqa: E402
from service.auth import require_index_token, require_read_token  # noqa: E402
from service.releases import get_release, list_releases  # noqa: E402
from service.uploads import MAX_REQUEST_BYTES, check_batch, check_name  # noqa: E402
from service.validation import check_filters, check_top_k, clean_query  # noqa: E402

WEB_DIR = Path(__file__).resolve().parent / "web"
# Hayhooks' runtime deploy/undeploy routes would let any caller load code into the service or
# delete a pipeline's folder from disk; /draw/{name} sends the pipeline's graph to mermaid.ink (a third
# party) and answers 500 without network.
_OPERATOR_ROUTES = ("/deploy", "/undeploy", "/draw")


class AskRequest(BaseModel):
    """Body of POST /ask/stream (the same fields as /ask/run)."""

    query: str = Field(description="The question.")
    top_k: int = Field(default=5, description="How many chunks to retrieve and cite (1-20).")
    filters: dict[str, Any] | None = Field(default=None, description="Haystack metadata filters, e.g. on meta.year.")


def _is_operator_route(route: Any) -> bool:
    """A Hayhooks deploy/undeploy route, whether mounted directly or through an included router."""
    inner = getattr(getattr(route, "original_router", None), "routes", [route])
    return any(getattr(r, "path", "").startswith(_OPERATOR_ROUTES) for r in inner)


def _sse(events: Iterator[tuple[str, dict]]) -> Iterator[str]:
    try:
        for event, data in events:
            yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    except Exception as error:  # the stream has started: report in-band, the status line is already sent
        yield f"event: error\ndata: {json.dumps({'detail': f'{type(error).__name__}: {error}'})}\n\n"


def create_app() -> FastAPI:
    """Hayhooks' app (it deploys pipelines/ at start) with this service's own routes added."""
    app = create_hayhooks_app()
    app.router.routes = [r for r in app.router.routes if not _is_operator_route(r)]

    @app.get("/health", tags=["service"])
    def health() -> dict:
        """Liveness and readiness: documents indexed, answer mode, indexing progress."""
        return {
            "status": "ok",
            "documents": runtime.document_store().count_documents(),
            "answer_mode": runtime.answerer().mode,
            "llm_model": runtime.answerer().llm_model,
            "store": type(runtime.document_store()).__name__,
            "indexing": runtime.indexer().status.as_json(),
        }

    @app.post("/ask/stream", tags=["service"])
    def ask_stream(body: AskRequest, request: Request) -> StreamingResponse:
        """The answer as Server-Sent Events: `sources`, `delta`…, `done` (or `error`)."""
        require_read_token(request.headers)
        query = clean_query(body.query)
        events = runtime.answerer().stream(query, check_top_k(body.top_k, 20), check_filters(body.filters))
        # Run the search before the status line goes out: its errors (e.g. a filter the store rejects)
        # then get their 4xx instead of an in-band error event.
        first = next(events)
        return StreamingResponse(
            _sse(itertools.chain([first], events)), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/releases", tags=["service"])
    def releases(request: Request) -> dict:
        """Every indexed release: file name, title, year, number of chunks."""
        require_read_token(request.headers)
        return {"releases": list_releases(runtime.document_store())}

    @app.get("/releases/{file_path}", tags=["service"])
    def release(file_path: str, request: Request) -> dict:
        """One release's full (cleaned) text and meta."""
        require_read_token(request.headers)
        found = get_release(runtime.document_store(), check_name(file_path))
        if found is None:
            return JSONResponse(status_code=404, content={"detail": f"No release named {file_path!r} is indexed."})
        return found

    @app.post("/index/files", tags=["service"])
    async def index_files(request: Request, files: list[UploadFile] = File(...)) -> dict:
        """Index uploaded .txt releases (multipart `files`); needs the index token."""
        require_index_token(request.headers)
        items = []
        for upload in files:
            data = await upload.read(MAX_REQUEST_BYTES + 1)
            items.append((upload.filename or "", data))
        releases_ = check_batch(items)
        indexer = runtime.indexer()
        status = await run_in_threadpool(indexer.index, indexer.texts_to_sources(releases_), "upload")
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
    """Start the service on HAYHOOKS_HOST:HAYHOOKS_PORT (default 0.0.0.0:1416)."""
    from hayhooks import run_app

    run_app(create_app())
