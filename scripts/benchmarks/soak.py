"""Soak test of the running service: concurrent clients for minutes, watching the service's memory and threads.

Clients mix (weights: --mix) POST /search/run, /ask/run, /ask/stream read to its end, `dropped` (/ask/stream left
after the first answer delta: a client that goes away mid-answer), `chat` (/v1/chat/completions, not streamed),
`chatstream` (streamed, read to its end) and `mcp` (an MCP `tools/call` of search_press_releases or
ask_press_releases at /mcp). Every question is a distinct variant of a dev-set question (bench.py's
`question_variants`): no question is sent twice in a run. A 503 with `Retry-After` (the admission limit) is a
refusal, not an error: the client waits as told and goes on.

Every --sample-every seconds the service's resident memory and threads are sampled (the process listening on the
URL's port and its worker processes, or --pid). After the warm-up (--warmup), the memory's **slope** is fitted
(least squares) against the requests answered so far: MiB per 1,000 requests, and the threads' growth. The run
fails (exit 1) when a request failed, when the slope exceeds --max-slope (default 5 MiB per 1,000 requests: issue
#21's acceptance) or when the threads grew by more than --max-thread-growth. Loopback targets only.

    python scripts/soak.py --url http://127.0.0.1:1416 --clients 20 --seconds 600 --out soak.json
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from scripts.benchmarks.bench import question_variants
from scripts.measure_common import DEFAULT_QUESTIONS, is_loopback_url, load_questions, percentile

ENDPOINTS = ("search", "ask", "stream", "dropped", "chat", "chatstream", "mcp")
DEFAULT_MIX = "search=3,ask=1,stream=1,dropped=2,chat=2,chatstream=1,mcp=2"
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@dataclass
class Tally:
    """Outcomes of one endpoint's requests."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    refused: int = 0

    def summary(self, seconds: float) -> dict:
        ok = len(self.latencies_ms)
        requests = ok + sum(self.errors.values()) + self.refused
        pct = {f"p{q}_ms": _round(percentile(self.latencies_ms, q)) for q in (50, 95, 99)}
        return {"requests": requests, "ok": ok, "refused_503": self.refused, "errors": dict(self.errors),
                "throughput_rps": round(ok / seconds, 2) if seconds else None, **pct,
                "max_ms": _round(max(self.latencies_ms, default=None))}


class Refused(Exception):
    """A 503 with Retry-After: the service is busy; the client waits `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---------------------------------------------------------------------------- the service's processes


def listening_pid(port: int) -> int | None:
    """The PID of the process listening on TCP `port`, or None; a worker of a multi-worker service stands for its
    supervisor (`service.supervisor`)."""
    import psutil

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


def process_usage(pid: int) -> tuple[float, int] | None:
    """(resident MiB, threads) of `pid` and its child processes (the workers); None if it is gone."""
    import psutil

    try:
        family = [psutil.Process(pid)]
        family += family[0].children(recursive=True)
        rss = threads = 0
        for process in family:
            with process.oneshot():
                rss += process.memory_info().rss
                threads += process.num_threads()
        return rss / 2**20, threads
    except psutil.Error:
        return None


def slope_per_1000(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x, times 1,000 (MiB per 1,000 requests); None for fewer than 3 points or no
    spread in x."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread * 1000


def memory_verdict(samples: list[dict], warmup: float, max_slope: float, max_thread_growth: int) -> dict:
    """Memory and threads at start, after warm-up, at the end; the slope after warm-up against requests answered."""
    if not samples:
        return {"verdict": "unknown (no samples)", "passed": False}
    after = [s for s in samples if s["t"] >= warmup]
    slope = slope_per_1000([(s["requests"], s["rss_mib"]) for s in after])
    first, last = (after or samples)[0], samples[-1]
    thread_growth = last["threads"] - first["threads"]
    if slope is None:
        verdict, passed = "unknown (too few samples after warm-up)", False
    else:
        problems = ([f"memory grows {slope:.1f} MiB per 1,000 requests (limit {max_slope})"] if slope > max_slope else []) + (
            [f"threads grew by {thread_growth} (limit {max_thread_growth})"] if thread_growth > max_thread_growth else [])
        verdict, passed = ("; ".join(problems), False) if problems else ("flat", True)
    return {
        "start_mib": round(samples[0]["rss_mib"], 1), "after_warmup_mib": round(first["rss_mib"], 1),
        "end_mib": round(last["rss_mib"], 1), "max_mib": round(max(s["rss_mib"] for s in samples), 1),
        "slope_mib_per_1000_requests": None if slope is None else round(slope, 2), "max_slope": max_slope,
        "requests_after_warmup": last["requests"] - first["requests"],
        "threads_start": samples[0]["threads"], "threads_after_warmup": first["threads"], "threads_end": last["threads"],
        "max_thread_growth": max_thread_growth, "verdict": verdict, "passed": passed,
    }


# ---------------------------------------------------------------------------- load


def _check(reply: httpx.Response) -> None:
    if reply.status_code == 503 and "retry-after" in reply.headers:
        raise Refused(float(reply.headers["retry-after"]))
    if reply.status_code != 200:
        raise AssertionError(f"HTTP {reply.status_code}")


async def _sse_events(reply: httpx.Response, stop_after_delta: bool = False) -> list[str]:
    events = []
    async for line in reply.aiter_lines():
        if line.startswith("event: "):
            events.append(line[7:])
            if stop_after_delta and line[7:] == "delta":
                break  # the client goes away mid-answer
    return events


async def one_request(client: httpx.AsyncClient, endpoint: str, question: str, number: int) -> None:
    """Send one request; raises Refused for a 503 with Retry-After, AssertionError for anything wrong."""
    body = {"query": question, "top_k": 5}
    if endpoint in ("search", "ask"):
        reply = await client.post(f"/{endpoint}/run", json=body)
        _check(reply)
        result = reply.json().get("result") or {}
        assert result.get("documents"), "no documents"
        assert endpoint == "search" or result.get("answer"), "no answer"
    elif endpoint in ("stream", "dropped"):
        async with client.stream("POST", "/ask/stream", json=body) as reply:
            _check(reply)
            events = await _sse_events(reply, stop_after_delta=endpoint == "dropped")
        assert "error" not in events, "stream error event"
        assert endpoint == "dropped" or events[-1:] == ["done"], "stream ended without done"
    elif endpoint in ("chat", "chatstream"):
        chat = {"model": "ask", "messages": [{"role": "user", "content": question}], "stream": endpoint == "chatstream"}
        if endpoint == "chat":
            reply = await client.post("/v1/chat/completions", json=chat)
            _check(reply)
            assert reply.json()["choices"][0]["message"]["content"], "no answer"
        else:
            async with client.stream("POST", "/v1/chat/completions", json=chat) as reply:
                _check(reply)
                chunks = [json.loads(line[6:]) async for line in reply.aiter_lines()
                          if line.startswith("data: ") and line != "data: [DONE]"]
            assert chunks and chunks[-1]["choices"][0]["finish_reason"] == "stop", "chat stream ended without its finish"
    else:  # mcp
        tool, arguments = (("search_press_releases", {"query": question}) if number % 2 else
                           ("ask_press_releases", {"question": question}))
        call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        reply = await client.post("/mcp", json=call, headers=MCP_HEADERS)
        _check(reply)
        text = reply.text
        if reply.headers.get("content-type", "").startswith("text/event-stream"):  # releases before issue #21
            text = next(line[6:] for line in text.splitlines() if line.startswith("data: "))
        result = json.loads(text)["result"]
        assert not result.get("isError"), f"tool error: {result['content'][0]['text'][:80]}"


class Counts:
    """Requests answered so far (sampled with the memory)."""

    def __init__(self) -> None:
        self.done = 0


async def client_loop(index: int, client: httpx.AsyncClient, deadline: float, weights: dict[str, float],
                      questions: Iterator[str], tallies: dict[str, Tally], counts: Counts, seed: int) -> None:
    rng = random.Random(seed + index)
    names, shares = zip(*weights.items(), strict=True)
    while time.monotonic() < deadline:
        endpoint = rng.choices(names, shares)[0]
        started = time.perf_counter()
        try:
            await one_request(client, endpoint, next(questions), counts.done + index)
        except Refused as refusal:
            tallies[endpoint].refused += 1
            await asyncio.sleep(min(refusal.seconds, max(0.0, deadline - time.monotonic())))
            continue
        except (httpx.HTTPError, AssertionError, ValueError, KeyError, IndexError, StopIteration) as error:
            tallies[endpoint].errors[str(error) if isinstance(error, AssertionError) else type(error).__name__] += 1
            continue
        tallies[endpoint].latencies_ms.append((time.perf_counter() - started) * 1000)
        counts.done += 1


async def sample_usage(pid: int | None, every: float, started: float, stop: asyncio.Event, counts: Counts,
                       samples: list[dict]) -> None:
    while pid is not None:
        if (usage := process_usage(pid)) is not None:
            samples.append({"t": round(time.monotonic() - started, 2), "requests": counts.done,
                            "rss_mib": round(usage[0], 1), "threads": usage[1]})
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            continue


async def soak(args: argparse.Namespace, pid: int | None) -> dict:
    weights = parse_mix(args.mix)
    tallies = {name: Tally() for name in weights}
    samples: list[dict] = []
    counts = Counts()
    questions = question_variants([item["question"] for item in load_questions(args.questions)], seed=args.seed)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=args.timeout, limits=limits) as client:
        started = time.monotonic()
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_usage(pid, args.sample_every, started, stop, counts, samples))
        deadline = started + args.seconds
        await asyncio.gather(*(client_loop(i, client, deadline, weights, questions, tallies, counts, args.seed)
                               for i in range(args.clients)))
        elapsed = time.monotonic() - started
        stop.set()
        await sampler
        if pid is not None and (usage := process_usage(pid)) is not None:
            samples.append({"t": round(elapsed, 2), "requests": counts.done, "rss_mib": round(usage[0], 1),
                            "threads": usage[1]})
    per_endpoint = {name: tally.summary(elapsed) for name, tally in tallies.items()}
    everything = Tally([ms for t in tallies.values() for ms in t.latencies_ms],
                       sum((t.errors for t in tallies.values()), Counter()), sum(t.refused for t in tallies.values()))
    warmup = args.warmup if args.warmup is not None else min(120.0, args.seconds * 0.2)
    return {
        "meta": {"url": args.url, "clients": args.clients, "seconds": args.seconds, "elapsed_s": round(elapsed, 1),
                 "mix": weights, "pid": pid, "warmup_s": warmup, "sample_every_s": args.sample_every,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_average_end": os.getloadavg()},
        "overall": everything.summary(elapsed) | {"errors": sum(everything.errors.values())},
        "endpoints": per_endpoint,
        "memory": memory_verdict(samples, warmup, args.max_slope, args.max_thread_growth) | {"samples": samples},
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
    print(f"soak: {meta['clients']} clients, {meta['elapsed_s']} s against {meta['url']} (pid {meta['pid']}); "
          f"load average at the end {', '.join(f'{v:.1f}' for v in meta['load_average_end'])}")
    print(f"{'endpoint':<11}{'requests':>9}{'ok':>7}{'503':>6}{'errors':>7}{'ok/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for name, s in [*report["endpoints"].items(), ("all", report["overall"])]:
        errors = s["errors"] if isinstance(s["errors"], int) else sum(s["errors"].values())
        print(f"{name:<11}{s['requests']:>9}{s['ok']:>7}{s['refused_503']:>6}{errors:>7}{s['throughput_rps'] or 0:>7}"
              f"{s['p50_ms'] or 0:>9}{s['p95_ms'] or 0:>9}{s['p99_ms'] or 0:>9}")
    for name, s in report["endpoints"].items():
        if s["errors"]:
            print(f"  {name} errors: {s['errors']}")
    if "start_mib" in memory:
        print(f"memory (RSS MiB): start {memory['start_mib']}, after warm-up {memory['after_warmup_mib']}, end "
              f"{memory['end_mib']}, max {memory['max_mib']}; slope after warm-up {memory['slope_mib_per_1000_requests']} "
              f"MiB per 1,000 requests over {memory['requests_after_warmup']} requests (limit {memory['max_slope']}); "
              f"threads {memory['threads_start']} -> {memory['threads_after_warmup']} -> {memory['threads_end']}")
    print(f"verdict: {memory['verdict']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:1416", help="service base URL, loopback only (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=600, help="how long to send requests (default: %(default)s)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help="endpoint weights (default: %(default)s)")
    parser.add_argument("--questions", default=DEFAULT_QUESTIONS, help="eval set whose questions are varied (default: %(default)s)")
    parser.add_argument("--pid", type=int, help="the service's PID (default: the process listening on the URL's port)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between samples (default: %(default)s)")
    parser.add_argument("--warmup", type=float, help="seconds before the slope is fitted (default: 20%% of --seconds, at most 120)")
    parser.add_argument("--max-slope", type=float, default=5.0, help="MiB per 1,000 requests after warm-up still flat (default: %(default)s)")
    parser.add_argument("--max-thread-growth", type=int, default=4, help="threads the processes may gain after warm-up (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--token", default=os.environ.get("PRESSQA_READ_TOKEN") or None, help="read token, if the service needs one")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix and the question order (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--no-memory-verdict", action="store_true", help="fail on request errors only (a run too short to fit a slope)")
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
    failed = report["overall"]["errors"] > 0 or (not args.no_memory_verdict and not report["memory"]["passed"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
