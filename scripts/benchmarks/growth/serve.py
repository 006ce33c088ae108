"""One service of the growth benchmark, measured from outside: start to first answer, memory per process,
search and extractive-ask latency for one client and for 10 concurrent clients (no question repeated in a
run), and the dev set's retrieval (passage@5 from the real release).

The service is `pressqa-serve` in its own process with the environment the caller gives (store, data folder,
`PRESSQA_WORKERS`), start-up indexing off: only serving is measured.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
from tqdm import tqdm

from scripts.benchmarks import bench
from scripts.evaluation.metrics import Gold, chunk_from_service, holds_passage, retrieval_metrics
from scripts.measure_common import REPO_ROOT, free_port, percentile


class Service:
    """`pressqa-serve` started with `env`; `stop()` ends it (and its workers)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "HAYHOOKS_HOST": "127.0.0.1", "HAYHOOKS_PORT": str(self.port),
                    "PRESSQA_INDEX_AT_START": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self.env.pop("OPENAI_API_KEY", None)  # extractive answers: the figures are the service's, not an LLM's
        self.log = log
        self.process: subprocess.Popen | None = None
        self.workers: set[str] = set()

    def start(self, timeout: float = 600) -> float:
        """Start, wait for the first answered search and for every worker; seconds to the first answer."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-c", "from service.app import main; main()"], cwd=REPO_ROOT,
                                        env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"no answer within {timeout} s; see {self.log}")
            try:
                reply = httpx.post(f"{self.url}/search/run", json={"query": "5G campus network ports", "top_k": 3}, timeout=10)
                if reply.status_code == 200 and reply.json()["result"]["documents"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        first_answer = time.monotonic() - started
        workers = int(self.env.get("PRESSQA_WORKERS", "1"))
        while len(self.workers) < workers and time.monotonic() - started < timeout:
            self.workers.add(httpx.get(f"{self.url}/ready", timeout=30).json()["worker"])  # an opaque id per worker
        return first_answer

    def memory_mib(self) -> dict[str, Any]:
        """Resident memory (MiB) of each worker and of all the service's processes. /ready names no pid: the
        workers are the largest processes of the service's tree (each holds the models and the index; the
        supervisor and multiprocessing's helpers hold neither)."""
        assert self.process is not None
        root = psutil.Process(self.process.pid)
        rss = sorted((p.memory_info().rss / 2**20 for p in [root, *root.children(recursive=True)]), reverse=True)
        workers = int(self.env.get("PRESSQA_WORKERS", "1"))
        return {"per_worker": [round(m, 1) for m in rss[:workers]], "all_processes": round(sum(rss), 1)}

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def sequential(url: str, target: str, questions: Iterator[str], count: int) -> dict[str, Any]:
    """One client: `count` requests one after the other; p50/p95 ms and the service's own stage timings."""
    latencies, errors, stages = [], 0, {}
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in tqdm(range(count), desc=f"{target}, 1 client", unit="req", leave=False):
            started = time.perf_counter()
            reply = client.post(f"/{target}/run", json={"query": next(questions), "top_k": 5})
            elapsed = (time.perf_counter() - started) * 1000
            if reply.status_code != 200:
                errors += 1
                continue
            latencies.append(elapsed)
            for stage, ms in (reply.json()["result"].get("timings_ms") or {}).items():
                stages.setdefault(stage, []).append(ms)
    return {"requests": count, "errors": errors, "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "stages_p50_ms": {stage: round(percentile(values, 50), 2) for stage, values in sorted(stages.items())}}


def concurrent(url: str, target: str, questions: Iterator[str], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` concurrent clients in a closed loop for `seconds` (scripts/bench.py's loop)."""

    async def run() -> dict[str, Any]:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            with tqdm(desc=f"{target}, {clients} clients", unit="req", leave=False) as progress:
                samples, elapsed = await bench.run_target(client, bench.requester(target, 5), questions, clients, seconds, None, progress)
        summary = bench.summarise(samples, elapsed, streaming=False)
        return {"requests": summary["requests"], "errors": sum(summary["errors"].values()), "throughput_rps": summary["throughput_rps"],
                "p50_ms": summary["latency_p50_ms"], "p95_ms": summary["latency_p95_ms"]}

    return asyncio.run(run())


def dev_set(url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """passage@5 of the answerable dev questions through /search/run (top 5): as scripts/evaluate.py counts it
    (a chunk holding most of a gold quote) and from the real release only (that chunk must also be of a gold
    release: a rewritten copy repeats much of its original's wording)."""
    answerable = [item for item in items if item.get("gold_quotes")]
    per_question = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for item in answerable:
            documents = client.post("/search/run", json={"query": item["question"], "top_k": 5}).raise_for_status().json()["result"]["documents"]
            chunks = [chunk_from_service(d) for d in documents]
            gold = Gold.from_item(item)
            real = any(holds_passage(c, gold) and c.file in gold.files for c in chunks[:5])
            per_question.append({"id": item["id"], "passage@5": retrieval_metrics(chunks, gold)["passage@5"],
                                 "real_passage@5": float(real), "files": [c.file for c in chunks]})
    n = len(per_question)
    return {"questions": n, "passage@5": sum(q["passage@5"] for q in per_question) / n,
            "real_passage@5": sum(q["real_passage@5"] for q in per_question) / n,
            "real_found": int(sum(q["real_passage@5"] for q in per_question)), "per_question": per_question}


def measure(env: dict[str, str], log: Path, dev_items: list[dict[str, Any]], seconds: float, clients: int,
            single_requests: int) -> dict[str, Any]:
    """Everything this module measures, for one service."""
    service = Service(env, log)
    try:
        first_answer = service.start()
        memory_started = service.memory_mib()
        questions = bench.question_variants([item["question"] for item in dev_items])
        result: dict[str, Any] = {"start_to_first_answer_s": round(first_answer, 1), "memory_after_start_mib": memory_started,
                                  "chunks": httpx.get(f"{service.url}/ready", timeout=60).json()["documents"]}
        result["dev_set"] = dev_set(service.url, dev_items)
        for target in ("search", "ask"):
            sequential(service.url, target, questions, 3)  # warm-up (not timed; new questions too)
            result[f"{target}_1_client"] = sequential(service.url, target, questions, single_requests)
            result[f"{target}_{clients}_clients"] = concurrent(service.url, target, questions, clients, seconds)
        result["memory_after_load_mib"] = service.memory_mib()
        return result
    finally:
        service.stop()
