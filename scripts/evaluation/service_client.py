"""How the service's replies are obtained: `POST /search/run` and `POST /ask/run`, one request at a time.

    with httpx.Client(base_url="http://127.0.0.1:1416", timeout=60) as client:
        [run] = run_service(client, [{"question": "Where does EUROGATE get 5G campus networks?"}], ask_top_k=5)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx
from tqdm import tqdm

from scripts.measure_common import service_readiness

from .metrics import Gold, chunk_from_service, score

SEARCH_TOP_K = 10


def call_service(
    client: httpx.Client, endpoint: str, payload: dict[str, Any]
) -> tuple[dict[str, Any], float, str | None]:
    """`POST /{endpoint}/run`: its result (empty on failure), the latency in ms, and the error if any."""
    started = time.perf_counter()
    try:
        response = client.post(f"/{endpoint}/run", json=payload)
        response.raise_for_status()
        result, error = response.json()["result"], None
    except httpx.HTTPStatusError as status_error:
        result, error = {}, f"{endpoint}: HTTP {status_error.response.status_code}"
    except (httpx.HTTPError, ValueError, KeyError) as other_error:
        result, error = {}, f"{endpoint}: {type(other_error).__name__}"
    return result, (time.perf_counter() - started) * 1000, error


def run_service(client: httpx.Client, items: list[dict[str, Any]], ask_top_k: int) -> list[dict[str, Any]]:
    """Search and ask the service once per question, one request at a time; replies and latencies."""
    runs = []
    for item in tqdm(items, desc="service", unit="q"):
        search, search_ms, search_error = call_service(
            client, "search", {"query": item["question"], "top_k": SEARCH_TOP_K}
        )
        ask, ask_ms, ask_error = call_service(client, "ask", {"query": item["question"], "top_k": ask_top_k})
        runs.append(
            {
                "search_documents": search.get("documents", []),
                "search_ms": search_ms,
                "search_timings_ms": search.get("timings_ms") or {},
                "answer": ask.get("answer") or "",
                "mode": ask.get("mode"),
                "warning": ask.get("warning"),
                "ask_documents": ask.get("documents", []),
                "ask_ms": ask_ms,
                "ask_timings_ms": ask.get("timings_ms") or {},
                "prompt_tokens": (ask.get("usage") or {}).get("prompt_tokens"),
                "interpreted_filters": ask.get("interpreted_filters") or search.get("interpreted_filters") or {},
                "unsupported_citations": ask.get("unsupported_citations"),
                "errors": [error for error in (search_error, ask_error) if error],
            }
        )
    return runs


def evaluate_service(args: argparse.Namespace, items: list[dict[str, Any]], golds: list[Gold]) -> dict[str, Any]:
    """Health, replies, per-question scores and wall time of the running service."""
    with httpx.Client(base_url=args.url, timeout=args.timeout) as client:
        health = service_readiness(args.url)
        print(f"service {args.url}: answer_mode={health.get('answer_mode')}, documents={health.get('documents')}")
        started = time.perf_counter()
        runs = run_service(client, items, args.ask_top_k)
        seconds = time.perf_counter() - started
    scores = score(
        [[chunk_from_service(document) for document in run["search_documents"]] for run in runs],
        [(run["answer"], [chunk_from_service(document) for document in run["ask_documents"]]) for run in runs],
        golds,
        with_citations=True,
    )
    for metrics, run in zip(scores, runs, strict=True):
        metrics["prompt_tokens"] = run["prompt_tokens"]
        if run["unsupported_citations"] is not None and run["mode"] == "llm":
            metrics["unsupported_citations"] = float(len(run["unsupported_citations"]))
    return {"health": health, "runs": runs, "scores": scores, "seconds": seconds}
