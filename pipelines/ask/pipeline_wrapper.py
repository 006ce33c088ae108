"""POST /ask/run and the OpenAI-compatible /v1/chat/completions (model "ask"): answers with citations and sources.

The answer is search.yml's ranked chunks passed to generate.yml (LLM, when OPENAI_API_KEY is set) or
extract.yml (extractive, the default without a key); see service/answering.py."""

from collections.abc import Iterator
from typing import Any

from fastapi_openai_compat import ChatCompletion
from hayhooks import BasePipelineWrapper

from service import runtime
from service.chat import chat_completion, question_of
from service.validation import check_filters, check_top_k, clean_query

MAX_TOP_K = 20


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        answerer = runtime.answerer()
        self.pipeline = (answerer.generate or answerer.extract).pipeline

    async def run_api_async(self, query: str, top_k: int = 5, filters: dict[str, Any] | None = None) -> dict:
        """
        Answer a question about Deutsche Telekom's press releases, citing them as [1], [2] …

        :param query: The question.
        :param top_k: How many chunks to retrieve and cite (1-20).
        :param filters: Optional Haystack metadata filters, e.g. on meta.year.
        """
        # async: waiting for the LLM holds no worker thread (the token check is service.gate's, for every route)
        return await runtime.answerer().aanswer(clean_query(query), check_top_k(top_k, MAX_TOP_K), check_filters(filters))

    def run_chat_completion(self, model: str, messages: list[dict], body: dict) -> ChatCompletion | Iterator[ChatCompletion]:
        """Answer the last user message with its cited sources and, when it fell back, a note (service/chat.py)."""
        return chat_completion(model, question_of(messages), stream=bool(body.get("stream")))
