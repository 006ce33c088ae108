"""The command line of `python scripts/evaluate.py`: evaluate the service, then the baseline, print, write JSON.

    python scripts/evaluate.py [--questions A.jsonl B.jsonl] [--limit 5] [--no-baseline] [--out eval-results.json]
                               [--compare previous.json]

With several question files (default: ../shared/eval/dev.jsonl and dev2.jsonl) every file is reported on its
own and all of them together (the union): decide on the union, by type; a change of fewer than 3 of its 115
questions is noise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from scripts.measure_common import DEFAULT_QUESTION_SETS, DEFAULT_URL, REPO_ROOT, load_questions, repo_path, require_loopback

from .baseline import BASELINE_ANSWER_CHARS, DEFAULT_CORPUS, DEFAULT_EMBEDDING_MODEL, evaluate_baseline
from .metrics import MIN_CONTAINED_CHUNK_CHARS, PASSAGE_MIN_COVERAGE, REFUSAL_PHRASES, Gold, aggregate
from .regressions import regressions
from .report import (
    answer_length,
    by_type,
    format_value,
    overall_table,
    question_record,
    timings,
    timings_table,
    type_table,
)
from .service_client import SEARCH_TOP_K, evaluate_service


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
    parser.add_argument("--questions", nargs="+", default=DEFAULT_QUESTION_SETS,
                        help="eval sets (default: %(default)s); relative paths from the repo root")
    parser.add_argument("--limit", type=int, help="only the first N questions of each set")
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
    items = [{**item, "set": Path(path).stem} for path in args.questions for item in load_questions(path, args.limit)]
    golds = [Gold.from_item(item) for item in items]
    service = evaluate_service(args, items, golds)
    baseline = evaluate_baseline(args, items, golds) if args.baseline else None
    results = summarise(args, items, service, baseline, previous)
    print_results(args, results, previous)
    Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"\nwrote {args.out}")
    if results["errors"]:
        return 1
    return 2 if results["regressions"] and args.fail_on_regression else 0


def summarise(
    args: argparse.Namespace,
    items: list[dict[str, Any]],
    service: dict[str, Any],
    baseline: dict[str, Any] | None,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """The run's results as written to --out: settings, aggregates, regressions, timings, every question."""
    baseline_scores = baseline["scores"] if baseline else None
    summary_by_type = by_type(items, service["scores"], baseline_scores)
    overall = {"ours": aggregate(service["scores"]), "baseline": aggregate(baseline_scores) if baseline else None}
    if baseline is None and previous and previous.get("overall", {}).get("baseline"):
        # --no-baseline --compare: the baseline figures of the previous run (same questions, same corpus)
        overall["baseline"] = previous["overall"]["baseline"]
        for question_type, entry in summary_by_type.items():
            entry["baseline"] = (previous.get("by_type", {}).get(question_type) or {}).get("baseline")
    errors = Counter(error for run in service["runs"] for error in run["errors"])
    sets = list(dict.fromkeys(item.get("set", "questions") for item in items))
    by_set = {}
    for name in sets if len(sets) > 1 else []:
        indices = [i for i, item in enumerate(items) if item.get("set", "questions") == name]
        by_set[name] = {
            "n": len(indices),
            "ours": aggregate([service["scores"][i] for i in indices]),
            "baseline": aggregate([baseline_scores[i] for i in indices]) if baseline else None,
            "by_type": by_type([items[i] for i in indices], [service["scores"][i] for i in indices],
                               [baseline_scores[i] for i in indices] if baseline else None),
        }
    return {
        "meta": {
            "url": args.url,
            "questions": [str(repo_path(path)) for path in _as_list(args.questions)],
            "n": len(items),
            "commit": git_commit(),
            "health": service["health"],
            "answer_modes": dict(Counter(run["mode"] for run in service["runs"])),
            "answers_with_warning": sum(1 for run in service["runs"] if run["warning"]),
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
        "by_set": by_set,  # each question file on its own (when there are several); overall/by_type: their union
        "answer_words": answer_length(service["scores"]),
        "compared_with": args.compare,
        "regressions": regressions(items, service["scores"], previous) if previous else [],
        "timings": timings(service, baseline),
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


def print_results(args: argparse.Namespace, results: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """The terminal report of `summarise`'s results: settings, tables, regressions, timings, errors."""
    meta, overall = results["meta"], results["overall"]
    if meta["baseline"] is None and previous and previous.get("overall", {}).get("baseline"):
        print(f"naive baseline: figures taken from {args.compare} (not re-run)")
    warnings = [question["ours"]["warning"] for question in results["questions"] if question["ours"]["warning"]]
    print(f"\n{meta['n']} questions from {', '.join(meta['questions'])}; service answer modes: {meta['answer_modes']}")
    if warnings:
        print(f"{len(warnings)} answers came with a warning, e.g.: {warnings[0]}")
    if meta["baseline"]:
        print(
            f"naive baseline: raw 1,000-char chunks, embedding top 4 ({args.embedding_model}); "
            f"its answer = the top chunk's first {BASELINE_ANSWER_CHARS} chars"
        )
    previous_overall = (previous or {}).get("overall", {}).get("ours") if previous else None
    previous_by_type = (previous or {}).get("by_type") if previous else None
    if previous:
        print(f"previous run: {args.compare} (commit {previous.get('meta', {}).get('commit')})")
    for name, entry in results.get("by_set", {}).items():
        before = ((previous or {}).get("by_set", {}).get(name) or {}).get("ours") if previous else None
        print(f"\n{name} ({entry['n']} questions)")
        print(overall_table(entry["ours"], entry["baseline"], before))
    if results.get("by_set"):
        print(f"\nall {meta['n']} questions together")
    print(overall_table(overall["ours"], overall["baseline"], previous_overall))
    with_baseline = overall["baseline"] is not None
    columns = "/".join(["ours", *(["previous"] if previous else []), *(["baseline"] if with_baseline else [])])
    print(f"\nper type ({columns})")
    print(type_table(results["by_type"], previous_by_type))
    lengths = results["answer_words"]
    print(f"\nanswer words (answerable, not refused): median {format_value(lengths['median'])}, "
          f"p90 {format_value(lengths['p90'])} over {lengths['n']} answers")
    if previous:
        if results["regressions"]:
            for flag in results["regressions"]:
                print(f"REGRESSION {flag['type']} {flag['metric']}: {flag['questions_lost']} questions lost "
                      f"(worse: {', '.join(flag['worse'])})")
        else:
            print("no regression of more than one question on any metric against the previous run")
    print()
    print(timings_table(results["timings"]))
    if results["errors"]:
        print(f"\nrequest errors: {results['errors']}")


def _as_list(questions: str | list[str]) -> list[str]:
    return [questions] if isinstance(questions, str) else list(questions)
