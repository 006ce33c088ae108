"""The chat endpoint's helpers (pipelines/ask/chat.py), on small inputs: Open WebUI source events, the question
of a conversation."""

import pytest
from fastapi import HTTPException

from kit.loader import room_module


_chat = room_module("ask", "chat")  # pipelines/ask/chat.py
open_webui_source_event, question_of = _chat.open_webui_source_event, _chat.question_of


def doc(file: str, title: str, dates: list[str] | None = None, year: int | None = None, text: str = "passage") -> dict:
    meta = {"file_path": file, "title": title, "dates": dates or []}
    if year is not None:
        meta["year"] = year
    return {"id": file, "content": text, "score": 1.0, "meta": meta}


def test_open_webui_source_names_stay_distinct_for_two_chunks_of_one_release():
    first, second = (open_webui_source_event(n, doc("103.txt", "Same release")) for n in (1, 2))
    assert first["type"] == "source" and first["data"]["document"] == ["passage"]
    assert first["data"]["metadata"][0]["name"] != second["data"]["metadata"][0]["name"]


def test_the_question_is_the_last_user_message_text():
    messages = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [{"type": "text", "text": "Which ports"}, {"type": "image_url", "image_url": {}},
                                     {"type": "text", "text": "get 5G?"}]},
    ]
    assert question_of(messages).query == "Which ports get 5G?"
    with pytest.raises(HTTPException) as no_user:
        question_of([{"role": "system", "content": "Be brief."}])
    assert no_user.value.status_code == 422
