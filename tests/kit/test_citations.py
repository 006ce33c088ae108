"""The cited-source helpers of the chat endpoint and MCP (kit/citations.py), on small inputs."""

import pytest

from kit.citations import MarkdownInertStream, answer_trailer, cited_numbers, cited_sources, markdown_inert, sources_text


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


def test_brackets_of_more_than_three_digits_are_no_citation():
    """A release's "[" + 5,000 digits + "]" (Python's int() refuses more than 4,300) is text, not a citation."""
    answer = f"It costs 5 euros [{'9' * 5000}] [1]. Also [1000] and [12, 3456]."
    assert cited_numbers(answer, source_count=20) == [1]
    assert [s["number"] for s in cited_sources(answer, DOCS)] == [1]


def test_markdown_from_a_release_is_made_inert_but_citations_stay():
    text = "Costs 5 [1]. ![x](http://o/p.png?leak=1) [y](javascript:alert(1)) <img src=x> [2](http://e) \\[z](w)"
    assert markdown_inert(text) == ("Costs 5 [1]. !\\[x\\](http://o/p.png?leak=1) \\[y\\](javascript:alert(1)) \\<img src=x\\> "
                                    "\\[2\\](http://e) \\\\\\[z\\](w)")
    assert markdown_inert("[3]: http://e") == "\\[3\\]: http://e"  # a link definition would make [3] a link
    assert markdown_inert("[1] and [2, 3]", keep_citations=False) == "\\[1\\] and \\[2, 3\\]"


@pytest.mark.parametrize("pieces", [["See [", "2] and ![x](y) [1", "]", "(u)"], ["See [2", "]", " and ![x](y) [1](u)"],
                                    ["See [2] and ![x](y) [1](u)"]])
def test_streamed_markdown_is_made_inert_however_it_is_cut(pieces):
    stream = MarkdownInertStream()
    assert "".join(stream.feed(piece) for piece in pieces) + stream.end() == markdown_inert("See [2] and ![x](y) [1](u)")


def test_source_titles_are_inert_in_the_source_list():
    sources = cited_sources("X [1]", [doc("9.txt", "![x](http://outside/p.png?leak=1)")])
    assert sources_text(sources) == "**Sources**\n- [1] !\\[x\\](http://outside/p.png?leak=1) — 9.txt"
