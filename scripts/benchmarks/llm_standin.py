"""LLM STAND-IN: a fake OpenAI-compatible chat server for load tests and fault tests. Not a real LLM.

It answers `POST /v1/chat/completions` (streaming over SSE and non-streaming) and `GET /v1/models`
with a timing profile you choose: it waits `--ttft` seconds before the first token, then emits
`--tokens` tokens at `--tokens-per-second`. The text is stitched from the first sentences of the
`[n]`-numbered sources in the last user message (at most three), each followed by its citation
`[n]`, so that citation parsing downstream sees real citations. Every reply names itself: model
"llm-standin", header `Server: llm-standin`.

Citations (`--citations`, or per request header `X-Standin-Citations`), to test the citation check:
  right      each sentence cites the source it was taken from (default)
  wrong      each sentence cites another source (the next number, cyclically) -- deliberately wrong
  mixed      every second sentence cites another source, the rest the right one

Faults, for the whole server (`--fault`) or per request (header `X-Standin-Fault`):
  timeout    sleep `--fault-sleep` seconds (at most 60) before answering normally
  401        invalid API key error          429   rate limit error (Retry-After: 1)
  500        server error                   malformed  200 with a body that is not valid JSON
             (streaming: a chunk without `choices`, then a chunk that is not JSON, then [DONE])

    python scripts/llm_standin.py --port 8099 --ttft 0.5 --tokens-per-second 50 --tokens 150
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL_NAME = "llm-standin"
SERVER_HEADER = "llm-standin (fake LLM for tests, not a real model)"
FAULT_HEADER = "X-Standin-Fault"
CITATIONS_HEADER = "X-Standin-Citations"
CITATION_MODES = ("right", "wrong", "mixed")
FAULTS = ("none", "timeout", "401", "429", "500", "malformed")
MAX_FAULT_SLEEP_SECONDS = 60.0
SOURCES_PER_ANSWER = 3
NO_SOURCES_ANSWER = "The provided press releases do not contain information to answer this question."

_SOURCE_MARKER = re.compile(r"^\s*\[(\d+)\]", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUESTION_LINE = re.compile(r"^\s*(?:question|query)\s*:", re.IGNORECASE | re.MULTILINE)
_ERRORS = {
    "401": ("Incorrect API key provided (llm-standin fault).", "invalid_request_error", "invalid_api_key"),
    "429": ("Rate limit reached (llm-standin fault).", "rate_limit_error", "rate_limit_exceeded"),
    "500": ("The server had an error (llm-standin fault).", "server_error", None),
}


@dataclass(frozen=True)
class StandinConfig:
    """Timing profile and default fault of the stand-in."""

    ttft: float = 0.5
    tokens_per_second: float = 50.0
    tokens: int = 150
    fault: str = "none"
    fault_sleep: float = MAX_FAULT_SLEEP_SECONDS
    citations: str = "right"


def message_text(message: dict[str, Any]) -> str:
    """Text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if isinstance(part, dict))


def numbered_sources(prompt: str) -> dict[int, str]:
    """The text of each `[n]` source in a prompt, by number.

    A source runs to the next marker or to a closing `Question:` line; when its marker line is followed
    by more lines, the marker line is taken for a header (title, file, dates) and left out.
    """
    prompt = _QUESTION_LINE.split(prompt, maxsplit=1)[0]
    markers = list(_SOURCE_MARKER.finditer(prompt))
    sources: dict[int, str] = {}
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(prompt)
        block = prompt[marker.end() : end].strip()
        header, _, body = block.partition("\n")
        sources.setdefault(int(marker.group(1)), " ".join((body if body.strip() else header).split()))
    return sources


def whole_sentences(text: str) -> list[str]:
    """The sentences of a source, without a leading fragment (a chunk that starts mid-sentence)."""
    sentences = [sentence for sentence in _SENTENCE_END.split(text) if sentence]
    return sentences[1:] if len(sentences) > 1 and sentences[0][0].islower() else sentences


def cited_number(source: int, numbers: list[int], sentence_index: int, citations: str) -> int:
    """The number a sentence taken from `source` cites: itself, or (wrong/mixed) the next source's."""
    wrong = citations == "wrong" or (citations == "mixed" and sentence_index % 2 == 1)
    if not wrong or len(numbers) < 2:
        return source
    return numbers[(numbers.index(source) + 1) % len(numbers)]


def answer_tokens(prompt: str, max_tokens: int, citations: str = "right") -> list[str]:
    """Up to `max_tokens` tokens (words with their leading space; `[n]` counts as one) citing the sources."""
    sources = numbered_sources(prompt)
    if not sources:
        words = NO_SOURCES_ANSWER.split()
    else:
        words = []
        numbers = sorted(sources)
        cited = numbers[:SOURCES_PER_ANSWER]
        sentences = {number: whole_sentences(sources[number]) for number in cited}
        sentence_index = 0
        for position in range(max(len(s) for s in sentences.values())):
            for number in cited:
                if position < len(sentences[number]):
                    citation = cited_number(number, numbers, sentence_index, citations)
                    words += [*sentences[number][position].split(), f"[{citation}]"]
                    sentence_index += 1
            if len(words) >= max_tokens:
                break
    words = words[:max_tokens]
    return [words[0]] + [" " + word for word in words[1:]] if words else []


def estimate_tokens(text: str) -> int:
    """Rough token count: 1.3 tokens per word."""
    return math.ceil(len(text.split()) * 1.3)


def usage(messages: list[dict[str, Any]], completion_tokens: int) -> dict[str, int]:
    """OpenAI `usage` object with an estimated prompt size."""
    prompt_tokens = sum(estimate_tokens(message_text(m)) for m in messages)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def error_response(fault: str) -> JSONResponse:
    """OpenAI-style error body for an HTTP-status fault."""
    message, kind, code = _ERRORS[fault]
    headers = {"Retry-After": "1"} if fault == "429" else None
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=int(fault), headers=headers)


async def sleep_while_connected(request: Request, seconds: float) -> None:
    """Sleep up to `seconds`, returning early once the client has gone."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if await request.is_disconnected():
            return
        await asyncio.sleep(min(0.25, remaining))


def chunk(completion_id: str, created: int, delta: dict[str, Any], finish_reason: str | None) -> str:
    """One SSE event carrying a `chat.completion.chunk`."""
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_NAME,
        "system_fingerprint": MODEL_NAME,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def stream_tokens(
    config: StandinConfig, tokens: list[str], messages: list[dict[str, Any]], include_usage: bool
) -> AsyncIterator[str]:
    """SSE events: role, the tokens on schedule (late ones batched), stop, optional usage, [DONE]."""
    completion_id, created = f"chatcmpl-standin-{uuid.uuid4().hex}", int(time.time())
    yield chunk(completion_id, created, {"role": "assistant", "content": ""}, None)
    await asyncio.sleep(config.ttft)
    started, sent = time.monotonic(), 0
    while sent < len(tokens):
        tokens_due_by_now = int((time.monotonic() - started) * config.tokens_per_second) + 1
        due = min(len(tokens), max(sent + 1, tokens_due_by_now))
        yield chunk(completion_id, created, {"content": "".join(tokens[sent:due])}, None)
        sent = due
        await asyncio.sleep(max(0.0, started + sent / config.tokens_per_second - time.monotonic()))
    yield chunk(completion_id, created, {}, "stop")
    if include_usage:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_NAME,
            "choices": [],
            "usage": usage(messages, len(tokens)),
        }
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"


async def malformed_stream() -> AsyncIterator[str]:
    """A broken stream: a chunk without `choices`, a chunk that is not JSON, then [DONE]."""
    yield f"data: {json.dumps({'id': 'chatcmpl-standin-malformed', 'model': MODEL_NAME})}\n\n"
    yield 'data: {"choices": [{"delta": {"content": "trunc\n\n'
    yield "data: [DONE]\n\n"


async def complete(config: StandinConfig, tokens: list[str], messages: list[dict[str, Any]]) -> JSONResponse:
    """Non-streaming reply after the full generation time."""
    await asyncio.sleep(config.ttft + len(tokens) / config.tokens_per_second)
    body = {
        "id": f"chatcmpl-standin-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_NAME,
        "system_fingerprint": MODEL_NAME,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(tokens), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(messages, len(tokens)),
    }
    return JSONResponse(body)


def create_app(config: StandinConfig) -> Starlette:
    """The stand-in's ASGI app."""

    async def models(_: Request) -> JSONResponse:
        model = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "llm-standin (not a real LLM)"}
        return JSONResponse({"object": "list", "data": [model]})

    async def chat_completions(request: Request) -> Response:
        fault = request.headers.get(FAULT_HEADER, config.fault).lower()
        if fault not in FAULTS:
            return JSONResponse({"error": {"message": f"unknown {FAULT_HEADER}: {fault}"}}, status_code=400)
        if fault in _ERRORS:
            return error_response(fault)
        try:
            body = await request.json()
            messages = list(body["messages"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": {"message": "body needs a 'messages' list"}}, status_code=400)
        stream = bool(body.get("stream"))
        if fault == "malformed":
            if stream:
                return StreamingResponse(malformed_stream(), media_type="text/event-stream")
            return Response('{"id": "chatcmpl-standin-malformed", "choices": [', media_type="application/json")
        if fault == "timeout":
            await sleep_while_connected(request, min(config.fault_sleep, MAX_FAULT_SLEEP_SECONDS))
        citations = request.headers.get(CITATIONS_HEADER, config.citations).lower()
        if citations not in CITATION_MODES:
            return JSONResponse({"error": {"message": f"unknown {CITATIONS_HEADER}: {citations}"}}, status_code=400)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or config.tokens
        user_prompt = next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
        tokens = answer_tokens(user_prompt, min(config.tokens, int(max_tokens)), citations)
        if not stream:
            return await complete(config, tokens, messages)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = stream_tokens(config, tokens, messages, include_usage)
        return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of the stand-in."""
    parser = argparse.ArgumentParser(
        description="LLM STAND-IN (not a real LLM): fake OpenAI-compatible chat server with a set "
        "time to first token and token rate, for load and fault tests. Replies carry model "
        f"'{MODEL_NAME}'. Per-request fault: header {FAULT_HEADER}: {'|'.join(FAULTS[1:])}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8099, help="port (default: %(default)s)")
    parser.add_argument("--ttft", type=float, default=0.5, help="seconds to first token (default: %(default)s)")
    parser.add_argument("--tokens-per-second", type=float, default=50.0, help="token rate (default: %(default)s)")
    parser.add_argument("--tokens", type=int, default=150, help="tokens per answer, at most (default: %(default)s)")
    parser.add_argument("--fault", choices=FAULTS, default="none", help="fault for every request (default: none)")
    parser.add_argument(
        "--citations",
        choices=CITATION_MODES,
        default="right",
        help="right: cite each sentence's own source; wrong/mixed: cite another one on purpose (default: right)",
    )
    parser.add_argument(
        "--fault-sleep",
        type=float,
        default=MAX_FAULT_SLEEP_SECONDS,
        help="seconds the 'timeout' fault sleeps, at most 60 (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.tokens_per_second <= 0 or args.tokens < 1 or args.ttft < 0:
        parser.error("--tokens-per-second and --tokens must be positive, --ttft not negative")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in until interrupted."""
    args = parse_args(argv)
    config = StandinConfig(
        args.ttft, args.tokens_per_second, args.tokens, args.fault, args.fault_sleep, args.citations
    )
    print(f"LLM STAND-IN (not a real LLM) on http://{args.host}:{args.port}/v1: {config}", flush=True)
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level="warning",
        server_header=False,
        headers=[("Server", SERVER_HEADER)],
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
