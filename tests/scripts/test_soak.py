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


def test_memory_verdict_after_warm_up():
    flat = [(0, 500.0), (5, 650.0), (10, 700.0), (20, 705.0), (30, 710.0)]  # warm-up growth does not count
    assert soak.memory_verdict(flat, warmup=10, max_growth=10)["verdict"] == "flat memory"
    grew = [(0, 500.0), (10, 700.0), (20, 760.0), (30, 800.0)]
    verdict = soak.memory_verdict(grew, warmup=10, max_growth=10)
    assert verdict["verdict"] == "memory grew" and verdict["growth_after_warmup_pct"] == pytest.approx(14.3)
    assert verdict["start_mb"] == 500.0 and verdict["max_mb"] == 800.0


@pytest.mark.e2e
def test_short_soak_has_no_errors(indexed_service, tmp_path):
    """20 clients for 10 s against the session's service: every request answered, memory sampled by port."""
    result = run_soak(
        "--url", indexed_service.url, "--clients", "20", "--seconds", "10", "--sample-every", "1",
        "--out", "soak.json", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "soak.json").read_text())
    print(result.stdout)
    assert report["meta"]["pid"] == indexed_service.process.pid  # found by the listening port
    assert report["overall"]["errors"] == 0
    for endpoint in ("search", "ask", "stream"):
        assert report["endpoints"][endpoint]["ok"] > 0, endpoint
    assert report["overall"]["p95_ms"] is not None
    assert len(report["memory"]["samples"]) >= 5 and report["memory"]["end_mb"] > 0
