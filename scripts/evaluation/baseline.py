"""The naive baseline the service is compared with, built and queried in this process.

scripts/baseline/*.yml over --corpus: raw text, fixed 1,000-character chunks (RecursiveDocumentSplitter in
characters: Haystack 3.4's DocumentSplitter has no split_by "character"), embedding retrieval only, top 4,
the same embedding model. Its "answer" is the top chunk cut to BASELINE_ANSWER_CHARS characters (naive
extractive), scored for key facts only. Retrieval metrics at depths beyond 4 are over its 4 chunks.

    query, stats = build_baseline(Path("../shared/telekom-press-releases"), DEFAULT_EMBEDDING_MODEL)
    [run] = run_baseline(query, [{"question": "Where does EUROGATE get 5G campus networks?"}])
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import yaml
from haystack import Pipeline
from tqdm import tqdm

from scripts.measure_common import repo_path

from .metrics import Gold, chunk_from_haystack, score

BASELINE_DIR = Path(__file__).resolve().parent.parent / "baseline"
DEFAULT_CORPUS = "../shared/telekom-press-releases"
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BASELINE_ANSWER_CHARS = 600


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
