"""Helpers shared by the measurement tools (evaluation, benchmarks): paths, questions, URL guard, stats, ports."""

from __future__ import annotations

import ipaddress
import json
import math
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "http://localhost:1416"
DEFAULT_QUESTIONS = "../shared/eval/dev.jsonl"
# evaluate.py reports both development sets, each and together (../shared/eval/README.md)
DEFAULT_QUESTION_SETS = [DEFAULT_QUESTIONS, "../shared/eval/dev2.jsonl"]


def repo_path(path: str | Path) -> Path:
    """`path` as given if absolute, otherwise relative to the repository root (not the cwd)."""
    path = Path(path)
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def load_questions(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The eval set's items (one JSON object a line), the first `limit` of them if given."""
    lines = repo_path(path).read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return items[:limit] if limit else items


def is_loopback_url(url: str) -> bool:
    """Whether the URL's host is localhost or a loopback address (127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(url: str, allow_remote: bool) -> None:
    """Refuse a non-loopback target unless explicitly allowed."""
    if not allow_remote and not is_loopback_url(url):
        raise SystemExit(f"refusing non-loopback URL {url!r}; pass --allow-remote to target it")


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def service_readiness(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> dict[str, Any]:
    """The service's readiness view (answer mode, documents …): `/ready`, or `/health` for a release before issue
    #21 (the measurements compare releases), whose /health held the same. SystemExit when unreachable."""
    import httpx

    try:
        reply = httpx.get(f"{url}/ready", headers=headers, timeout=timeout)
        if reply.status_code == 404:
            reply = httpx.get(f"{url}/health", headers=headers, timeout=timeout)
        return reply.raise_for_status().json()
    except httpx.HTTPError as error:
        raise SystemExit(f"service not reachable at {url}: {error}") from error


def free_port() -> int:
    """A TCP port free on the loopback interface now (for a service a tool or test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
