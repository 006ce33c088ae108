"""Under load (issue #5): scripts/soak.py, and a short soak against the session's service in CI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.benchmarks import soak

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_soak(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "soak.py"), *arguments], capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )


@pytest.mark.parametrize("url", ["http://10.0.0.5:1416", "http://192.168.1.2:1416", "https://example.com"])
def test_soak_refuses_other_hosts(url, tmp_path):
    result = run_soak("--url", url, "--seconds", "1", cwd=tmp_path)
    assert result.returncode != 0 and "refusing" in result.stderr


def sample(t: float, requests: int, rss: float, threads: int = 30) -> dict:
    return {"t": t, "requests": requests, "rss_mib": rss, "threads": threads}


def test_memory_slope_after_warm_up():
    # warm-up growth does not count; after it, 2 MiB over 2,000 requests: 1 MiB per 1,000
    flat = [sample(0, 0, 500), sample(5, 500, 650), sample(10, 1000, 700), sample(20, 2000, 701), sample(30, 3000, 702)]
    verdict = soak.memory_verdict(flat, warmup=10, max_slope=5, max_thread_growth=4)
    assert verdict["passed"] and verdict["slope_mib_per_1000_requests"] == pytest.approx(1.0)
    # 16 MiB per 600 requests (issue #21, row 10): 26.7 MiB per 1,000
    grew = [sample(10 * i, 600 * i, 700 + 16 * i) for i in range(1, 6)]
    verdict = soak.memory_verdict(grew, warmup=10, max_slope=5, max_thread_growth=4)
    assert not verdict["passed"] and verdict["slope_mib_per_1000_requests"] == pytest.approx(26.67, abs=0.01)
    assert "memory grows" in verdict["verdict"] and verdict["start_mib"] == 716 and verdict["max_mib"] == 780
    # threads 18 -> 28 (row 10)
    threads = [sample(10 * i, 600 * i, 700, threads=18 + 2 * i) for i in range(1, 6)]
    verdict = soak.memory_verdict(threads, warmup=10, max_slope=5, max_thread_growth=4)
    assert not verdict["passed"] and "threads grew by 8" in verdict["verdict"]
    assert soak.memory_verdict(flat[:2], warmup=10, max_slope=5, max_thread_growth=4)["passed"] is False  # too short


@pytest.mark.e2e
def test_short_soak_has_no_errors(indexed_service, tmp_path):
    """CI's short soak: 10 clients for 20 s of every kind of request against the session's service: every request
    answered (or refused with 503 + Retry-After), memory and threads sampled by port. Too short for a fair slope:
    the 10-minute soak is README's (Results)."""
    result = run_soak(
        "--url", indexed_service.url, "--clients", "10", "--seconds", "20", "--sample-every", "1",
        "--no-memory-verdict", "--out", "soak.json", cwd=tmp_path,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "soak.json").read_text())
    assert report["meta"]["pid"] == indexed_service.process.pid  # found by the listening port
    assert report["overall"]["errors"] == 0
    for endpoint in soak.ENDPOINTS:
        assert report["endpoints"][endpoint]["ok"] > 0, endpoint
    assert report["overall"]["p95_ms"] is not None
    assert len(report["memory"]["samples"]) >= 10 and report["memory"]["end_mib"] > 0
