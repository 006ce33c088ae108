"""Load benchmark of the running service: N concurrent clients per target, for a time or a request count.

Targets: `search` (POST /search/run), `ask` (POST /ask/run) and `stream` (POST /v1/chat/completions
with model "ask" and stream true; time to first content token and total). Questions come round-robin
from the eval set. Each target gets one untimed warm-up request (a target whose warm-up fails is
skipped and reported with that one error), then runs alone. Reports requests, errors by kind,
throughput (successful req/s), latency p50/p95/p99/max and stream TTFT p50/p95, checks them against
the project's targets (PASS/MISS) and writes JSON. The answer mode comes from GET /health; an LLM
stand-in is reported when --standin-label is given or "standin" shows in /health or in the streamed
chunks' model names.

    python scripts/bench.py [--seconds 20 | --requests 200] [--concurrency 10] [--targets search ask stream]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from measure_common import DEFAULT_QUESTIONS, DEFAULT_URL, load_questions, percentile, require_loopback

TARGETS = ("search", "ask", "stream")
DEFAULT_SECONDS = 20.0
MAX_SECONDS_WITH_REQUEST_COUNT = 300.0
STANDIN_MARKER = "standin"


@dataclass(frozen=True)
class Sample:
    """One request's outcome: seconds to the full reply (and to the first token for streams), or an error."""

    latency: float
    ttft: float | None = None
    error: str | None = None
    models: frozenset[str] = field(default_factory=frozenset)
    answer_mode: str | None = None


@dataclass(frozen=True)
class Check:
    """A target the project set: `metric` of `target` must stay on the right side of `bound`, in `modes`."""

    target: str
    metric: str
    bound: float
    at_least: bool
    modes: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.metric} {'>=' if self.at_least else '<='} {self.bound:g}"

    def passes(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound


CHECKS = (
    Check("search", "throughput_rps", 60, at_least=True, modes=("extractive", "llm")),
    Check("search", "latency_p95_ms", 150, at_least=False, modes=("extractive", "llm")),
    Check("ask", "latency_p95_ms", 300, at_least=False, modes=("extractive",)),
    Check("ask", "latency_p95_ms", 4000, at_least=False, modes=("llm",)),
    Check("stream", "latency_p95_ms", 4000, at_least=False, modes=("llm",)),
    Check("stream", "ttft_p95_ms", 1000, at_least=False, modes=("llm",)),
)


def error_kind(error: Exception) -> str:
    """Short name of a failed request's cause."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        return "connect"
    if isinstance(error, json.JSONDecodeError | KeyError | TypeError):
        return "malformed reply"
    return type(error).__name__


async def post_pipeline(client: httpx.AsyncClient, endpoint: str, body: dict[str, Any]) -> Sample:
    """`POST /{endpoint}/run`; a success is a 200 whose JSON has a `result` (with the answer's `mode` for ask)."""
    started = time.perf_counter()
    try:
        response = await client.post(f"/{endpoint}/run", json=body)
        response.raise_for_status()
        answer_mode = response.json()["result"].get("mode")
    except (httpx.HTTPError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        return Sample(time.perf_counter() - started, error=error_kind(error))
    return Sample(time.perf_counter() - started, answer_mode=answer_mode)


async def stream_chat(client: httpx.AsyncClient, question: str) -> Sample:
    """Streamed chat completion; a success delivers content and finishes (a `finish_reason`, or `data: [DONE]`,
    which Hayhooks does not send)."""
    body = {"model": "ask", "stream": True, "messages": [{"role": "user", "content": question}]}
    started, first_token, finished, models = time.perf_counter(), None, False, set()
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line.removeprefix("data:").strip()
                if data == "[DONE]":
                    finished = True
                    break
                chunk = json.loads(data)
                models.add(str(chunk.get("model")))
                choice = (chunk.get("choices") or [{}])[0]
                if first_token is None and (choice.get("delta") or {}).get("content"):
                    first_token = time.perf_counter() - started
                finished = finished or choice.get("finish_reason") is not None
    except (httpx.HTTPError, json.JSONDecodeError, TypeError, AttributeError) as error:
        return Sample(time.perf_counter() - started, error=error_kind(error), models=frozenset(models))
    error = "unfinished stream" if not finished else "no content" if first_token is None else None
    return Sample(time.perf_counter() - started, first_token, error, frozenset(models))


def requester(target: str, top_k: int) -> Callable[[httpx.AsyncClient, str], Awaitable[Sample]]:
    """The request function for a target."""
    if target == "stream":
        return stream_chat
    return lambda client, question: post_pipeline(client, target, {"query": question, "top_k": top_k})


async def run_target(
    client: httpx.AsyncClient,
    send: Callable[[httpx.AsyncClient, str], Awaitable[Sample]],
    questions: list[str],
    concurrency: int,
    seconds: float,
    max_requests: int | None,
    progress: tqdm,
) -> tuple[list[Sample], float]:
    """`concurrency` clients in a closed loop until `seconds` pass or `max_requests` have started."""
    samples: list[Sample] = []
    ticket = itertools.count()
    deadline = time.monotonic() + seconds

    async def client_loop() -> None:
        while time.monotonic() < deadline:
            number = next(ticket)
            if max_requests is not None and number >= max_requests:
                return
            samples.append(await send(client, questions[number % len(questions)]))
            progress.update()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return samples, time.perf_counter() - started


def summarise(samples: list[Sample], elapsed: float, streaming: bool) -> dict[str, Any]:
    """Counts, errors, throughput and latency percentiles (ms) of one target's run."""
    succeeded = [sample for sample in samples if sample.error is None]
    latencies = [sample.latency * 1000 for sample in succeeded]
    summary: dict[str, Any] = {
        "requests": len(samples),
        "ok": len(succeeded),
        "errors": dict(Counter(sample.error for sample in samples if sample.error)),
        "seconds": round(elapsed, 2),
        "throughput_rps": len(succeeded) / elapsed if elapsed else 0.0,
        **{f"latency_p{q}_ms": percentile(latencies, q) for q in (50, 95, 99)},
        "latency_max_ms": max(latencies, default=None),
    }
    if answer_modes := Counter(sample.answer_mode for sample in succeeded if sample.answer_mode):
        summary["answer_modes"] = dict(answer_modes)
    if streaming:
        first_tokens = [sample.ttft * 1000 for sample in succeeded if sample.ttft is not None]
        summary |= {f"ttft_p{q}_ms": percentile(first_tokens, q) for q in (50, 95)}
        summary["models_seen"] = sorted(set().union(*(sample.models for sample in samples)))
    return summary


def check_results(results: dict[str, dict[str, Any]], answer_mode: str) -> list[dict[str, Any]]:
    """PASS/MISS of every target that applies to the measured targets and the answer mode.

    A target with failed requests, or with answers in another mode (an LLM answer that fell back to
    the extractive one), is a MISS whatever its numbers.
    """
    checks = []
    for check in CHECKS:
        summary = results.get(check.target)
        if summary is None or answer_mode not in check.modes:
            continue
        value = summary.get(check.metric)
        errors = sum(summary["errors"].values())
        other_mode = sum(n for mode, n in summary.get("answer_modes", {}).items() if mode != answer_mode)
        passed = value is not None and check.passes(value) and not errors and not other_mode
        problems = []
        if errors:
            problems.append(f"{errors} errors")
        if other_mode:
            problems.append(f"{other_mode} answers not in {answer_mode} mode")
        note = ", ".join(problems)
        checks.append(
            {"target": check.target, "check": check.describe(), "metric": check.metric, "mode": answer_mode}
            | {"value": value, "result": "PASS" if passed else "MISS", "note": note}
        )
    return checks


def llm_description(health: dict[str, Any], results: dict[str, dict[str, Any]], label: str | None) -> dict[str, Any]:
    """Whether the answers came from an LLM stand-in, and how that is known."""
    models = results.get("stream", {}).get("models_seen", [])
    if label:
        source = "--standin-label"
    elif STANDIN_MARKER in json.dumps(health).lower():
        source = "GET /health"
    elif any(STANDIN_MARKER in model.lower() for model in models):
        source = "streamed model name"
    else:
        source = None
    return {"answer_mode": health.get("answer_mode"), "standin": source is not None, "detected_by": source}


def format_ms(value: float | None) -> str:
    """Milliseconds for the table."""
    return "-" if value is None else f"{value:.0f}"


def results_table(results: dict[str, dict[str, Any]]) -> str:
    """One line per target."""
    header = ["target", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "TTFT p50", "TTFT p95"]
    rows = [header]
    for target, summary in results.items():
        errors = ", ".join(f"{kind} x{count}" for kind, count in summary["errors"].items()) or "0"
        rows.append(
            [target, str(summary["requests"]), errors, f"{summary['throughput_rps']:.1f}"]
            + [format_ms(summary[f"latency_{key}_ms"]) for key in ("p50", "p95", "p99", "max")]
            + [format_ms(summary.get(f"ttft_{key}_ms")) for key in ("p50", "p95")]
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(
            [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        )
        for row in rows
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def format_check_value(metric: str, value: float | None) -> str:
    """A checked value with its unit."""
    if value is None:
        return "-"
    return f"{value:.1f} req/s" if metric.endswith("_rps") else f"{value:.0f} ms"


def checks_text(checks: list[dict[str, Any]]) -> str:
    """One line per check."""
    return "\n".join(
        f"{c['result']}  {c['target']:<7} {c['check']:<24} got {format_check_value(c['metric'], c['value'])}"
        + (f"  ({c['note']})" if c["note"] else "")
        for c in checks
    )


async def benchmark(args: argparse.Namespace, questions: list[str]) -> dict[str, Any]:
    """Health check, then each target in turn; the full report."""
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) as client:
        try:
            health = (await client.get("/health")).raise_for_status().json()
        except httpx.HTTPError as error:
            raise SystemExit(f"service not reachable at {args.url}/health: {error}") from error
        print(
            f"service {args.url}: answer_mode={health.get('answer_mode')}, documents={health.get('documents')}; "
            f"{args.concurrency} clients, "
            + (f"{args.requests} requests, at most " if args.requests else "")
            + f"{args.seconds:g} s per target"
        )
        results = {}
        for target in args.targets:
            send = requester(target, args.top_k)
            warm_up = await send(client, questions[0])
            if warm_up.error:
                print(f"{target}: skipped, its warm-up request failed ({warm_up.error})")
                summary = summarise([warm_up], warm_up.latency, streaming=target == "stream")
                results[target] = summary | {"skipped": "warm-up request failed"}
                continue
            with tqdm(desc=target, unit="req", total=args.requests, leave=False) as progress:
                samples, elapsed = await run_target(
                    client, send, questions, args.concurrency, args.seconds, args.requests, progress
                )
            results[target] = summarise(samples, elapsed, streaming=target == "stream")
    llm = llm_description(health, results, args.standin_label)
    meta = {
        "url": args.url,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "requests": args.requests,
        "top_k": args.top_k,
        "questions": len(questions),
        "health": health,
        "llm": llm | {"label": args.standin_label},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    return {"meta": meta, "results": results, "checks": check_results(results, health.get("answer_mode", ""))}


def print_report(report: dict[str, Any]) -> None:
    """The table, the LLM line and the checks."""
    llm = report["meta"]["llm"]
    if llm["answer_mode"] == "llm":
        who = f"LLM STAND-IN (by {llm['detected_by']}{': ' + llm['label'] if llm['label'] else ''})"
        unknown = "an LLM not known to be a stand-in (pass --standin-label if it is one)"
        llm_line = f"answer mode: llm, answered by {who if llm['standin'] else unknown}"
    else:
        llm_line = f"answer mode: {llm['answer_mode']} (no LLM involved)"
    print(f"\n{llm_line}\n")
    print(results_table(report["results"]))
    for target, summary in report["results"].items():
        if "answer_modes" in summary:
            print(f"{target} replies by answer mode: {summary['answer_modes']}")
    print("\ntargets")
    print(checks_text(report["checks"]) or "(none apply to these targets and this answer mode)")
    if llm["answer_mode"] == "llm" and "stream" in report["results"]:
        print("note: streamed replies do not say whether an answer fell back to extractive; the ask target does")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; --seconds bounds every run, also one with --requests (then at most 300 s by default)."""
    parser = argparse.ArgumentParser(description="Load benchmark of the running service (loopback only by default).")
    parser.add_argument("--url", default=DEFAULT_URL, help="service base URL (default: %(default)s)")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS), help="what to load")
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, help=f"duration per target (default: {DEFAULT_SECONDS:g})")
    parser.add_argument("--requests", type=int, help="requests per target instead of a duration")
    parser.add_argument("--top-k", type=int, default=5, help="top_k for search and ask (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--questions", default=DEFAULT_QUESTIONS, help="eval set; relative paths from the repo root")
    parser.add_argument("--standin-label", help="say the service's LLM is a stand-in, e.g. 'ttft 0.5 s, 50 tok/s'")
    parser.add_argument("--out", default="bench-results.json", help="JSON results file (default: %(default)s)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --url")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or (args.requests is not None and args.requests < 1):
        parser.error("--concurrency and --requests must be at least 1")
    if args.seconds is None:
        args.seconds = MAX_SECONDS_WITH_REQUEST_COUNT if args.requests else DEFAULT_SECONDS
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print it and write the JSON."""
    args = parse_args(argv)
    require_loopback(args.url, args.allow_remote)
    questions = [item["question"] for item in load_questions(args.questions)]
    report = asyncio.run(benchmark(args, questions))
    print_report(report)
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
