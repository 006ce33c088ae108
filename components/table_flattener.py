import re

from haystack import Document, component

_CELL_SEPARATOR = re.compile(r"\n\s*\n|\n")


@component
class TableFlattener:
    """
    Joins tables that scraping flattened into one cell per line back into compact rows of text.

    Financial releases carry tables as hundreds of short lines ("Net revenue", "28,979", "26,641", …).
    Left alone they become chunks of noise that crowd out prose in retrieval. A run of at least
    `min_cells` consecutive short lines is joined with " | " into one paragraph, so the figures stay
    searchable but no longer look like hundreds of paragraphs.

    Input: `documents` (text content). Output: `documents` with the same meta and the runs joined.

    ### Usage example

    ```python
    from haystack import Document

    from components.table_flattener import TableFlattener

    cells = "\\n\\n".join(["Net revenue", "28,979", "26,641", "8.8", "Service revenue", "23,584", "20,971", "12.5"])
    result = TableFlattener(min_cells=8).run(documents=[Document(content=cells)])
    # result["documents"][0].content: "Net revenue | 28,979 | 26,641 | 8.8 | Service revenue | 23,584 | 20,971 | 12.5"
    ```
    """

    def __init__(self, min_cells: int = 8, max_cell_chars: int = 40) -> None:
        """
        :param min_cells: Fewest consecutive short lines that count as a flattened table.
        :param max_cell_chars: Longest line, in characters, that can be a table cell.
        """
        self.min_cells = min_cells
        self.max_cell_chars = max_cell_chars

    def _flatten(self, text: str) -> str:
        paragraphs = [p for p in _CELL_SEPARATOR.split(text)]
        out: list[str] = []
        run: list[str] = []

        def close_run() -> None:
            if len(run) >= self.min_cells:
                out.append(" | ".join(run))
            else:
                out.extend(run)
            run.clear()

        for paragraph in paragraphs:
            stripped = paragraph.strip()
            if not stripped:
                continue
            if len(stripped) <= self.max_cell_chars:
                run.append(stripped)
            else:
                close_run()
                out.append(paragraph.rstrip())
        close_run()
        return "\n\n".join(out)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """
        Flatten table runs in each document.

        :param documents: Documents with plain-text content.
        :returns: `documents`: new Documents (new ids) with flattened tables; meta is kept.
        """
        flattened = [
            Document(content=self._flatten(doc.content or ""), meta=dict(doc.meta)) for doc in documents
        ]
        return {"documents": flattened}
