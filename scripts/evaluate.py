"""Quality evaluation of the running service through its REST API, with a naive baseline side by side.

For each question of an eval set (see ../shared/eval/README.md) it calls `POST /search/run` (top_k=10)
and `POST /ask/run`, and scores:

- hit@k: one of the first k chunks is relevant: its release (`meta.file_path`'s basename) is a gold
  file, or its text contains a gold quote or is contained in one (such a chunk must have at least
  MIN_CONTAINED_CHUNK_CHARS characters).
- passage@k: one of the first k chunks holds a gold quote: their longest common substring covers at
  least PASSAGE_MIN_COVERAGE of the quote (so a quote cut by a chunk boundary still counts when most
  of it is in one chunk).
- file@1: the first chunk is from a gold release. MRR: 1/rank of the first chunk from a gold release,
  and files@10: the share of gold releases among the first 10 chunks (coverage, what multi_doc
  questions need); both computed by file with Haystack's DocumentMRREvaluator and
  DocumentRecallEvaluator (multi-hit) on `meta.file_path`, since they compare Documents by one field.
- answers: key_facts = share of key facts found in the answer; cited = the answer has a citation
  [n]; citations_valid = every [n] lies in 1..len(documents); citations_relevant = share of the
  citations that point to a relevant document (an out-of-range one counts as not relevant);
  refusal = the answer to an unanswerable question refuses (one of REFUSAL_PHRASES); wrong_refusal
  = an answerable question was refused; prompt_tokens when the reply carries `usage`.
All text comparisons are case-insensitive on normalised text (NFKC, so no-break spaces become spaces;
soft hyphens dropped; curly quotes and dashes made ASCII; whitespace collapsed).

The naive baseline (scripts/baseline/*.yml, built in this process over --corpus): raw text, fixed
1,000-character chunks (RecursiveDocumentSplitter in characters: Haystack 3.4's DocumentSplitter has no
split_by "character"), embedding retrieval only, top 4, the same embedding model. Its "answer" is the
top chunk cut to BASELINE_ANSWER_CHARS characters (naive extractive), scored for key facts only.
Retrieval metrics at depths beyond 4 are over its 4 chunks.

With `--compare previous.json` (the JSON of an earlier run, e.g. of the previous release), every table
shows now/previous/baseline, and a metric that lost more than one question's worth against the previous
run (the per-question values, matched by id, summed: a drop > 1.0) is flagged as a REGRESSION, per
question type and overall, naming the questions that got worse.

    python scripts/evaluate.py [--limit 5] [--no-baseline] [--out eval-results.json] [--compare previous.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path, PurePosixPath
from typing import Any

# The baseline's embedder loads from the local Hugging Face cache (scripts/install_model.py), never the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import httpx
import yaml
from haystack import Document, Pipeline
from haystack.components.evaluators import DocumentMRREvaluator, DocumentRecallEvaluator
from tqdm import tqdm

from measure_common import (
    DEFAULT_QUESTIONS,
    DEFAULT_URL,
    REPO_ROOT,
    load_questions,
    percentile,
    repo_path,
    require_loopback,
)

BASELINE_DIR = Path(__file__).resolve().parent / "baseline"
DEFAULT_CORPUS = "../shared/telekom-press-releases"
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SEARCH_TOP_K = 10
HIT_DEPTHS = (1, 3, 5, 10)
PASSAGE_DEPTHS = (1, 5)
PASSAGE_MIN_COVERAGE = 0.5
MIN_CONTAINED_CHUNK_CHARS = 30
BASELINE_ANSWER_CHARS = 600
REFUSAL_PHRASES = (
    "do not contain",
    "does not contain",
    "don't contain",
    "doesn't contain",
    "do not mention",
    "does not mention",
    "no information",
    "not found",
    "could not find",
    "couldn't find",
    "cannot find",
    "can't find",
    "cannot answer",
    "can't answer",
    "unable to answer",
    "not able to answer",
    "no relevant",
    "i don't know",
    "i do not know",
)
RETRIEVAL_METRICS = (*(f"hit@{k}" for k in HIT_DEPTHS), *(f"passage@{k}" for k in PASSAGE_DEPTHS), "file@1")
RANK_METRICS = ("MRR", "files@10")
ANSWER_METRICS = (
    "key_facts",
    "cited",
    "citations_valid",
    "citations_relevant",
    "refusal",
    "wrong_refusal",
    "answer_words",
    "unsupported_citations",
)
ALL_METRICS = (*RETRIEVAL_METRICS, *RANK_METRICS, *ANSWER_METRICS, "prompt_tokens")
TYPE_TABLE_METRICS = (
    "hit@1", "passage@1", "passage@5", "file@1", "MRR", "files@10", "key_facts", "refusal", "wrong_refusal"
)
# Higher is better for every metric but these; counts and lengths are not compared for regressions.
LOWER_IS_BETTER = {"wrong_refusal"}
NOT_COMPARED = {"answer_words", "prompt_tokens", "unsupported_citations"}
REGRESSION_QUESTIONS = 1.0

# curly single and double quotes, en and em dash -> ASCII
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)
_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def normalise(text: str) -> str:
    """Text for comparison: NFKC, no soft hyphens, ASCII quotes and dashes, single spaces, casefolded."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "").translate(_TYPOGRAPHY)
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Chunk:
    """A retrieved chunk as the metrics see it: its release's file name and its normalised text."""

    file: str
    text: str


@dataclass(frozen=True)
class Gold:
    """What a question's answer must come from and contain, normalised."""

    files: frozenset[str]
    quotes: tuple[str, ...]
    key_facts: tuple[str, ...]

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Gold:
        return cls(
            files=frozenset(PurePosixPath(path).name for path in item.get("gold_files", [])),
            quotes=tuple(normalise(quote) for quote in item.get("gold_quotes", [])),
            key_facts=tuple(normalise(fact) for fact in item.get("key_facts", [])),
        )

    @property
    def answerable(self) -> bool:
        return bool(self.files or self.quotes)


def chunk_from_service(document: dict[str, Any]) -> Chunk:
    """A chunk from the service's JSON document shape."""
    file_path = (document.get("meta") or {}).get("file_path") or ""
    return Chunk(PurePosixPath(file_path).name, normalise(document.get("content") or ""))


def chunk_from_haystack(document: Document) -> Chunk:
    """A chunk from a Haystack Document (the baseline's)."""
    return Chunk(PurePosixPath(document.meta.get("file_path") or "").name, normalise(document.content or ""))


def is_relevant(chunk: Chunk, gold: Gold) -> bool:
    """From a gold release, or containing / contained in a gold quote."""
    if chunk.file in gold.files:
        return True
    long_enough = len(chunk.text) >= MIN_CONTAINED_CHUNK_CHARS
    return any(quote in chunk.text or (long_enough and chunk.text in quote) for quote in gold.quotes)


def quote_coverage(chunk_text: str, quote: str) -> float:
    """Share of the quote covered by its longest common substring with the chunk (normalised texts)."""
    if not quote:
        return 0.0
    if quote in chunk_text:
        return 1.0
    matcher = SequenceMatcher(None, chunk_text, quote, autojunk=False)
    return matcher.find_longest_match(0, len(chunk_text), 0, len(quote)).size / len(quote)


def holds_passage(chunk: Chunk, gold: Gold) -> bool:
    """The chunk holds most of a gold quote (see PASSAGE_MIN_COVERAGE)."""
    return any(quote_coverage(chunk.text, quote) >= PASSAGE_MIN_COVERAGE for quote in gold.quotes)


def retrieval_metrics(chunks: list[Chunk], gold: Gold) -> dict[str, float]:
    """hit@k, passage@k and file@1 of a ranked chunk list for an answerable question."""
    relevant = [is_relevant(chunk, gold) for chunk in chunks]
    passages = [holds_passage(chunk, gold) for chunk in chunks[: max(PASSAGE_DEPTHS)]]
    metrics = {f"hit@{k}": float(any(relevant[:k])) for k in HIT_DEPTHS}
    metrics |= {f"passage@{k}": float(any(passages[:k])) for k in PASSAGE_DEPTHS}
    metrics["file@1"] = float(bool(chunks) and chunks[0].file in gold.files)
    return metrics


def file_rank_metrics(rankings: list[list[Chunk]], golds: list[Gold]) -> list[dict[str, float]]:
    """MRR and files@10 per question, by release file, with Haystack's evaluators."""
    if not rankings:
        return []
    truth = [[Document(meta={"file_path": file}) for file in sorted(gold.files)] for gold in golds]
    retrieved = [[Document(meta={"file_path": chunk.file}) for chunk in ranking] for ranking in rankings]
    top_ten = [documents[:10] for documents in retrieved]
    mrr = DocumentMRREvaluator(document_comparison_field="meta.file_path").run(truth, retrieved)
    recall = DocumentRecallEvaluator(mode="multi_hit", document_comparison_field="meta.file_path").run(truth, top_ten)
    return [
        {"MRR": reciprocal_rank, "files@10": coverage}
        for reciprocal_rank, coverage in zip(mrr["individual_scores"], recall["individual_scores"], strict=True)
    ]


def citations(answer: str) -> list[int]:
    """The numbers cited as [n], [n, m] or [n][m], in order."""
    return [int(number) for group in _CITATION.findall(answer) for number in re.split(r"\s*[,;]\s*", group)]


def key_fact_share(answer: str, key_facts: tuple[str, ...]) -> float | None:
    """Share of the (normalised) key facts found in the answer; None without key facts."""
    if not key_facts:
        return None
    text = normalise(answer)
    return sum(fact in text for fact in key_facts) / len(key_facts)


def is_refusal(answer: str) -> bool:
    """The answer says the sources do not hold the answer."""
    text = normalise(answer)
    return any(phrase in text for phrase in REFUSAL_PHRASES)


def answer_metrics(answer: str, documents: list[Chunk], gold: Gold, with_citations: bool) -> dict[str, float | None]:
    """Key facts, refusal and (for answers that cite) citation metrics of one answer."""
    refused = float(is_refusal(answer))
    metrics: dict[str, float | None] = {
        "key_facts": key_fact_share(answer, gold.key_facts) if gold.answerable else None,
        "refusal": None if gold.answerable else refused,
        "wrong_refusal": refused if gold.answerable else None,
        "answer_words": float(len(_CITATION.sub(" ", answer).split())) if gold.answerable and not refused else None,
    }
    if not with_citations:
        return metrics
    cited = citations(answer)
    in_range = [documents[number - 1] for number in cited if 1 <= number <= len(documents)]
    metrics["cited"] = float(bool(cited)) if gold.answerable else None
    metrics["citations_valid"] = float(len(in_range) == len(cited)) if cited else None
    if cited and gold.answerable:
        metrics["citations_relevant"] = sum(is_relevant(chunk, gold) for chunk in in_range) / len(cited)
    return metrics


def aggregate(per_question: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Mean of every metric over the questions that have it."""
    result: dict[str, float | None] = {}
    for name in ALL_METRICS:
        values = [metrics[name] for metrics in per_question if metrics.get(name) is not None]
        result[name] = sum(values) / len(values) if values else None
    return result


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


def load_baseline_pipeline(file_name: str, embedding_model: str) -> Pipeline:
    """A baseline pipeline from its YAML, with the embedders' model set to `embedding_model`."""
    definition = yaml.safe_load((BASELINE_DIR / file_name).read_text(encoding="utf-8"))
    for component in definition["components"].values():
        if "model" in component["init_parameters"]:
            component["init_parameters"]["model"] = embedding_model
    return Pipeline.from_dict(definition)


def build_baseline(corpus: Path, embedding_model: str) -> tuple[Pipeline, dict[str, Any]]:
    """Index the corpus with the baseline; its query pipeline and indexing stats."""
    files = sorted(corpus.glob("*.txt"))
    if not files:
        raise SystemExit(f"no .txt files in corpus folder {corpus}")
    started = time.perf_counter()
    indexing = load_baseline_pipeline("indexing.yml", embedding_model)
    written = indexing.run({"converter": {"sources": files}})["writer"]["documents_written"]
    stats = {"files": len(files), "chunks": written, "seconds": round(time.perf_counter() - started, 1)}
    return load_baseline_pipeline("query.yml", embedding_model), stats


def run_baseline(query_pipeline: Pipeline, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The baseline's top chunks and naive extractive answer per question."""
    runs = []
    for item in tqdm(items, desc="baseline", unit="q"):
        started = time.perf_counter()
        documents = query_pipeline.run({"text_embedder": {"text": item["question"]}})["retriever"]["documents"]
        runs.append(
            {
                "documents": documents,
                "query_ms": (time.perf_counter() - started) * 1000,
                "answer": (documents[0].content or "")[:BASELINE_ANSWER_CHARS] if documents else "",
            }
        )
    return runs


def score(
    rankings: list[list[Chunk]],
    answers: list[tuple[str, list[Chunk]]],
    golds: list[Gold],
    with_citations: bool,
) -> list[dict[str, float | None]]:
    """Per-question metrics of one system: its search rankings and its (answer, answer's documents)."""
    answerable = [index for index, gold in enumerate(golds) if gold.answerable]
    ranks = file_rank_metrics([rankings[i] for i in answerable], [golds[i] for i in answerable])
    rank_metrics = dict(zip(answerable, ranks, strict=True))
    scored = []
    for index, (gold, ranking, (answer, documents)) in enumerate(zip(golds, rankings, answers, strict=True)):
        metrics: dict[str, float | None] = {}
        if gold.answerable:
            metrics |= retrieval_metrics(ranking, gold) | rank_metrics[index]
        metrics |= answer_metrics(answer, documents, gold, with_citations)
        scored.append(metrics)
    return scored


def evaluate_service(args: argparse.Namespace, items: list[dict[str, Any]], golds: list[Gold]) -> dict[str, Any]:
    """Health, replies, per-question scores and wall time of the running service."""
    with httpx.Client(base_url=args.url, timeout=args.timeout) as client:
        try:
            health = client.get("/health").raise_for_status().json()
        except httpx.HTTPError as error:
            raise SystemExit(f"service not reachable at {args.url}/health: {error}") from error
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


def evaluate_baseline(args: argparse.Namespace, items: list[dict[str, Any]], golds: list[Gold]) -> dict[str, Any]:
    """Index, replies and per-question scores of the naive baseline."""
    query_pipeline, index_stats = build_baseline(repo_path(args.corpus), args.embedding_model)
    runs = run_baseline(query_pipeline, items)
    scores = score(
        [[chunk_from_haystack(document) for document in run["documents"]] for run in runs],
        [(run["answer"], []) for run in runs],
        golds,
        with_citations=False,
    )
    return {"index": index_stats, "runs": runs, "scores": scores}


def by_type(items: list[dict[str, Any]], ours: list[dict], baseline: list[dict] | None) -> dict[str, dict[str, Any]]:
    """Aggregates per question type."""
    summary = {}
    for question_type in sorted({item["type"] for item in items}):
        indices = [i for i, item in enumerate(items) if item["type"] == question_type]
        summary[question_type] = {
            "n": len(indices),
            "ours": aggregate([ours[i] for i in indices]),
            "baseline": aggregate([baseline[i] for i in indices]) if baseline else None,
        }
    return summary


def latency_summary(values: list[float]) -> dict[str, float | None]:
    """p50, p95, max and mean of latencies in ms."""
    mean = sum(values) / len(values) if values else None
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values, default=None),
        "mean": mean,
    }


def stage_means(timings: list[dict[str, Any]]) -> dict[str, float]:
    """Mean time of each stage the service reports in `timings_ms`."""
    by_stage: dict[str, list[float]] = defaultdict(list)
    for entry in timings:
        for stage, value in entry.items():
            if isinstance(value, int | float):
                by_stage[stage].append(value)
    return {stage: sum(values) / len(values) for stage, values in by_stage.items()}


def timings(service: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    """Client-side latencies, the service's stage times and the baseline's costs."""
    runs = service["runs"]
    return {
        "service_seconds": round(service["seconds"], 1),
        "search_ms": latency_summary([run["search_ms"] for run in runs]),
        "ask_ms": latency_summary([run["ask_ms"] for run in runs]),
        "search_stages_mean_ms": stage_means([run["search_timings_ms"] for run in runs]),
        "ask_stages_mean_ms": stage_means([run["ask_timings_ms"] for run in runs]),
        "baseline_index": baseline["index"] if baseline else None,
        "baseline_query_ms": latency_summary([run["query_ms"] for run in baseline["runs"]]) if baseline else None,
    }


def question_record(
    item: dict[str, Any],
    run: dict[str, Any],
    metrics: dict[str, Any],
    baseline_run: dict[str, Any] | None,
    baseline_metrics: dict[str, Any] | None,
) -> dict[str, Any]:
    """One question's replies and metrics for the JSON report."""
    record: dict[str, Any] = {
        "id": item["id"],
        "type": item["type"],
        "question": item["question"],
        "ours": {
            "retrieved_files": [(document.get("meta") or {}).get("file_path") for document in run["search_documents"]],
            "answer": run["answer"],
            "interpreted_filters": run["interpreted_filters"],
            "unsupported_citations": run["unsupported_citations"],
            "mode": run["mode"],
            "warning": run["warning"],
            "search_ms": round(run["search_ms"], 1),
            "ask_ms": round(run["ask_ms"], 1),
            "errors": run["errors"],
            "metrics": metrics,
        },
    }
    if baseline_run is not None:
        record["baseline"] = {
            "retrieved_files": [document.meta.get("file_path") for document in baseline_run["documents"]],
            "answer": baseline_run["answer"],
            "query_ms": round(baseline_run["query_ms"], 1),
            "metrics": baseline_metrics,
        }
    return record


def format_value(value: float | None) -> str:
    """A metric for the terminal: fractions to 3 places, counts whole, missing as '-'."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value <= 1 else f"{value:.0f}"


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = [
        "  ".join(
            [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        )
        for row in [header, *rows]
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def overall_table(
    ours: dict[str, float | None],
    baseline: dict[str, float | None] | None,
    previous: dict[str, float | None] | None = None,
) -> str:
    """Every metric, ours beside the previous run's and the baseline's."""
    header = ["metric", "ours"] + (["previous"] if previous else []) + (["naive baseline"] if baseline else [])
    rows = [
        [
            name,
            format_value(ours[name]),
            *([format_value(previous.get(name))] if previous else []),
            *([format_value(baseline.get(name))] if baseline else []),
        ]
        for name in ALL_METRICS
    ]
    return format_table(header, rows)


def type_table(summary: dict[str, dict[str, Any]], previous: dict[str, dict[str, Any]] | None = None) -> str:
    """Main metrics per question type, as 'ours/previous/baseline' (those that ran)."""
    rows = []
    for question_type, entry in summary.items():
        before = ((previous or {}).get(question_type) or {}).get("ours") if previous else None
        cells = [
            format_value(entry["ours"][name])
            + (f"/{format_value((before or {}).get(name))}" if previous else "")
            + (f"/{format_value(entry['baseline'].get(name))}" if entry["baseline"] else "")
            for name in TYPE_TABLE_METRICS
        ]
        rows.append([question_type, str(entry["n"]), *cells])
    return format_table(["type", "n", *TYPE_TABLE_METRICS], rows)


def answer_length(scores: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Median and p90 words of the (non-refused) answers to answerable questions."""
    words = [s["answer_words"] for s in scores if s.get("answer_words") is not None]
    return {"median": percentile(words, 50), "p90": percentile(words, 90), "n": len(words)}


def regressions(
    items: list[dict[str, Any]], scores: list[dict[str, float | None]], previous: dict[str, Any]
) -> list[dict[str, Any]]:
    """Metrics that lost more than REGRESSION_QUESTIONS questions' worth against `previous`, overall and per type.

    Questions are matched by id; a metric's loss is the sum, over the questions both runs scored, of how
    much each got worse minus how much each got better (so 1.0 = one question flipped from right to wrong).
    """
    before = {q["id"]: (q.get("ours") or {}).get("metrics") or {} for q in previous.get("questions", [])}
    groups = {"all": list(range(len(items)))}
    for index, item in enumerate(items):
        groups.setdefault(item["type"], []).append(index)
    flagged = []
    for group, indices in groups.items():
        for name in ALL_METRICS:
            if name in NOT_COMPARED:
                continue
            loss, worse = 0.0, []
            for i in indices:
                old, new = before.get(items[i]["id"], {}).get(name), scores[i].get(name)
                if old is None or new is None:
                    continue
                change = (old - new) if name not in LOWER_IS_BETTER else (new - old)
                loss += change
                if change > 0:
                    worse.append(items[i]["id"])
            if loss > REGRESSION_QUESTIONS:
                flagged.append({"type": group, "metric": name, "questions_lost": round(loss, 2), "worse": worse})
    return flagged


def timings_table(summary: dict[str, Any]) -> str:
    """Latency table, stage means and baseline indexing time."""
    rows = [("service /search/run (top_k 10)", summary["search_ms"]), ("service /ask/run", summary["ask_ms"])]
    if summary["baseline_query_ms"]:
        rows.append(("baseline query (in-process)", summary["baseline_query_ms"]))
    columns = ("p50", "p95", "max", "mean")
    lines = [
        format_table(
            ["timings (ms)", *columns],
            [[name, *("-" if stats[c] is None else f"{stats[c]:.0f}" for c in columns)] for name, stats in rows],
        )
    ]
    for name in ("search_stages_mean_ms", "ask_stages_mean_ms"):
        if summary[name]:
            lines.append(f"{name}: " + ", ".join(f"{stage} {value:.1f}" for stage, value in summary[name].items()))
    if summary["baseline_index"]:
        index = summary["baseline_index"]
        lines.append(f"baseline indexing: {index['files']} files, {index['chunks']} chunks, {index['seconds']} s")
    return "\n".join(lines)


def git_commit() -> str | None:
    """The checkout's commit, if it has one."""
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description="Evaluate the running service's retrieval and answers on an eval set, beside a naive baseline."
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="service base URL (default: %(default)s)")
    parser.add_argument("--questions", default=DEFAULT_QUESTIONS, help="eval set; relative paths from the repo root")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--ask-top-k", type=int, default=5, help="top_k sent to /ask/run (default: %(default)s)")
    parser.add_argument(
        "--baseline", action=argparse.BooleanOptionalAction, default=True, help="also run the naive baseline"
    )
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="baseline corpus folder; relative from the repo root")
    parser.add_argument("--embedding-model", default=DEFAULT_EMBEDDING_MODEL, help="baseline embedding model")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--out", default="eval-results.json", help="JSON results file (default: %(default)s)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --url")
    parser.add_argument("--compare", help="JSON of a previous run (e.g. eval-results-before.json) to compare with")
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit status 2 when a metric regressed against --compare"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Evaluate, print the tables, write the JSON; exit status 1 if a request to the service failed."""
    args = parse_args(argv)
    require_loopback(args.url, args.allow_remote)
    previous = json.loads(Path(args.compare).read_text(encoding="utf-8")) if args.compare else None
    items = load_questions(args.questions, args.limit)
    golds = [Gold.from_item(item) for item in items]
    service = evaluate_service(args, items, golds)
    baseline = evaluate_baseline(args, items, golds) if args.baseline else None
    baseline_scores = baseline["scores"] if baseline else None
    summary_by_type = by_type(items, service["scores"], baseline_scores)
    overall = {"ours": aggregate(service["scores"]), "baseline": aggregate(baseline_scores) if baseline else None}
    if baseline is None and previous and previous.get("overall", {}).get("baseline"):
        # --no-baseline --compare: the baseline figures of the previous run (same questions, same corpus)
        print(f"naive baseline: figures taken from {args.compare} (not re-run)")
        overall["baseline"] = previous["overall"]["baseline"]
        for question_type, entry in summary_by_type.items():
            entry["baseline"] = (previous.get("by_type", {}).get(question_type) or {}).get("baseline")
    timing_summary = timings(service, baseline)
    errors = Counter(error for run in service["runs"] for error in run["errors"])
    answer_modes = dict(Counter(run["mode"] for run in service["runs"]))
    warnings = [run["warning"] for run in service["runs"] if run["warning"]]

    print(f"\n{len(items)} questions from {repo_path(args.questions)}; service answer modes: {answer_modes}")
    if warnings:
        print(f"{len(warnings)} answers came with a warning, e.g.: {warnings[0]}")
    if baseline:
        print(
            f"naive baseline: raw 1,000-char chunks, embedding top 4 ({args.embedding_model}); "
            f"its answer = the top chunk's first {BASELINE_ANSWER_CHARS} chars"
        )
    previous_overall = (previous or {}).get("overall", {}).get("ours") if previous else None
    previous_by_type = (previous or {}).get("by_type") if previous else None
    lengths = answer_length(service["scores"])
    regressed = regressions(items, service["scores"], previous) if previous else []
    if previous:
        print(f"previous run: {args.compare} (commit {previous.get('meta', {}).get('commit')})")
    print(overall_table(overall["ours"], overall["baseline"], previous_overall))
    with_baseline = overall["baseline"] is not None
    columns = "/".join(["ours", *(["previous"] if previous else []), *(["baseline"] if with_baseline else [])])
    print(f"\nper type ({columns})")
    print(type_table(summary_by_type, previous_by_type))
    print(f"\nanswer words (answerable, not refused): median {format_value(lengths['median'])}, "
          f"p90 {format_value(lengths['p90'])} over {lengths['n']} answers")
    if previous:
        if regressed:
            for flag in regressed:
                print(f"REGRESSION {flag['type']} {flag['metric']}: {flag['questions_lost']} questions lost "
                      f"(worse: {', '.join(flag['worse'])})")
        else:
            print("no regression of more than one question on any metric against the previous run")
    print()
    print(timings_table(timing_summary))
    if errors:
        print(f"\nrequest errors: {dict(errors)}")

    report = {
        "meta": {
            "url": args.url,
            "questions": str(repo_path(args.questions)),
            "n": len(items),
            "commit": git_commit(),
            "health": service["health"],
            "answer_modes": answer_modes,
            "answers_with_warning": len(warnings),
            "baseline": {
                "pipelines": "scripts/baseline/indexing.yml, scripts/baseline/query.yml",
                "embedding_model": args.embedding_model,
                "answer": f"naive extractive: top chunk, first {BASELINE_ANSWER_CHARS} chars",
            }
            if baseline
            else None,
            "definitions": {
                "search_top_k": SEARCH_TOP_K,
                "ask_top_k": args.ask_top_k,
                "passage_min_coverage": PASSAGE_MIN_COVERAGE,
                "min_contained_chunk_chars": MIN_CONTAINED_CHUNK_CHARS,
                "refusal_phrases": REFUSAL_PHRASES,
            },
        },
        "overall": overall,
        "by_type": summary_by_type,
        "answer_words": lengths,
        "compared_with": args.compare,
        "regressions": regressed,
        "timings": timing_summary,
        "errors": dict(errors),
        "questions": [
            question_record(
                item,
                service["runs"][i],
                service["scores"][i],
                baseline["runs"][i] if baseline else None,
                baseline_scores[i] if baseline_scores else None,
            )
            for i, item in enumerate(items)
        ],
    }
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"\nwrote {args.out}")
    if errors:
        return 1
    return 2 if regressed and args.fail_on_regression else 0


if __name__ == "__main__":
    sys.exit(main())
