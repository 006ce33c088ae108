"""Liveness under load: N concurrent clients search as fast as they are answered while a separate process probes
`GET /health`; how fast /health answers, and how the excess work is refused.

Targets (issue #21): /health p99 ≤ 200 ms under 50 concurrent searches on 2 cores; the excess refused with 503 and
`Retry-After` (a client waits as told, then goes on); no other 5xx. Every search question is a distinct variant of
a dev-set question (bench.py's `question_variants`). The prober is its own process, opening a new connection per
probe as a load balancer does, so that the load generator's own event loop does not delay its timings. The load
average before and after is reported: on a shared machine, other work counts in the figures.

    python scripts/health_under_load.py --url http://127.0.0.1:1416 --clients 50 --seconds 30 --out health.json

Exit code 1 when a request failed otherwise than with a 503 + Retry-After (or the service was unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from scripts.benchmarks.bench import question_variants
from scripts.measure_common import DEFAULT_QUESTIONS, load_questions, percentile, require_loopback

TARGET_HEALTH_P99_MS = 200.0


def probe(url: str, seconds: float, every: float, results: multiprocessing.Queue) -> None:
    """GET /health every `every` seconds for `seconds`, a new connection each time; puts [(ms, status), …]."""
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status = httpx.get(f"{url}/health", timeout=10).status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        samples.append(((time.perf_counter() - started) * 1000, status))
        time.sleep(max(0.0, every - (time.perf_counter() - started)))
    results.put(samples)


async def load(args: argparse.Namespace) -> dict:
    questions = question_variants([item["question"] for item in load_questions(args.questions)])
    statuses: Counter = Counter()
    without_retry_after = 0
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    deadline = time.monotonic() + args.seconds
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=60, limits=limits) as client:

        async def one_client() -> None:
            nonlocal without_retry_after
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    reply = await client.post("/search/run", json={"query": next(questions), "top_k": 5})
                except httpx.HTTPError as error:
                    statuses[type(error).__name__] += 1
                    continue
                statuses[reply.status_code] += 1
                if reply.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                elif reply.status_code == 503:
                    wait = reply.headers.get("retry-after")
                    without_retry_after += wait is None
                    await asyncio.sleep(min(float(wait or 1), max(0.0, deadline - time.monotonic())))

        await asyncio.gather(*(one_client() for _ in range(args.clients)))
    return {"statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)}, "without_retry_after": without_retry_after,
            "search_ok_per_s": round(len(latencies) / args.seconds, 1),
            "search_p50_ms": _round(percentile(latencies, 50)), "search_p95_ms": _round(percentile(latencies, 95))}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def measure(args: argparse.Namespace) -> dict:
    load_before = os.getloadavg()
    results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    prober = multiprocessing.get_context("spawn").Process(target=probe, args=(args.url, args.seconds, args.probe_every, results))
    prober.start()
    searches = asyncio.run(load(args))
    samples = results.get(timeout=args.seconds + 60)
    prober.join(timeout=30)
    health_ms = [ms for ms, status in samples if status == 200]
    failed_probes = [status for _, status in samples if status != 200]
    other_5xx = sum(n for status, n in searches["statuses"].items() if status.isdigit() and int(status) >= 500 and status != "503")
    errors = sum(n for status, n in searches["statuses"].items() if not status.isdigit())
    health = {"probes": len(samples), "failed": len(failed_probes), **{
        f"p{q}_ms": _round(percentile(health_ms, q)) for q in (50, 95, 99)}, "max_ms": _round(max(health_ms, default=None))}
    checks = {
        f"/health p99 <= {TARGET_HEALTH_P99_MS:g} ms": health["p99_ms"] is not None and health["p99_ms"] <= TARGET_HEALTH_P99_MS
                                                       and not failed_probes,
        "excess refused with 503 + Retry-After": searches["statuses"].get("503", 0) > 0 and searches["without_retry_after"] == 0,
        "no other 5xx, no failed request": other_5xx == 0 and errors == 0,
    }
    return {"meta": {"url": args.url, "clients": args.clients, "seconds": args.seconds, "cpu_count": os.cpu_count(),
                     "load_average_before": load_before, "load_average_after": os.getloadavg()},
            "searches": searches, "health": health, "checks": checks, "failed": other_5xx + errors > 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:1416", help="service base URL (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent search clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=30, help="how long (default: %(default)s)")
    parser.add_argument("--probe-every", type=float, default=0.1, help="seconds between /health probes (default: %(default)s)")
    parser.add_argument("--questions", default=DEFAULT_QUESTIONS, help="eval set whose questions are varied (default: %(default)s)")
    parser.add_argument("--token", default=os.environ.get("PRESSQA_READ_TOKEN") or None, help="read token, if the service needs one")
    parser.add_argument("--allow-remote", action="store_true", help="allow a URL that is not loopback")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    args.url = args.url.rstrip("/")
    require_loopback(args.url, args.allow_remote)
    report = measure(args)
    meta, health, searches = report["meta"], report["health"], report["searches"]
    print(f"{args.clients} clients for {args.seconds:g} s against {args.url}; load average "
          f"{meta['load_average_before'][0]:.1f} before, {meta['load_average_after'][0]:.1f} after ({meta['cpu_count']} cores)")
    print(f"searches: {searches['statuses']} ({searches['without_retry_after']} 503 without Retry-After); "
          f"{searches['search_ok_per_s']} answered/s, p50 {searches['search_p50_ms']} ms, p95 {searches['search_p95_ms']} ms")
    print(f"/health: {health['probes']} probes ({health['failed']} failed), p50 {health['p50_ms']} ms, p95 "
          f"{health['p95_ms']} ms, p99 {health['p99_ms']} ms, max {health['max_ms']} ms")
    for check, passed in report["checks"].items():
        print(f"  {'PASS' if passed else 'MISS'}  {check}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
