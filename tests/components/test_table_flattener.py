"""TableFlattener on small texts: cell runs joined into rows, prose and short runs left alone."""

from haystack import Document

from components.table_flattener import TableFlattener


def test_table_flattener_joins_cell_runs_and_keeps_prose():
    cells = "\n\n".join(["Net revenue", "28,979", "26,641", "8.8", "Service revenue", "23,584", "20,971", "12.5"])
    prose = "This paragraph is long enough to be prose and not a table cell at all, clearly."
    text = TableFlattener(min_cells=8).run(documents=[Document(content=f"{prose}\n\n{cells}\n\n{prose}")])
    out = text["documents"][0].content
    assert out.split("\n\n") == [prose, "Net revenue | 28,979 | 26,641 | 8.8 | Service revenue | 23,584 | 20,971 | 12.5", prose]


def test_table_flattener_leaves_short_runs_alone():
    text = "Heading one\n\nA long paragraph of real prose that goes on for more than forty characters.\n\nShort"
    assert TableFlattener(min_cells=8).run(documents=[Document(content=text)])["documents"][0].content == text
