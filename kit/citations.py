"""The sources an answer cites, for clients that get the answer as text: the chat endpoint and MCP.

The answer cites the ranked chunks as [n], 1-based into the documents the search returned. These helpers
turn that into a numbered source list (text for people, dicts for programs) with the same numbers.
"""

import re
from typing import Any

# "[2]", "[1, 3]" and "[1; 3]": the forms the prompt asks for and the extractive answerer writes. The citation
# check (components/citation_checker.py) reads them with this pattern too; the page (service/web/static/app.js)
# has it in JavaScript, and the evaluation (scripts/evaluation/metrics.py) keeps its own on purpose: a measurement
# that shares the parser it measures would miss its faults.
# At most 3 digits and 20 numbers: an answer cites at most 20 sources (ask's top_k). Brackets holding more are a
# release's own text, copied into an answer: "[" + 5,000 digits + "]" made int() raise (Python refuses more than
# 4,300 digits), and every answer citing that release failed.
CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3}){0,19})\]")
# A citation followed by "(" or ":" would be a Markdown link or link definition: escaped like any other bracket.
_INERT_CITATION = re.compile(CITATION.pattern + r"(?![(:])")
# What makes Markdown fetch or link: images and links ("![x](url)", "[x](javascript:…)", "[x]: url"), autolinks
# and HTML ("<img src=…>"); the backslash first, so that a release's own backslash cannot undo an escape.
_MARKDOWN_ACTIVE = re.compile(r"[\\\[\]<>]")


def cited_numbers(answer: str, source_count: int) -> list[int]:
    """The source numbers the answer cites, ascending; numbers outside 1..source_count are ignored."""
    numbers = {int(n) for group in CITATION.findall(answer or "") for n in re.split(r"\s*[,;]\s*", group)}
    return sorted(n for n in numbers if 1 <= n <= source_count)


def source_entry(number: int, document: dict[str, Any]) -> dict[str, Any]:
    """One source as clients get it: its [n], release file, title, date and the cited passage.

    `date` is the newest date the release mentions (the releases carry no publication date), else its year.
    `document` is the reply shape of kit/documents.py.
    """
    meta = document.get("meta") or {}
    dates = list(meta.get("dates") or [])
    year = meta.get("year")
    file = meta.get("file_path") or ""
    return {
        "number": number,
        "file": file,
        "title": meta.get("title") or file,
        "date": dates[0] if dates else (str(year) if year is not None else None),
        "dates": dates,
        "year": year,
        "release_path": f"/releases/{file}" if file else None,
        "passage": document.get("content") or "",
    }


def cited_sources(answer: str, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of the documents the answer cites, in citation-number order."""
    return [source_entry(n, documents[n - 1]) for n in cited_numbers(answer, len(documents))]


def markdown_inert(text: str, keep_citations: bool = True) -> str:
    """`text` for a Markdown renderer (a chat client), with every link, image, link definition, autolink and HTML
    tag made plain text by backslash escapes; the [n] citations stay as they are (`keep_citations`), so that
    clients still link them to the sources. A release's text reaches chat clients through answers and titles: a
    title `![x](http://outside/p.png?leak=1)` made Open WebUI fetch from outside."""
    if not keep_citations:
        return _MARKDOWN_ACTIVE.sub(_escaped, text)
    parts, last = [], 0
    for citation in _INERT_CITATION.finditer(text):
        parts += [_MARKDOWN_ACTIVE.sub(_escaped, text[last:citation.start()]), citation.group(0)]
        last = citation.end()
    parts.append(_MARKDOWN_ACTIVE.sub(_escaped, text[last:]))
    return "".join(parts)


def _escaped(found: re.Match) -> str:
    return "\\" + found.group(0)


class MarkdownInertStream:
    """`markdown_inert` over text that arrives in pieces (a streamed answer): a piece's end that may still become a
    citation ("[1", "[1]" before what follows it) is held back until the next piece or `end()`.

    ```python
    stream = MarkdownInertStream()
    stream.feed("See [") + stream.feed("2] and ![x](y)") + stream.end()  # 'See [2] and !\\[x\\](y)'
    ```
    """

    _OPEN_TAIL = re.compile(r"\[[\d\s,;]{0,100}\]?$")

    def __init__(self) -> None:
        self.pending = ""

    def feed(self, piece: str) -> str:
        text = self.pending + piece
        tail = self._OPEN_TAIL.search(text)
        cut = tail.start() if tail else len(text)
        self.pending = text[cut:]
        return markdown_inert(text[:cut])

    def end(self) -> str:
        text, self.pending = self.pending, ""
        return markdown_inert(text)


def sources_text(sources: list[dict[str, Any]]) -> str:
    """A short Markdown list, one line per cited source: `- [n] Title — file, date`; empty without sources.
    Titles come from the releases: their Markdown is made inert."""
    if not sources:
        return ""
    lines = ["**Sources**"]
    for source in sources:
        where = ", ".join(part for part in (source["file"], source["date"]) if part)
        lines.append(f"- [{source['number']}] {markdown_inert(source['title'], keep_citations=False)} — {markdown_inert(where, keep_citations=False)}")
    return "\n".join(lines)


def fallback_note(warning: str | None) -> str:
    """The visible note for an answer that is not the one the client expected (e.g. the LLM failed)."""
    return f"> **Note:** {markdown_inert(warning, keep_citations=False)}" if warning else ""


LOW_CONFIDENCE = ("The sources may not answer this question (the answerability check puts it at {:.0%}): "
                  "check the cited passages.")


def low_confidence_note(answerable: bool | None, answerability: float | None, answer_refuses: bool) -> str:
    """The visible note for an answer the answerability check doubts; none for an answer that already refuses."""
    if answerable is not False or answer_refuses:
        return ""
    return "> **Note:** " + LOW_CONFIDENCE.format(answerability or 0.0)


def answer_trailer(warning: str | None, sources: list[dict[str, Any]], doubt: str = "") -> str:
    """What follows the answer text: the notes (if any), then the source list, each after a blank line."""
    return "".join(f"\n\n{part}" for part in (fallback_note(warning), doubt, sources_text(sources)) if part)
