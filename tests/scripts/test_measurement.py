"""The measurement tools in scripts/: evaluation metrics, the naive baseline, bench statistics, the LLM stand-in.

The end-to-end tests (marked e2e) run evaluate.py and bench.py against the session's service (`service_url`,
tests/conftest.py: extractive mode), then against a second service in LLM mode on a copy of its index that
answers through the LLM stand-in.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_process import ServiceProcess, running_standin
from starlette.testclient import TestClient

from scripts import measure_common
from scripts.benchmarks import bench, llm_standin
from scripts.evaluation.baseline import BASELINE_ANSWER_CHARS, DEFAULT_EMBEDDING_MODEL, build_baseline, run_baseline
from scripts.evaluation.metrics import (
    Chunk, Gold, aggregate, answer_metrics, citations, file_rank_metrics, holds_passage, is_refusal, is_relevant,
    key_fact_share, normalise, quote_coverage, retrieval_metrics,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

QUOTE = "At the ports in Hamburg, Bremerhaven and Wilhelmshaven, the 5G solution will improve coverage."
GOLD = Gold.from_item(
    {"gold_files": ["data/103.txt", "data/51.txt"], "gold_quotes": [QUOTE], "key_facts": ["Hamburg", "2,000 km"]}
)
UNANSWERABLE = Gold.from_item({"gold_files": [], "gold_quotes": [], "key_facts": []})
SOURCES_PROMPT = (
    "Sources:\n"
    "[1] EUROGATE (103.txt; dates mentioned: 2023-05)\n"
    "EUROGATE has commissioned Deutsche Telekom. The ports are Hamburg, Bremerhaven and Wilhelmshaven.\n\n"
    "[2] Quantum (99.txt)\n"
    "Deutsche Telekom has opened a Quantum Lab in Berlin. It is connected to over 2,000 km of fiber.\n\n"
    "Question: Where are the 5G campus networks?"
)


def chunk(file: str, text: str) -> "Chunk":
    return Chunk(file, normalise(text))


# ---------------------------------------------------------------------------- evaluation metrics


def test_normalise_unifies_spaces_hyphens_quotes_and_case():
    assert normalise("  Over\u00a02,000\u202fkm  of  Glas\u00adfaser \u201cCampus\u201d \u2013 OK ") == (
        'over 2,000 km of glasfaser "campus" - ok'
    )


def test_relevant_by_gold_file_or_quote():
    assert is_relevant(chunk("103.txt", "anything"), GOLD)
    assert is_relevant(chunk("7.txt", "Intro. " + QUOTE + " More."), GOLD)
    assert is_relevant(chunk("7.txt", "Bremerhaven and Wilhelmshaven, the 5G solution"), GOLD)
    assert not is_relevant(chunk("7.txt", "Hamburg"), GOLD)  # too short to count as contained
    assert not is_relevant(chunk("7.txt", "Unrelated text about roaming tariffs in Europe."), GOLD)


def test_passage_needs_half_of_the_quote_in_one_chunk():
    quote = normalise(QUOTE)
    head = quote[: int(len(quote) * 0.6)]
    assert quote_coverage("prefix " + quote + " suffix", quote) == 1.0
    assert holds_passage(Chunk("7.txt", "end of a chunk: " + head), GOLD)
    assert not holds_passage(Chunk("103.txt", "end of a chunk: " + quote[:30]), GOLD)


def test_retrieval_metrics_by_rank():
    ranking = [chunk("1.txt", "noise one"), chunk("2.txt", "noise two"), chunk("103.txt", "the right release")]
    metrics = retrieval_metrics(ranking, GOLD)
    assert metrics["hit@1"] == 0.0 and metrics["hit@3"] == 1.0 and metrics["hit@10"] == 1.0
    assert metrics["file@1"] == 0.0 and metrics["passage@5"] == 0.0


def test_mrr_and_file_coverage_with_haystack_evaluators():
    rankings = [
        [chunk("1.txt", "a"), chunk("103.txt", "b"), chunk("103.txt", "c")],
        [chunk("51.txt", "a"), chunk("103.txt", "b")],
        [chunk("1.txt", "a")],
    ]
    scores = file_rank_metrics(rankings, [GOLD, GOLD, GOLD])
    assert [s["MRR"] for s in scores] == [0.5, 1.0, 0.0]
    assert [s["files@10"] for s in scores] == [0.5, 1.0, 0.0]


def test_citations_parsed_in_all_bracket_forms():
    assert citations("A [1]. B [2, 3][4]; C [5;6]. No [x] or 1.") == [1, 2, 3, 4, 5, 6]


def test_key_facts_case_and_space_insensitive():
    assert key_fact_share("in HAMBURG, over 2,000\u00a0km", GOLD.key_facts) == 1.0
    assert key_fact_share("in Bremen", GOLD.key_facts) == 0.0
    assert key_fact_share("anything", ()) is None


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        ("The press releases do not contain information about the auction price.", True),
        ("I couldn\u2019t find that in the sources.", True),
        ("No information on this is available.", True),
        ("Telekom builds 5G campus networks in Hamburg [1].", False),
    ],
)
def test_refusal_detection(answer, refused):
    assert is_refusal(answer) is refused


def test_answer_metrics_for_answerable_and_unanswerable():
    documents = [chunk("103.txt", "ports"), chunk("9.txt", "other")]
    good = answer_metrics("Hamburg [1] and 2,000 km [2].", documents, GOLD, with_citations=True)
    assert good == {
        "key_facts": 1.0,
        "refusal": None,
        "wrong_refusal": 0.0,
        "cited": 1.0,
        "citations_valid": 1.0,
        "citations_relevant": 0.5,
        "answer_words": 5.0,
    }
    out_of_range = answer_metrics("Hamburg [3].", documents, GOLD, with_citations=True)
    assert out_of_range["citations_valid"] == 0.0 and out_of_range["citations_relevant"] == 0.0
    refusal = answer_metrics("The sources do not contain this.", documents, UNANSWERABLE, with_citations=True)
    assert refusal["refusal"] == 1.0 and refusal["key_facts"] is None and refusal["citations_valid"] is None


def test_aggregate_skips_missing_values():
    summary = aggregate([{"hit@1": 1.0, "refusal": None}, {"hit@1": 0.0}, {"refusal": 1.0}])
    assert summary["hit@1"] == 0.5 and summary["refusal"] == 1.0 and summary["MRR"] is None


def test_naive_baseline_pipelines_chunk_and_retrieve(tmp_path):
    (tmp_path / "ports.txt").write_text("EUROGATE 5G campus networks at the ports of Hamburg. " * 40)
    (tmp_path / "tariffs.txt").write_text("A new roaming tariff for travellers in Europe costs 5 euros a day.")
    query, stats = build_baseline(tmp_path, DEFAULT_EMBEDDING_MODEL)
    assert stats["files"] == 2 and stats["chunks"] == 4  # 2,120 characters in 3 cuts of at most 1,000, plus 1
    [run] = run_baseline(query, [{"question": "Where does EUROGATE get 5G campus networks?"}])
    assert len(run["documents"]) == 4
    assert run["documents"][0].meta["file_path"] == "ports.txt"
    assert max(len(document.content) for document in run["documents"]) == 1000
    assert run["answer"] == run["documents"][0].content[: BASELINE_ANSWER_CHARS]


# ---------------------------------------------------------------------------- shared helpers and bench


def test_percentile_interpolates():
    assert measure_common.percentile([], 50) is None
    assert measure_common.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert measure_common.percentile([0.0, 10.0], 95) == pytest.approx(9.5)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:1416", True),
        ("http://127.0.0.5:80", True),
        ("http://[::1]:1416", True),
        ("http://10.0.0.1:1416", False),
        ("https://example.com", False),
    ],
)
def test_loopback_guard(url, loopback):
    assert measure_common.is_loopback_url(url) is loopback
    if not loopback:
        with pytest.raises(SystemExit):
            measure_common.require_loopback(url, allow_remote=False)
        measure_common.require_loopback(url, allow_remote=True)


def test_bench_summary_and_checks():
    samples = [bench.Sample(0.1 * n) for n in range(1, 11)] + [bench.Sample(0.5, error="HTTP 500")]
    summary = bench.summarise(samples, elapsed=2.0, streaming=False)
    assert summary["requests"] == 11 and summary["ok"] == 10 and summary["errors"] == {"HTTP 500": 1}
    assert summary["throughput_rps"] == 5.0 and summary["latency_max_ms"] == pytest.approx(1000)
    checks = bench.check_results({"ask": summary}, answer_mode="llm")
    assert [(c["check"], c["result"]) for c in checks] == [("latency_p95_ms <= 3800", "MISS")]  # met, but errors
    assert bench.check_results({"ask": summary | {"errors": {}}}, answer_mode="llm")[0]["result"] == "PASS"
    assert bench.check_results({"ask": summary | {"errors": {}}}, answer_mode="extractive")[0]["result"] == "MISS"


# ---------------------------------------------------------------------------- the LLM stand-in


@pytest.fixture(scope="module")
def standin_url() -> Iterator[str]:
    """A quick stand-in: 0.3 s to first token, 100 tokens/s, 40 tokens; the timeout fault sleeps 5 s."""
    options = ("--ttft", "0.3", "--tokens-per-second", "100", "--tokens", "40", "--fault-sleep", "5")
    with running_standin(*options) as url:
        yield url


def chat_body(stream: bool) -> dict:
    body = {"model": "any", "stream": stream, "messages": [{"role": "user", "content": SOURCES_PROMPT}]}
    return body | ({"stream_options": {"include_usage": True}} if stream else {})


def read_stream(url: str, headers: dict | None = None) -> tuple[list[dict], bool, float | None, float]:
    """Chunks, whether [DONE] came, seconds to the first content and in total."""
    chunks, done, first = [], False, None
    started = time.perf_counter()
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=chat_body(True), headers=headers, timeout=10) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                chunks.append(json.loads(line[6:]))
                if first is None and chunks[-1]["choices"] and chunks[-1]["choices"][0]["delta"].get("content"):
                    first = time.perf_counter() - started
    return chunks, done, first, time.perf_counter() - started


def test_standin_labels_itself(standin_url):
    response = httpx.get(f"{standin_url}/v1/models")
    assert "llm-standin" in response.headers["server"]
    assert [model["id"] for model in response.json()["data"]] == ["llm-standin"]


def test_standin_streams_cited_answer_on_schedule(standin_url):
    chunks, done, first_token, total = read_stream(standin_url)
    assert done
    assert 0.25 <= first_token <= 1.0  # --ttft 0.3
    assert 0.6 <= total <= 2.0  # 0.3 s + 34 tokens (all the sources give) at 100/s
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert citations(text)[:2] == [1, 2]
    assert text.startswith("EUROGATE has commissioned Deutsche Telekom. [1] Deutsche Telekom has opened")
    assert {c["model"] for c in chunks} == {"llm-standin"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == len(text.split())


def test_standin_non_streaming_reply_has_usage(standin_url):
    reply = httpx.post(f"{standin_url}/v1/chat/completions", json=chat_body(False), timeout=10).json()
    assert reply["model"] == "llm-standin"
    assert reply["choices"][0]["message"]["content"].startswith("EUROGATE has commissioned")
    usage = reply["usage"]
    assert usage["completion_tokens"] == len(reply["choices"][0]["message"]["content"].split()) <= 40
    assert usage["prompt_tokens"] > 40 and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_standin_serves_fifty_concurrent_streams(standin_url):
    async def one(client: httpx.AsyncClient) -> bool:
        async with client.stream("POST", "/v1/chat/completions", json=chat_body(True)) as response:
            return [line async for line in response.aiter_lines() if line][-1] == "data: [DONE]"

    async def all_of_them() -> list[bool]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=standin_url, timeout=10, limits=limits) as client:
            return await asyncio.gather(*(one(client) for _ in range(50)))

    started = time.perf_counter()
    assert all(asyncio.run(all_of_them()))
    assert time.perf_counter() - started < 3.0  # one stream takes 0.7 s


@pytest.mark.parametrize(("fault", "status"), [("401", 401), ("429", 429), ("500", 500), ("malformed", 200)])
def test_standin_fault_header(standin_url, fault, status):
    response = httpx.post(
        f"{standin_url}/v1/chat/completions", json=chat_body(False), headers={"X-Standin-Fault": fault}, timeout=10
    )
    assert response.status_code == status
    if fault == "malformed":
        with pytest.raises(json.JSONDecodeError):
            response.json()
    else:
        assert "llm-standin" in response.json()["error"]["message"]


def test_standin_malformed_stream(standin_url):
    response = httpx.post(
        f"{standin_url}/v1/chat/completions", json=chat_body(True), headers={"X-Standin-Fault": "malformed"}, timeout=10
    )
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line]
    assert response.status_code == 200 and "choices" not in json.loads(events[0]) and events[-1] == "[DONE]"
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[1])


def test_standin_timeout_fault_outlasts_client_timeout(standin_url):
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{standin_url}/v1/chat/completions",
            json=chat_body(False),
            headers={"X-Standin-Fault": "timeout"},
            timeout=1.0,
        )


def test_standin_fault_flag_applies_to_every_request():
    app = llm_standin.create_app(llm_standin.StandinConfig(ttft=0, fault="429"))
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(False))
    assert response.status_code == 429 and response.headers["retry-after"] == "1"


# ---------------------------------------------------------------------------- end to end


def run_script(name: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, str(SCRIPTS / name), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment, cwd=cwd, check=False)


@pytest.mark.e2e
def test_evaluate_and_bench_against_the_service(service_url, tmp_path):
    """evaluate.py (without the slow full-corpus baseline, tested above) and bench.py run and report."""
    evaluation = run_script(
        "evaluate.py", "--url", service_url, "--limit", "3", "--no-baseline", "--out", "eval.json", cwd=tmp_path
    )
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["meta"]["n"] == 3 * len(measure_common.DEFAULT_QUESTION_SETS) and report["errors"] == {}  # --limit is per set
    assert report["overall"]["ours"]["hit@10"] is not None
    assert "hit@1" in evaluation.stdout and "timings (ms)" in evaluation.stdout

    load = run_script(
        "bench.py", "--url", service_url, "--seconds", "3", "--concurrency", "2", "--out", "bench.json", cwd=tmp_path
    )
    assert load.returncode == 0, load.stdout + load.stderr
    results = json.loads((tmp_path / "bench.json").read_text())
    for target in ("search", "ask", "stream"):
        assert results["results"][target]["ok"] > 0 and results["results"][target]["errors"] == {}, target
    assert results["results"]["stream"]["ttft_p50_ms"] is not None
    assert results["checks"] and {c["result"] for c in results["checks"]} <= {"PASS", "MISS"}
    asked = results["meta"]["questions"]  # no question twice in the run, warm-ups included
    assert asked["sent"] >= sum(results["results"][t]["requests"] for t in ("search", "ask", "stream"))
    assert asked["distinct"] == asked["sent"] and "none repeated" in load.stdout


@pytest.fixture(scope="module")
def standin_service_url(indexed_service, tmp_path_factory) -> Iterator[str]:
    """A second service in LLM mode on a copy of the session's index, answering through the stand-in
    with its default profile (0.5 s to first token, 50 tokens/s, 150 tokens)."""
    data_dir = tmp_path_factory.mktemp("standin-service")
    shutil.copytree(indexed_service.data_dir, data_dir, dirs_exist_ok=True)
    with running_standin() as standin:
        llm_settings = {
            "OPENAI_API_KEY": "stand-in",
            "OPENAI_BASE_URL": f"{standin}/v1",
            "PRESSQA_LLM_MODEL": "llm-standin",
        }
        service = ServiceProcess(data_dir, corpus=None, **llm_settings).start(timeout=300)
        try:
            yield service.url
        finally:
            service.stop()


@pytest.mark.e2e
def test_evaluate_and_bench_through_the_llm_standin(standin_service_url, tmp_path):
    """In LLM mode the tools see cited LLM answers and check the LLM targets, naming the stand-in."""
    evaluation = run_script(
        "evaluate.py", "--url", standin_service_url, "--limit", "3", "--no-baseline", "--out", "eval.json", cwd=tmp_path
    )
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["meta"]["answer_modes"] == {"llm": 3 * len(measure_common.DEFAULT_QUESTION_SETS)}
    assert report["overall"]["ours"]["cited"] == 1.0 and report["overall"]["ours"]["citations_valid"] == 1.0

    load = run_script(
        "bench.py",
        "--url",
        standin_service_url,
        "--targets",
        "ask",
        "stream",
        "--seconds",
        "3",
        "--concurrency",
        "2",
        "--standin-label",
        "default profile",
        "--out",
        "bench.json",
        cwd=tmp_path,
    )
    assert load.returncode == 0, load.stdout + load.stderr
    assert "LLM STAND-IN" in load.stdout
    results = json.loads((tmp_path / "bench.json").read_text())
    assert results["meta"]["llm"]["standin"] and results["results"]["ask"]["answer_modes"].keys() == {"llm"}
    assert results["results"]["stream"]["ttft_p50_ms"] >= 500  # the stand-in's time to first token shows through
    checked = {(c["target"], c["check"]) for c in results["checks"]}
    assert checked == {
        ("ask", "latency_p95_ms <= 3800"),
        ("stream", "latency_p95_ms <= 3800"),
        ("stream", "ttft_p95_ms <= 700"),
    }
