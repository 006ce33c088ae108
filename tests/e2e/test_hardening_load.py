"""Hardening, round two (issue #12, row 8): an LLM that sends no token, under load, stalls nobody.

The LLM stand-in (scripts/llm_standin.py, not a real LLM) waits 30 s before its first token; the service's
deadline is 5 s. 50 parallel /ask/stream requests must each end within the deadline + 1 s with the extractive
answer, /health must answer fast meanwhile, and once the deadline has passed no request to the LLM (and no
thread serving one) may be left: before the fix, every answer held a worker thread and a thread of its own
blocked in a synchronous HTTP call for the client's whole timeout (20 s, and a retry).
"""

import asyncio
import json
import os
import re
import time

import httpx
import pytest
from hardening_support import service_on_copy, tiny_corpus
from service_process import free_port, running_standin

pytestmark = pytest.mark.e2e

DEADLINE = 5  # PRESSQA_ANSWER_TIMEOUT of the service under test
STREAMS = 50
API_KEY = "sk-" + "test-load-0123456789abcdef"
QUESTION = {"query": "At which ports is Deutsche Telekom building 5G campus networks for EUROGATE?"}


@pytest.fixture(scope="module")
def silent_llm_service(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("silent-llm")
    port = free_port()
    with running_standin("--ttft", "30", "--tokens-per-second", "200", "--tokens", "40", port=port):
        service = service_on_copy(
            data_dir,
            corpus=tiny_corpus(data_dir / "corpus"),
            OPENAI_API_KEY=API_KEY,
            OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
            PRESSQA_LLM_MODEL="llm-standin",
            PRESSQA_ANSWER_TIMEOUT=str(DEADLINE),
            # every stream admitted: this is about the deadline under load, not about the admission limit (which
            # would refuse most of 50 at once: tests/service/test_hardening_round3.py)
            PRESSQA_MAX_ACTIVE_REQUESTS=str(STREAMS + 10),
            PRESSQA_MAX_STREAMS=str(STREAMS + 10),
        ).start(timeout=300)
        try:
            yield service, port
        finally:
            service.stop()


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def connections_to(pid: int, port: int) -> int:
    """Open TCP connections of process `pid` to 127.0.0.1:`port` (its sockets, matched in /proc/net/tcp)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if found := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(found.group(1))
    count = 0
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


async def stream_answer(client: httpx.AsyncClient) -> tuple[float, dict]:
    started = time.perf_counter()
    done: dict = {}
    async with client.stream("POST", "/ask/stream", json=QUESTION) as reply:
        assert reply.status_code == 200
        event = None
        async for line in reply.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "done":
                done = json.loads(line[6:])
    return time.perf_counter() - started, done


async def poll_health(client: httpx.AsyncClient, until: asyncio.Event) -> list[float]:
    latencies = []
    while not until.is_set():
        started = time.perf_counter()
        assert (await client.get("/health")).status_code == 200
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.2)
    return latencies


async def load(url: str) -> tuple[list[tuple[float, dict]], list[float]]:
    limits = httpx.Limits(max_connections=STREAMS + 10, max_keepalive_connections=STREAMS + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client, \
            httpx.AsyncClient(base_url=url, timeout=120) as health_client:
        finished = asyncio.Event()
        health = asyncio.create_task(poll_health(health_client, finished))
        answers = await asyncio.gather(*(stream_answer(client) for _ in range(STREAMS)))
        finished.set()
        return answers, await health


def test_a_silent_llm_under_load_stalls_nobody(silent_llm_service):
    service, llm_port = silent_llm_service
    pid = service.process.pid
    # warm up: one answer through the LLM path, and the worker threads a burst of searches starts
    httpx.post(f"{service.url}/ask/run", json=QUESTION, timeout=60)
    asyncio.run(burst_of_searches(service.url))
    threads_before = thread_count(pid)

    started = time.perf_counter()
    answers, health = asyncio.run(load(service.url))
    wall = time.perf_counter() - started
    time.sleep(1.0)
    threads_after, llm_connections = thread_count(pid), connections_to(pid, llm_port)

    slowest = max(seconds for seconds, _ in answers)
    print(f"{STREAMS} streams in {wall:.1f} s; slowest {slowest:.2f} s; /health slowest {max(health):.2f} s "
          f"over {len(health)} calls; threads {threads_before} -> {threads_after}; LLM connections left {llm_connections}")
    assert all(done.get("mode") == "extractive" and "did not answer within" in done.get("warning", "") for _, done in answers)
    assert all("Hamburg" in done["answer"] for _, done in answers)
    assert slowest <= DEADLINE + 1, f"the slowest answer took {slowest:.2f} s (deadline {DEADLINE} s)"
    # main: 4.8 s (queued for a worker thread behind the answers); now only CPU contention on a shared
    # 2-core machine delays it (0.37 s and 1.08 s in two runs at load average ~12)
    assert max(health) < 2.0, f"/health took up to {max(health):.2f} s under load"
    assert llm_connections == 0, f"{llm_connections} requests to the LLM still open after the deadline"
    assert threads_after <= threads_before + 8, f"threads {threads_before} -> {threads_after}"


async def burst_of_searches(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(client.post("/search/run", json={"query": f"5G campus {n}"}) for n in range(STREAMS)))
