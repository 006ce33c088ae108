"""Embedding backends side by side in one run: indexing time, query-embedding time and dev-set retrieval.

For each variant (PyTorch, int8 ONNX, fp32 ONNX) it writes a copy of `pipelines/` whose two embedder blocks
(index.yml's `embedder`, search.yml's `query_embedder`) differ only in `backend`/`model_kwargs`, then
1. indexes the corpus with `python -m service.index_cli CORPUS` (what `pressqa-index` runs), with
   PRESSQA_DATA_DIR set to a fresh temporary folder and HAYHOOKS_PIPELINES_DIR to that copy, and reads the
   indexing seconds it prints (model loading excluded) next to the wall time of the whole command;
2. in a fresh process on that index, times the query embedder alone (1 thread, one text per call, every
   text different: each dev question under PREFIXES, after one warm-up call) and runs every dev question through
   the search pipeline (top_k 10, as scripts/evaluate.py asks /search/run), then scores the rankings with
   the metrics of scripts/evaluation/metrics.py (file@1, passage@k, hit@k, MRR, files@10).
Index and queries of a variant always use the same model. The machine is shared: compare within one run.

    .venv/bin/python scripts/compare_backends.py [--variants torch onnx-int8 onnx-fp32] [--out backends.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from scripts.measure_common import DEFAULT_QUESTIONS, REPO_ROOT, load_questions, percentile, repo_path

VARIANTS: dict[str, dict[str, Any]] = {
    # batch_size 16 was PyTorch's committed setting; the ONNX variants keep index.yml's.
    "torch": {"backend": "torch", "model_kwargs": None, "batch_size": 16},
    "onnx-int8": {"backend": "onnx", "model_kwargs": {"file_name": "onnx/model_qint8.onnx"}},
    "onnx-fp32": {"backend": "onnx", "model_kwargs": {"file_name": "onnx/model.onnx"}},
}
EMBEDDER_BLOCKS = {"index/index.yml": "embedder", "search/search.yml": "query_embedder"}
# Query-embedding timing texts: every dev question under each prefix, so no text is embedded twice.
PREFIXES = ("", "Question: ", "Please tell me: ")
METRICS = ("file@1", "passage@1", "passage@5", "hit@1", "hit@5", "MRR", "files@10")
DEFAULT_CORPUS = "../shared/telekom-press-releases"


def write_pipelines(target: Path, variant: str) -> None:
    """A copy of pipelines/ whose embedder blocks use `variant`'s backend (threads as committed)."""
    shutil.copytree(REPO_ROOT / "pipelines", target)
    for relative, block in EMBEDDER_BLOCKS.items():
        path = target / relative
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        parameters = spec["components"][block]["init_parameters"]
        threads = (parameters.get("model_kwargs") or {}).get("intra_op_num_threads")
        parameters["backend"] = VARIANTS[variant]["backend"]
        if "batch_size" in VARIANTS[variant] and "batch_size" in parameters:
            parameters["batch_size"] = VARIANTS[variant]["batch_size"]
        kwargs = VARIANTS[variant]["model_kwargs"]
        parameters["model_kwargs"] = None if kwargs is None else kwargs | (
            {"intra_op_num_threads": threads} if threads is not None else {}
        )
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


def run_child(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a step in its own process; on failure, stop with the end of its error output."""
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def index_variant(corpus: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run the indexing CLI; its reported seconds, chunk count and the command's wall time."""
    started = time.perf_counter()
    result = run_child([sys.executable, "-m", "service.index_cli", str(corpus)], env)
    wall = time.perf_counter() - started
    found = re.search(r"Indexed (\d+) files in ([\d.]+) s: (\d+) chunks written", result.stdout)
    if not found:
        raise SystemExit(f"unexpected index_cli output:\n{result.stdout}\n{result.stderr}")
    return {"files": int(found[1]), "index_seconds": float(found[2]), "chunks": int(found[3]),
            "command_wall_seconds": round(wall, 2)}


def measure_in_process(questions: list[str]) -> dict[str, Any]:
    """(In the variant's process.) Query-embedding times and top-10 search results for every question."""
    import torch

    torch.set_num_threads(1)
    from kit.loader import load_pipeline

    search = load_pipeline("search", "search")
    search.warm_up()
    embedder = search.pipeline.get_component("query_embedder")
    embedder.run(text="warm-up question")
    times = []
    for prefix in PREFIXES:
        for question in questions:
            started = time.perf_counter()
            embedder.run(text=prefix + question)
            times.append((time.perf_counter() - started) * 1000)
    rankings = []
    for question in questions:
        documents = search.run(query=question, top_k=10, filters=None)["documents"]
        rankings.append([{"meta": {"file_path": d.meta.get("file_path")}, "content": d.content} for d in documents])
    return {"embed_ms": times, "rankings": rankings}


def score(items: list[dict[str, Any]], rankings: list[list[dict[str, Any]]]) -> tuple[dict[str, float], list]:
    """The evaluation's retrieval metrics over the answerable questions: means and per-question values."""
    from scripts.evaluation import metrics

    golds = [metrics.Gold.from_item(item) for item in items]
    chunks = [[metrics.chunk_from_service(document) for document in ranking] for ranking in rankings]
    per_question = metrics.score(chunks, [("", [])] * len(items), golds, with_citations=False)
    answerable = [m for m, gold in zip(per_question, golds, strict=True) if gold.answerable]
    means = {name: sum(m[name] for m in answerable) / len(answerable) for name in METRICS}
    return means | {"answerable": len(answerable)}, per_question


def run(args: argparse.Namespace) -> dict[str, Any]:
    items = load_questions(args.questions)
    questions = [item["question"] for item in items]
    corpus = repo_path(args.corpus)
    report: dict[str, Any] = {"corpus": str(corpus), "questions": len(items), "variants": {}}
    with tempfile.TemporaryDirectory(prefix="pressqa-backends-") as scratch:
        for variant in args.variants:
            folder = Path(scratch) / variant
            write_pipelines(folder / "pipelines", variant)
            env = os.environ | {
                "PRESSQA_DATA_DIR": str(folder / "data"), "HAYHOOKS_PIPELINES_DIR": str(folder / "pipelines"),
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PRESSQA_INDEX_AT_START": "0",
            }
            print(f"{variant}: indexing {corpus} ...", file=sys.stderr)
            indexing = index_variant(corpus, env)
            print(f"{variant}: {indexing}; searching ...", file=sys.stderr)
            measured = run_child([sys.executable, __file__, "--measure", "--questions", args.questions], env)
            result = json.loads(measured.stdout.splitlines()[-1])
            means, per_question = score(items, result["rankings"])
            times = result["embed_ms"]
            report["variants"][variant] = {
                "indexing": indexing,
                "query_embedding_ms": {"texts": len(times), "mean": sum(times) / len(times),
                                       "p50": percentile(times, 50), "p95": percentile(times, 95)},
                "retrieval": means,
                "per_question": [{"id": item["id"]} | {k: m.get(k) for k in ("file@1", "passage@1", "MRR")}
                                 for item, m in zip(items, per_question, strict=True)],
            }
    return report


def table(report: dict[str, Any]) -> str:
    variants = report["variants"]
    rows = [["", *variants]]
    files = next(iter(variants.values()))["indexing"]["files"]
    rows.append([f"index {files} releases, s", *(f"{v['indexing']['index_seconds']:.1f}" for v in variants.values())])
    rows.append(["index_cli wall, s", *(f"{v['indexing']['command_wall_seconds']:.1f}" for v in variants.values())])
    rows.append(["chunks", *(str(v["indexing"]["chunks"]) for v in variants.values())])
    for key in ("mean", "p50", "p95"):
        rows.append([f"query embedding {key}, ms", *(f"{v['query_embedding_ms'][key]:.1f}" for v in variants.values())])
    answerable = next(iter(variants.values()))["retrieval"]["answerable"]
    for name in METRICS:
        rows.append([f"{name} ({answerable} q)", *(f"{v['retrieval'][name]:.3f}" for v in variants.values())])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths, strict=True))) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--questions", default=DEFAULT_QUESTIONS, help="eval set; relative paths from the repo root")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="folder of releases; relative from the repo root")
    parser.add_argument("--out", default="backends-results.json", help="JSON results file (default: %(default)s)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the per-variant child process
    args = parser.parse_args(argv)
    if args.measure:
        questions = [item["question"] for item in load_questions(args.questions)]
        print(json.dumps(measure_in_process(questions)))
        return 0
    report = run(args)
    print(table(report))
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
