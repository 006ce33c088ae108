"""What a run reports: aggregates per question type, the terminal tables, timings, one JSON record per question.

    print(overall_table(aggregate(ours_scores), aggregate(baseline_scores)))
    print(type_table(by_type(items, ours_scores, baseline_scores)))
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from scripts.measure_common import percentile

from .metrics import ALL_METRICS, aggregate

TYPE_TABLE_METRICS = (
    "hit@1", "passage@1", "passage@5", "file@1", "MRR", "files@10", "key_facts", "refusal", "wrong_refusal"
)


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
