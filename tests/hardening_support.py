"""Helpers of the hardening tests (issue #5): tiny corpora, a service on its own copy of pipelines/, the LLM stand-in."""

import shutil
from pathlib import Path

from service_process import CORPUS, REPO, ServiceProcess

# Four short releases of the real corpus: enough for search, answers and citations, indexed in seconds.
TINY_RELEASES = ("103.txt", "67.txt", "15.txt", "99.txt")


def tiny_corpus(folder: Path, names: tuple[str, ...] = TINY_RELEASES) -> Path:
    """A corpus folder holding copies of a few real releases."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def service_on_copy(data_dir: Path, corpus: Path | None, **env: str) -> ServiceProcess:
    """A ServiceProcess that serves a private copy of pipelines/: whatever a request does to the pipelines
    folder (Hayhooks' undeploy deletes it) never touches the repository."""
    pipelines = data_dir / "pipelines"
    if not pipelines.exists():
        shutil.copytree(REPO / "pipelines", pipelines, ignore=shutil.ignore_patterns("__pycache__"))
    return ServiceProcess(data_dir, corpus=corpus, HAYHOOKS_PIPELINES_DIR=str(pipelines), **env)
