"""Start the real service (`pressqa-serve`) in a subprocess on a free loopback port, for end-to-end tests."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from scripts.measure_common import free_port

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("PRESS_RELEASES_DIR") or REPO.parent / "shared" / "telekom-press-releases").resolve()
INDEX_TOKEN = "test-index-token"


INHERITED_NEVER = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "PRESSQA_READ_TOKEN", "PRESSQA_STORE", "PRESSQA_STORES_DIR",
                   "OPENSEARCH_URL", "ELASTICSEARCH_URL", "HAYHOOKS_PIPELINES_DIR"}


class ServiceProcess:
    """One service process with its own data directory; `start()` waits until it is ready."""

    def __init__(self, data_dir: Path, corpus: Path | None = CORPUS, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"service-{self.port}.log"
        self.env = {
            # in-memory and extractive unless the test says otherwise: a store or LLM another test set up in
            # this process's environment never reaches this service
            **{k: v for k, v in os.environ.items() if k not in INHERITED_NEVER},
            "HAYHOOKS_HOST": "127.0.0.1",
            "HAYHOOKS_PORT": str(self.port),
            "PRESSQA_DATA_DIR": str(data_dir),
            "PRESS_RELEASES_DIR": str(corpus or data_dir / "no-corpus"),
            "PRESSQA_INDEX_TOKEN": INDEX_TOKEN,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 900, until_indexed: bool = True) -> "ServiceProcess":
        """Start and wait for /ready (and, with `until_indexed`, for indexing at start to finish)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from service.app import main; main()"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                ready = self.ready(timeout=5)
                if not until_indexed or (ready["documents"] > 0 and not ready["indexing"]["running"]):
                    return self
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"service not ready after {timeout} s:\n{self.log_tail()}")

    def ready(self, timeout: float = 10) -> dict:
        """The readiness view (/ready), with the read token when the service has one."""
        token = self.env.get("PRESSQA_READ_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + "/ready", headers=headers, timeout=timeout).raise_for_status().json()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) if self.log_path.exists() else ""


@contextmanager
def running_standin(*options: str, port: int | None = None) -> Iterator[str]:
    """scripts/llm_standin.py (the LLM stand-in) on 127.0.0.1:`port` (a free one by default) with these
    CLI options; yields its base URL (without /v1)."""
    port = port or free_port()
    command = [sys.executable, str(REPO / "scripts" / "llm_standin.py"), "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/models", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"stand-in did not start: {process.stderr.read().decode()}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
