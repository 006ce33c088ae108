"""The OpenAI-compatible chat endpoint (`POST /v1/chat/completions`, model "ask"): answers with their sources.

Hayhooks serves the route and calls `run_chat_completion` of pipeline_wrapper.py, which hands over to
`chat_completion` here. What a chat client gets, streamed or not (docs/api.md has the shapes):
- the message text: the answer with its [n] citations, then a visible note when the answer fell back to
  the extractive one, then the cited sources as a short numbered list (title, file, date); the Markdown a release
  brings along (links, images, HTML) made inert, so that a chat client neither fetches nor links it;
- machine-readable, on the completion (or the last stream chunk): `sources` (the cited sources, each with
  its `number`), `mode` (`llm` or `extractive`), `warning` (why it fell back, or null), `answerable` and
  `answerability` (whether the sources likely hold the answer; a visible note in the text when not, unless the
  answer itself says so), `timings_ms`, and `usage` when the LLM reported it;
- streamed only: before the answer, one chunk per retrieved source carrying an Open WebUI `source` event
  (`event` beside `choices`), so that Open WebUI shows the sources as citations and links [n] to the nth.

Each call answers the last user message on its own; earlier turns are not used. One answer per call: `n` other
than 1 is refused (422), not silently answered once.
"""

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException
from fastapi_openai_compat import ChatCompletion, Choice, Message
from hayhooks import get_last_user_message
from pydantic import ValidationError

from components.extractive_answerer import NOT_FOUND_PREFIX
from kit.citations import (
    MarkdownInertStream,
    answer_trailer,
    cited_sources,
    low_confidence_note,
    markdown_inert,
    source_entry,
)
from kit.queries import excerpt

from .answering import Answerer
from .request import AskRequest

TOP_K = 5  # the /ask/run default: five cited chunks fit a chat answer


def question_of(messages: list[dict]) -> AskRequest:
    """The last user message's text (OpenAI content parts joined) as a question; 422 when there is none, or when
    it is no question AskRequest accepts (empty, too long)."""
    question = get_last_user_message(messages)
    if isinstance(question, list):  # content parts: [{"type": "text", "text": "…"}, {"type": "image_url", …}]
        question = " ".join(p["text"] for p in question if isinstance(p, dict) and isinstance(p.get("text"), str))
    if not isinstance(question, str):
        raise HTTPException(status_code=422, detail="No user message to answer.")
    try:
        return AskRequest(query=question, top_k=TOP_K)
    except ValidationError as error:  # a chat client shows `detail` as text: the reasons, not pydantic's list
        raise HTTPException(status_code=422, detail="; ".join(e["msg"] for e in error.errors())) from None


def check_options(body: dict[str, Any]) -> None:
    """422 for a request option the endpoint cannot honour: `n` other than 1 (a client that asked for three
    choices got one, without a word)."""
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise HTTPException(status_code=422, detail=f"'n' must be 1 (one answer per question), not {excerpt(n)!r}.")


async def chat_completion(
    answerer: Answerer, model: str, request: AskRequest, stream: bool
) -> ChatCompletion | AsyncIterator[ChatCompletion]:
    """The answer as one `chat.completion`, or as an async generator of `chat.completion.chunk`s when `stream`.

    The search runs before this returns, so that its errors get their HTTP status, not a broken stream.
    Waiting for the LLM holds no thread; the deadline, or a client that goes away, ends its request.
    """
    events = answerer.astream(request.query, request.top_k, request.filters)
    _, first = await anext(events)  # "sources": the ranked chunks the answer will cite
    reply = _Reply(model, first["documents"])
    if not stream:
        done = [data async for event, data in events if event == "done"][0]
        return reply.completion(done)
    return reply.chunks(events)


class _Reply:
    """One completion's id, timestamp and sources, shared by its chunks."""

    def __init__(self, model: str, documents: list[dict[str, Any]]) -> None:
        self.model = model
        self.documents = documents
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def completion(self, done: dict[str, Any]) -> ChatCompletion:
        sources = cited_sources(done["answer"], self.documents)
        text = markdown_inert(done["answer"]) + answer_trailer(done.get("warning"), sources, _doubt(done))
        return ChatCompletion(
            id=self.id, object="chat.completion", created=self.created, model=self.model,
            choices=[Choice(index=0, message=Message(role="assistant", content=text), finish_reason="stop")],
            usage=done.get("usage"), **self._extras(done, sources),
        )

    async def chunks(self, events: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[ChatCompletion]:
        for number, document in enumerate(self.documents, start=1):
            yield self._chunk("", event=open_webui_source_event(number, document))
        done = None
        inert = MarkdownInertStream()
        try:
            async for event, data in events:
                if event == "delta" and data["text"] and (text := inert.feed(data["text"])):
                    yield self._chunk(text)
                elif event == "done":
                    done = data
        except Exception as error:  # the status line is sent: report in-band, as OpenAI streams do
            yield ChatCompletion(
                id=self.id, object="chat.completion.chunk", created=self.created, model=self.model, choices=[],
                error={"message": f"{type(error).__name__}: {error}", "type": "server_error"},
            )
            return
        finally:
            await events.aclose()  # a client that went away ends the LLM request too
        sources = cited_sources(done["answer"], self.documents)
        trailer = inert.end() + answer_trailer(done.get("warning"), sources, _doubt(done))
        if trailer:
            yield self._chunk(trailer)
        yield self._chunk("", finish_reason="stop", usage=done.get("usage"), **self._extras(done, sources))

    def _chunk(self, text: str, finish_reason: str | None = None, **extra: Any) -> ChatCompletion:
        return ChatCompletion(
            id=self.id, object="chat.completion.chunk", created=self.created, model=self.model,
            choices=[Choice(index=0, delta=Message(role="assistant", content=text), finish_reason=finish_reason)],
            **extra,
        )

    @staticmethod
    def _extras(done: dict[str, Any], sources: list[dict[str, Any]]) -> dict[str, Any]:
        return {"sources": sources, "mode": done["mode"], "warning": done.get("warning"),
                "answerable": done.get("answerable"), "answerability": done.get("answerability"),
                "timings_ms": done.get("timings_ms")}


def _doubt(done: dict[str, Any]) -> str:
    """The low-confidence note, unless the answer already says that the releases do not hold it."""
    return low_confidence_note(done.get("answerable"), done.get("answerability"),
                               done["answer"].startswith(NOT_FOUND_PREFIX))


def open_webui_source_event(number: int, document: dict[str, Any]) -> dict[str, Any]:
    """An Open WebUI `source` event for the source numbered `number` (docs.openwebui.com, plugin events).

    Open WebUI links a citation [n] to the nth distinct source name, so each name carries its number
    (two chunks of one release must not merge into one source).
    """
    source = source_entry(number, document)
    name = f"[{number}] {markdown_inert(source['title'], keep_citations=False)} ({source['file']})"
    return {
        "type": "source",
        "data": {
            "source": {"id": str(number), "name": name},
            "document": [source["passage"]],
            "metadata": [{"source": name, "name": name, "file": source["file"], "date": source["date"]}],
        },
    }
