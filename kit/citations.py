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
CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


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


def sources_text(sources: list[dict[str, Any]]) -> str:
    """A short Markdown list, one line per cited source: `- [n] Title — file, date`; empty without sources."""
    if not sources:
        return ""
    lines = ["**Sources**"]
    for source in sources:
        where = ", ".join(part for part in (source["file"], source["date"]) if part)
        lines.append(f"- [{source['number']}] {source['title']} — {where}")
    return "\n".join(lines)


def fallback_note(warning: str | None) -> str:
    """The visible note for an answer that is not the one the client expected (e.g. the LLM failed)."""
    return f"> **Note:** {warning}" if warning else ""


def answer_trailer(warning: str | None, sources: list[dict[str, Any]]) -> str:
    """What follows the answer text: the note (if any), then the source list, each after a blank line."""
    return "".join(f"\n\n{part}" for part in (fallback_note(warning), sources_text(sources)) if part)
