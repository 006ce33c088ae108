"""The ask room's one question shape: /ask/run's request model (built by Hayhooks from `run_api_async`'s
parameters), /ask/stream's body, the chat endpoint's question and the MCP tool all validate as AskRequest."""

import docstring_parser
from hayhooks.server.pipelines.models import create_request_model_from_callable

from kit.loader import room_module

wrapper = room_module("ask", "pipeline_wrapper")  # pipelines/ask/pipeline_wrapper.py
request = room_module("ask", "request")
mcp_tool = room_module("ask", "mcp_tool")


def _fields(schema: dict) -> dict:
    return {name: {k: v for k, v in spec.items() if k not in ("title", "description")}
            for name, spec in schema["properties"].items()}


def test_run_api_async_takes_the_ask_request():
    run = wrapper.PipelineWrapper.run_api_async
    model = create_request_model_from_callable(run.__get__(object()), "askRun", docstring_parser.parse(run.__doc__ or ""))
    rest, shared = model.model_json_schema(), request.AskRequest.model_json_schema()
    assert _fields(rest) == _fields(shared)
    assert _fields(rest)["top_k"] == {"default": 5, "maximum": 20, "minimum": 1, "type": "integer"}
    assert rest["required"] == shared["required"] == ["query"]


def test_the_mcp_tool_limits_are_those_of_the_request():
    schema = mcp_tool.AskInput.model_json_schema()["properties"]
    shared = request.AskRequest.model_json_schema()["properties"]
    assert {k: v for k, v in schema["question"].items() if k not in ("title", "description")} == \
        {k: v for k, v in shared["query"].items() if k not in ("title", "description")}
    assert schema["top_k"]["maximum"] == shared["top_k"]["maximum"] == 20
