"""POST /ask/run and the OpenAI-compatible /v1/chat/completions (model "ask"): answers with citations.

The answer is search.yml's ranked chunks passed to generate.yml (LLM, when OPENAI_API_KEY is set) or
extract.yml (extractive, the default without a key); see service/answering.py."""

from collections.abc import Generator
from typing import Any

from fastapi import HTTPException
from hayhooks import BasePipelineWrapper, get_last_user_message
from starlette.datastructures import Headers

from service import runtime
from service.auth import require_read_token
from service.validation import check_filters, check_top_k, clean_query

MAX_TOP_K = 20


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        answerer = runtime.answerer()
        self.pipeline = (answerer.generate or answerer.extract).pipeline

    def run_api(
        self, query: str, top_k: int = 5, filters: dict[str, Any] | None = None, headers: Headers | None = None
    ) -> dict:
        """
        Answer a question about Deutsche Telekom's press releases, citing them as [1], [2] …

        :param query: The question.
        :param top_k: How many chunks to retrieve and cite (1-20).
        :param filters: Optional Haystack metadata filters, e.g. on meta.year.
        """
        require_read_token(headers)
        return runtime.answerer().answer(clean_query(query), check_top_k(top_k, MAX_TOP_K), check_filters(filters))

    def run_chat_completion(
        self, model: str, messages: list[dict], body: dict, headers: Headers | None = None
    ) -> Generator[str, None, None]:
        """Stream the answer to the last user message as OpenAI-compatible chunks (answer text only)."""
        require_read_token(headers)
        question = get_last_user_message(messages)
        if isinstance(question, list):  # OpenAI content parts: [{"type": "text", "text": "…"}, {"type": "image_url", …}]
            question = " ".join(p["text"] for p in question if isinstance(p, dict) and isinstance(p.get("text"), str))
        if not isinstance(question, str):
            raise HTTPException(status_code=422, detail="No user message to answer.")
        events = runtime.answerer().stream(clean_query(question), 5, None)
        return (data["text"] for event, data in events if event == "delta")
