"""`GET /v1/models` and `GET /models`: only the pipelines that can chat (`ask`), not every deployed one."""

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_openai_compat import create_models_router
from hayhooks import BasePipelineWrapper
from hayhooks.server.pipelines.registry import registry


def chat_model_names() -> list[str]:
    """The deployed pipelines that can chat, i.e. implement `run_chat_completion`: `ask` (not search, index)."""
    return [
        name for name in registry.get_names()
        if isinstance(wrapper := registry.get(name), BasePipelineWrapper)
        and (wrapper._is_run_chat_completion_implemented or wrapper._is_run_chat_completion_async_implemented)
    ]


def offer_only_chat_models(app: FastAPI) -> None:
    """Serve `GET /v1/models` and `GET /models` listing only the chat model, ahead of Hayhooks' own
    (which lists every deployed pipeline) and in its place in the OpenAPI schema."""
    router = create_models_router(list_models=chat_model_names, owned_by="hayhooks", tags=["openai"])
    ours = list(router.routes)
    paths = {route.path for route in ours}
    _hide_from_schema(app.router.routes, paths)
    app.router.routes = ours + list(app.router.routes)


def _hide_from_schema(routes: list, paths: set[str]) -> None:
    for route in routes:
        if isinstance(route, APIRoute) and route.path in paths:
            route.include_in_schema = False
        inner = getattr(route, "original_router", None)
        if inner is not None:
            _hide_from_schema(inner.routes, paths)
