"""The walkthrough notebook runs top to bottom on the real corpus, so its explanations cannot rot.

It is committed without outputs; this test executes it in a fresh kernel (repository root as the working
directory, no OpenAI key: the extractive no-key mode) and writes the executed copy, outputs included, to
build/walkthrough.executed.ipynb for reading.
"""

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "walkthrough.ipynb"
EXECUTED = REPO / "build" / "walkthrough.executed.ipynb"
# Per cell: indexing and building the baseline each embed the whole corpus (about 1-2 minutes on 2 cores).
CELL_TIMEOUT_S = int(os.environ.get("NOTEBOOK_CELL_TIMEOUT", "900"))


def _output_text(cell) -> str:
    """The text a code cell printed or returned."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert all(not cell.outputs and cell.execution_count is None for cell in code_cells), (
        "strip the outputs before committing: tests/notebooks/test_notebook.py executes the notebook"
    )


@pytest.mark.e2e
def test_walkthrough_notebook_runs(corpus_dir, monkeypatch):
    monkeypatch.setenv("PRESS_RELEASES_DIR", str(corpus_dir))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # deterministic and free: the extractive mode
    monkeypatch.delenv("PRESSQA_DATA_DIR", raising=False)  # the notebook makes its own temporary one
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    started = time.perf_counter()
    try:
        client.execute()  # raises CellExecutionError, with the cell and traceback, when a cell fails
    finally:
        EXECUTED.parent.mkdir(exist_ok=True)
        nbformat.write(notebook, EXECUTED)
    print(f"notebook executed in {time.perf_counter() - started:.0f} s -> {EXECUTED.relative_to(REPO)}")

    outputs = [_output_text(cell) for cell in notebook.cells if cell.cell_type == "code"]
    everything = "\n".join(outputs)
    assert "254 releases" in everything
    assert "chunks written" in everything  # section 3 indexed the corpus
    assert "103.txt" in everything  # section 4 found the EUROGATE release
    assert "----- system -----" in everything and "Question: At which ports" in everything  # the prompt
    assert "NO-KEY MODE" in everything and "Bremerhaven" in everything  # the extractive answer
    table = next(text for text in outputs if "naive baseline" in text and "MRR" in text)
    assert "hit@1" in table and "passage@1" in table and "file@1" in table
