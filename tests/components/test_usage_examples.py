"""Every component's docstring has a `### Usage example` in Haystack's style, and the example runs as written."""

import ast
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
CLASSES = [(path.stem, node) for path in sorted(COMPONENTS.glob("*.py")) if path.stem != "__init__"
           for node in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(node, ast.ClassDef)]


@pytest.mark.parametrize(("module", "node"), CLASSES, ids=[node.name for _, node in CLASSES])
def test_the_usage_example_runs(module, node):
    doc = ast.get_docstring(node) or ""
    assert "### Usage example" in doc, f"{node.name}: no '### Usage example' section"
    [example] = re.findall(r"### Usage example\n.*?```python\n(.*?)```", doc, re.S)
    assert f"from components.{module} import {node.name}" in example
    exec(compile(example, f"<{node.name} usage example>", "exec"), {})
