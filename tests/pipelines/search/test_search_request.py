"""The search room's one question shape: /search/run's request model (built by Hayhooks from `run_api_async`'s
parameters) and SearchRequest, which the MCP tool uses, have the same fields, limits and defaults."""

import docstring_parser
from hayhooks.server.pipelines.models import create_request_model_from_callable

from kit.loader import room_module

wrapper = room_module("search", "pipeline_wrapper")  # pipelines/search/pipeline_wrapper.py
request = room_module("search", "request")


def _fields(schema: dict) -> dict:
    """Each property's type and limits, without its title and description (Hayhooks takes those from the docstring)."""
    return {name: {k: v for k, v in spec.items() if k not in ("title", "description")}
            for name, spec in schema["properties"].items()}


def test_run_api_takes_the_search_request():
    run_api = wrapper.PipelineWrapper.run_api_async
    model = create_request_model_from_callable(run_api.__get__(object()), "searchRun",
                                               docstring_parser.parse(run_api.__doc__ or ""))
    rest, shared = model.model_json_schema(), request.SearchRequest.model_json_schema()
    assert _fields(rest) == _fields(shared)
    assert _fields(rest)["top_k"] == {"default": 5, "maximum": 50, "minimum": 1, "type": "integer"}
    assert _fields(rest)["query"] == {"maxLength": 1000, "minLength": 1, "type": "string"}
    assert rest["required"] == shared["required"] == ["query"]
