"""Licences (issue #5): scripts/check_licences.py passes on the installed venv, and judges licences correctly."""

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.install import check_licences

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_every_installed_dependency_and_the_model_may_be_used_commercially():
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "check_licences.py")], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "haystack-ai" in result.stdout and "hayhooks" in result.stdout and "torch" in result.stdout
    assert "all-MiniLM-L6-v2 (embedded model)" in result.stdout and "Apache-2.0" in result.stdout
    assert "Test tools" in result.stdout and "pytest" in result.stdout


def test_markdown_table_for_the_readme():
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "check_licences.py"), "--markdown"], capture_output=True, text=True, timeout=120, check=False
    )
    assert "| package | version | licence | verdict |" in result.stdout
    assert "| haystack-ai | 3.4.0 | Apache-2.0 | ok |" in result.stdout


@pytest.mark.parametrize(
    ("expression", "verdict"),
    [
        ("MIT", "ok"),
        ("Apache-2.0 AND (MIT OR BSD-3-Clause)", "ok"),
        ("MIT OR GPL-3.0-only", "ok"),  # a choice: we take MIT
        ("Apache-2.0 WITH LLVM-exception", "ok"),
        ("LGPL-3.0-or-later", "ok (LGPL: dynamic use only)"),
        ("GPL-3.0-only", "FAIL"),
        ("MIT AND AGPL-3.0-only", "FAIL"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "FAIL"),
        ("SSPL-1.0", "FAIL"),
        ("CC-BY-NC-4.0", "FAIL"),
        (None, "FAIL"),
    ],
)
def test_licence_expressions_are_judged(expression, verdict):
    assert check_licences.judge(expression).startswith(verdict)


def fake_distribution(tmp_path: Path, *lines: str):
    info = tmp_path / "fake_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("\n".join(["Metadata-Version: 2.4", "Name: fake-pkg", "Version: 1.0", *lines]) + "\n")
    return check_licences.metadata.PathDistribution(info)


@pytest.mark.parametrize(
    ("lines", "licence", "ok"),
    [
        (["License-Expression: BSD-3-Clause", "Classifier: License :: OSI Approved :: MIT License"], "BSD-3-Clause", True),
        (["License: Apache 2.0"], "Apache-2.0", True),
        (["Classifier: License :: OSI Approved :: MIT License"], "MIT", True),
        (["License: Proprietary. All rights reserved."], "Proprietary. All rights reserved.", False),
        (["Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)"], "GPL-3.0-only", False),
        ([], "-", False),
    ],
)
def test_licence_is_read_from_expression_field_or_classifiers(tmp_path, lines, licence, ok):
    row = check_licences.row_for(fake_distribution(tmp_path, *lines))
    assert row.licence == licence and row.ok is ok
