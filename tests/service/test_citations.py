"""The cited-source helpers of the chat endpoint and MCP (service/citations.py, pipelines/ask/chat.py), on small inputs."""

import pytest
from fastapi import HTTPException

from service.citations import answer_trailer, cited_numbers, cited_sources, sources_text
from service.pipelines import room_module

_chat = room_module("ask", "chat")  # pipelines/ask/chat.py
open_webui_source_event, question_of = _chat.open_webui_source_event, _chat.question_of


def doc(file: str, title: str, dates: list[str] | None = None, year: int | None = None, text: str = "passage") -> dict:
    meta = {"file_path": file, "title": title, "dates": dates or []}
    if year is not None:
        meta["year"] = year
    return {"id": file, "content": text, "score": 1.0, "meta": meta}


DOCS = [doc("103.txt", "EUROGATE 5G", ["2023-05-16", "2023-05"], 2023), doc("7.txt", "T Tablet", year=2022),
        doc("9.txt", "No dates")]


def test_cited_numbers_reads_every_citation_form_and_ignores_numbers_without_a_source():
    answer = "A [2]. B [1, 3]. C [3; 1]. D [7] and [0] cite nothing returned; 2024 [sic] is no citation."
    assert cited_numbers(answer, source_count=3) == [1, 2, 3]
    assert cited_numbers("No citation here.", source_count=3) == []


def test_cited_sources_keep_their_numbers_and_carry_file_title_date():
    sources = cited_sources("Ports [1]. Tablet [2].", DOCS)
    assert [(s["number"], s["file"], s["title"], s["date"]) for s in sources] == [
        (1, "103.txt", "EUROGATE 5G", "2023-05-16"),  # the newest date the release mentions
        (2, "7.txt", "T Tablet", "2022"),  # no date mentioned: its year
    ]
    assert sources[0]["release_path"] == "/releases/103.txt" and sources[0]["passage"] == "passage"
    assert cited_sources("Only the third [3].", DOCS)[0]["date"] is None


def test_the_trailer_is_the_note_then_the_numbered_source_list():
    sources = cited_sources("X [3] Y [1]", DOCS)
    assert sources_text(sources) == "**Sources**\n- [1] EUROGATE 5G — 103.txt, 2023-05-16\n- [3] No dates — 9.txt"
    assert answer_trailer("No generated answer: the LLM failed.", sources) == (
        "\n\n> **Note:** No generated answer: the LLM failed.\n\n" + sources_text(sources))
    assert answer_trailer(None, sources) == "\n\n" + sources_text(sources)
    assert answer_trailer(None, []) == ""


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
    assert question_of(messages) == "Which ports get 5G?"
    with pytest.raises(HTTPException) as no_user:
        question_of([{"role": "system", "content": "Be brief."}])
    assert no_user.value.status_code == 422
