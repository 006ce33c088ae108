"""Soak test of the running service: N concurrent clients for a fixed time, watching the service's memory.

Clients mix POST /search/run, /ask/run and /ask/stream (weights: --mix). Every --sample-every seconds the
service's resident memory (RSS of the process and its worker processes) is sampled: by --pid, or by finding
the process that listens on the URL's port (the supervisor when several workers share it; psutil when
installed, /proc otherwise). The report gives requests, errors and latency percentiles per
endpoint, memory at start, end and peak, and the verdict "flat memory" when the memory after the warm-up grew
by less than --max-growth percent. Loopback targets only: a soak is load, and load goes to this machine.

    python scripts/soak.py --url http://127.0.0.1:1416 --clients 50 --seconds 60 --out soak.json

Exit code 1 when a request failed (or, with --fail-on-growth, when memory grew); 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from scripts.measure_common import is_loopback_url, percentile

QUESTIONS = [
    "At which ports is Deutsche Telekom building 5G campus networks for EUROGATE?",
    "What does the T Tablet cost without a mobile plan?",
    "Who developed the T-DevEdge API platform?",
    "What is the Kira B 50?",
    "Where did Deutsche Telekom open a Quantum Lab?",
    "How many households can get fiber to the home?",
    "Which partners work with Telekom on AI?",
    "What did Deutsche Telekom report about its quarterly revenue?",
    "fiber expansion in rural areas",
    "5G standalone network launch",
]
ENDPOINTS = ("search", "ask", "stream")
PATHS = {"search": "/search/run", "ask": "/ask/run", "stream": "/ask/stream"}


@dataclass
class Tally:
    """Outcomes of one endpoint's requests."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    def summary(self, seconds: float) -> dict:
        ok = len(self.latencies_ms)
        requests = ok + sum(self.errors.values())
        pct = {f"p{q}_ms": _round(percentile(self.latencies_ms, q)) for q in (50, 95, 99)}
        return {
            "requests": requests,
            "ok": ok,
            "errors": dict(self.errors),
            "throughput_rps": round(requests / seconds, 2) if seconds else None,
            **pct,
            "max_ms": _round(max(self.latencies_ms, default=None)),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---------------------------------------------------------------------------- memory


def listening_pid(port: int) -> int | None:
    """The PID of the process listening on TCP `port` (psutil if installed, else /proc), or None. A worker
    of a multi-worker service (`pressqa-serve`) stands for its supervisor, `service.supervisor`."""
    try:
        import psutil
    except ImportError:
        return _listening_pid_from_proc(port)
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                parent = psutil.Process(conn.pid).parent()
                # service.supervisor; service.workers in releases before issue #24
                if parent is not None and {"service.supervisor", "service.workers"} & set(parent.cmdline()):
                    return parent.pid
            except psutil.Error:
                pass
            return conn.pid
    return None


def _listening_pid_from_proc(port: int) -> int | None:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(f"socket:[{inode}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    return None


def rss_mb(pid: int) -> float | None:
    """Resident memory of `pid` and its child processes (the workers) in MiB (psutil if installed, else
    /proc/<pid>/status, the process alone), None if it is gone."""
    try:
        import psutil

        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
        return sum(p.memory_info().rss for p in family if p.is_running()) / 2**20
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 (psutil.NoSuchProcess, AccessDenied)
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def memory_verdict(samples: list[tuple[float, float]], warmup: float, max_growth: float) -> dict:
    """Memory at start, end and peak; growth from the first sample after warm-up to the end."""
    if not samples:
        return {"verdict": "unknown (no memory samples)"}
    values = [mb for _, mb in samples]
    after = [mb for t, mb in samples if t >= warmup] or values[-1:]
    baseline, end = after[0], values[-1]
    growth = (end - baseline) / baseline * 100 if baseline else 0.0
    if len(after) < 2:
        verdict = "unknown (too short after warm-up)"
    else:
        verdict = "flat memory" if growth < max_growth else "memory grew"
    return {
        "start_mb": round(values[0], 1),
        "after_warmup_mb": round(baseline, 1),
        "end_mb": round(end, 1),
        "max_mb": round(max(values), 1),
        "growth_after_warmup_pct": round(growth, 1),
        "max_growth_pct": max_growth,
        "verdict": verdict,
    }


# ---------------------------------------------------------------------------- load


async def one_request(client: httpx.AsyncClient, endpoint: str, question: str) -> str | None:
    """Send one request; None when it succeeded, otherwise what went wrong."""
    body = {"query": question, "top_k": 5}
    if endpoint != "stream":
        reply = await client.post(PATHS[endpoint], json=body)
        if reply.status_code != 200:
            return f"HTTP {reply.status_code}"
        result = reply.json().get("result") or {}
        if not result.get("documents"):
            return "no documents"
        if endpoint == "ask" and not result.get("answer"):
            return "no answer"
        return None
    async with client.stream("POST", PATHS[endpoint], json=body) as reply:
        if reply.status_code != 200:
            return f"HTTP {reply.status_code}"
        events = [line[7:] async for line in reply.aiter_lines() if line.startswith("event: ")]
    if "error" in events:
        return "stream error event"
    return None if events[-1:] == ["done"] else "stream ended without done"


async def client_loop(index: int, client: httpx.AsyncClient, deadline: float, weights: dict[str, float],
                      tallies: dict[str, Tally], seed: int) -> None:
    rng = random.Random(seed + index)
    names, shares = zip(*weights.items(), strict=True)
    while time.monotonic() < deadline:
        endpoint = rng.choices(names, shares)[0]
        started = time.perf_counter()
        try:
            problem = await one_request(client, endpoint, rng.choice(QUESTIONS))
        except httpx.HTTPError as error:
            problem = type(error).__name__
        if problem is None:
            tallies[endpoint].latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            tallies[endpoint].errors[problem] += 1


async def sample_memory(pid: int | None, every: float, started: float, stop: asyncio.Event,
                        samples: list[tuple[float, float]]) -> None:
    while pid is not None:
        mb = rss_mb(pid)
        if mb is not None:
            samples.append((round(time.monotonic() - started, 2), round(mb, 1)))
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            continue


async def soak(args: argparse.Namespace, pid: int | None) -> dict:
    weights = parse_mix(args.mix)
    tallies = {name: Tally() for name in weights}
    samples: list[tuple[float, float]] = []
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=args.timeout, limits=limits) as client:
        started = time.monotonic()
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_memory(pid, args.sample_every, started, stop, samples))
        deadline = started + args.seconds
        await asyncio.gather(*(client_loop(i, client, deadline, weights, tallies, args.seed) for i in range(args.clients)))
        elapsed = time.monotonic() - started
        if pid is not None and (mb := rss_mb(pid)) is not None:
            samples.append((round(elapsed, 2), round(mb, 1)))
        stop.set()
        await sampler
    per_endpoint = {name: tally.summary(elapsed) for name, tally in tallies.items()}
    all_latencies = [ms for tally in tallies.values() for ms in tally.latencies_ms]
    errors = sum(sum(t.errors.values()) for t in tallies.values())
    overall = Tally(all_latencies, Counter({"errors": errors}) if errors else Counter()).summary(elapsed)
    warmup = args.warmup if args.warmup is not None else min(10.0, args.seconds * 0.2)
    return {
        "meta": {
            "url": args.url, "clients": args.clients, "seconds": args.seconds, "elapsed_s": round(elapsed, 1),
            "mix": weights, "pid": pid, "warmup_s": warmup, "sample_every_s": args.sample_every,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "overall": overall | {"errors": errors},
        "endpoints": per_endpoint,
        "memory": memory_verdict(samples, warmup, args.max_growth) | {"samples": samples},
    }


def parse_mix(text: str) -> dict[str, float]:
    weights = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in ENDPOINTS:
            raise SystemExit(f"--mix: unknown endpoint {name!r}; use {', '.join(ENDPOINTS)}")
        weights[name.strip()] = float(weight or 1)
    if not any(weights.values()):
        raise SystemExit("--mix: all weights are zero")
    return {k: v for k, v in weights.items() if v > 0}


def print_report(report: dict) -> None:
    meta, memory = report["meta"], report["memory"]
    print(f"soak: {meta['clients']} clients, {meta['elapsed_s']} s against {meta['url']} (pid {meta['pid']})")
    print(f"{'endpoint':<10}{'requests':>10}{'errors':>8}{'rps':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for name, s in [*report["endpoints"].items(), ("all", report["overall"])]:
        errors = s["errors"] if isinstance(s["errors"], int) else sum(s["errors"].values())
        print(f"{name:<10}{s['requests']:>10}{errors:>8}{s['throughput_rps'] or 0:>8}"
              f"{s['p50_ms'] or 0:>10}{s['p95_ms'] or 0:>10}{s['p99_ms'] or 0:>10}")
    for name, s in report["endpoints"].items():
        if s["errors"]:
            print(f"  {name} errors: {s['errors']}")
    if "start_mb" in memory:
        print(f"memory (RSS MiB): start {memory['start_mb']}, after warm-up {memory['after_warmup_mb']}, "
              f"end {memory['end_mb']}, max {memory['max_mb']}; growth after warm-up "
              f"{memory['growth_after_warmup_pct']} % -> {memory['verdict']}")
    else:
        print(f"memory: {memory['verdict']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:1416", help="service base URL, loopback only (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60, help="how long to send requests (default: %(default)s)")
    parser.add_argument("--mix", default="search=5,ask=3,stream=2", help="endpoint weights (default: %(default)s)")
    parser.add_argument("--pid", type=int, help="the service's PID (default: the process listening on the URL's port)")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between memory samples (default: %(default)s)")
    parser.add_argument("--warmup", type=float, help="seconds before the memory baseline (default: 20%% of --seconds, at most 10)")
    parser.add_argument("--max-growth", type=float, default=10.0, help="percent growth after warm-up still 'flat' (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--token", default=os.environ.get("PRESSQA_READ_TOKEN") or None, help="read token, if the service needs one")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--fail-on-growth", action="store_true", help="exit 1 when memory grew after warm-up")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.sample_every <= 0:
        parser.error("--clients, --seconds and --sample-every must be positive")
    if args.seconds > 3600:
        parser.error("--seconds: at most 3600 (a soak is bounded)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.url = args.url.rstrip("/")
    if not is_loopback_url(args.url):
        raise SystemExit(f"refusing {args.url!r}: a soak targets this machine only (localhost, 127.0.0.0/8, [::1])")
    port = urlsplit(args.url).port or (443 if args.url.startswith("https") else 80)
    pid = args.pid or listening_pid(port)
    if pid is None:
        print(f"warning: no process found listening on port {port}; memory is not sampled", file=sys.stderr)
    report = asyncio.run(soak(args, pid))
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    failed = report["overall"]["errors"] > 0 or (args.fail_on_growth and report["memory"]["verdict"] == "memory grew")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
