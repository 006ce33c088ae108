"""Helpers of the hardening tests (issue #5): tiny corpora, a service on its own copy of pipelines/, the LLM stand-in."""

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
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


@contextmanager
def running_standin(port: int, *options: str) -> Iterator[str]:
    """scripts/llm_standin.py on 127.0.0.1:`port` with these CLI options; yields its /v1 base URL."""
    command = [sys.executable, str(REPO / "scripts" / "llm_standin.py"), "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/models", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"stand-in did not start: {process.stderr.read().decode()}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
