"""The ask room: POST /ask/run, POST /ask/stream (Server-Sent Events, for the page) and the OpenAI-compatible
/v1/chat/completions (model "ask"), answers with citations and sources.

The flow is answering.py: search.yml's ranked chunks passed to generate.yml (LLM, when OPENAI_API_KEY is set)
or extract.yml (extractive, the default without a key), with the deadline and the fallback. The token check is
service.http.gate's, for every route."""

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse, format_sse_event
from fastapi_openai_compat import ChatCompletion

from kit.queries import Filters, Question, check_filters
from kit.room import Room
from kit.tools import McpTool

from .answering import Answerer
from .chat import chat_completion, check_options, question_of
from .mcp_tool import ask_tool
from .request import AskRequest, TopK


class PipelineWrapper(Room):
    def setup(self) -> None:
        self.answerer = Answerer()
        self.pipeline = (self.answerer.generate or self.answerer.extract).pipeline
        # served beside /ask/run by the app shell (kit.room.Room.routes)
        self.routes = APIRouter(tags=["service"])
        self.routes.add_api_route("/ask/stream", self.ask_stream, methods=["POST"])

    async def run_api_async(self, query: Question, top_k: TopK = 5, filters: Filters = None) -> dict:
        """
        Answer a question about Deutsche Telekom's press releases, citing them as [1], [2] …

        :param query: The question.
        :param top_k: How many chunks to retrieve and cite (1-20).
        :param filters: Optional Haystack metadata filters, e.g. on meta.year.
        """
        # Hayhooks validated the body with a model of these parameters, AskRequest's types
        return await self.answer(AskRequest.model_construct(query=query, top_k=top_k, filters=filters))

    async def answer(self, request: AskRequest) -> dict[str, Any]:
        """The whole answer (what /ask/run returns); async: waiting for the LLM holds no worker thread."""
        return await self.answerer.aanswer(request.query, request.top_k, check_filters(request.filters))

    async def run_chat_completion_async(
        self, model: str, messages: list[dict], body: dict
    ) -> ChatCompletion | AsyncIterator[ChatCompletion]:
        """Answer the last user message with its cited sources and, when it fell back, a note (chat.py)."""
        check_options(body)
        return await chat_completion(self.answerer, model, question_of(messages), stream=bool(body.get("stream")))

    async def ask_stream(self, body: AskRequest) -> EventSourceResponse:
        """The answer as Server-Sent Events: `sources`, `delta`…, `done` (or `error`)."""
        events = self.answerer.astream(body.query, body.top_k, check_filters(body.filters))
        # Run the search before the status line goes out: its errors (e.g. a filter the store rejects)
        # then get their 4xx instead of an in-band error event.
        first = await anext(events)
        return EventSourceResponse(_sse(first, events), headers={"Cache-Control": "no-cache"})

    def readiness(self) -> dict[str, Any]:
        """This room's part of /ready."""
        return {"answer_mode": self.answerer.mode, "llm_model": self.answerer.llm_model}

    def mcp_tools(self) -> list[McpTool]:
        """`ask_press_releases` (mcp_tool.py): what /ask/run answers, for agents."""
        return [ask_tool(self.answer)]


def _event(event: str, data: dict) -> bytes:
    # FastAPI's SSE framing; the data as the page reads it (JSON, non-ASCII kept)
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False))


async def _sse(first: tuple[str, dict], events: AsyncIterator[tuple[str, dict]]) -> AsyncIterator[bytes]:
    try:
        yield _event(*first)
        async for event, data in events:
            yield _event(event, data)
    except Exception as error:  # the stream has started: report in-band, the status line is already sent
        yield _event("error", {"detail": f"{type(error).__name__}: {error}"})
    finally:
        await events.aclose()  # a client that went away ends the LLM request too
