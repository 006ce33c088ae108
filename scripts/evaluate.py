"""Quality evaluation of the running service through its REST API, with a naive baseline side by side.

For each question of an eval set (see ../shared/eval/README.md) it calls `POST /search/run` (top_k=10)
and `POST /ask/run`, scores retrieval and answers (scripts/evaluation/metrics.py says how), and does the
same for a naive baseline built in this process (scripts/evaluation/baseline.py). With
`--compare previous.json` every table shows now/previous/baseline and a metric that lost more than one
question's worth is flagged as a REGRESSION (scripts/evaluation/regressions.py).

    python scripts/evaluate.py [--limit 5] [--no-baseline] [--out eval-results.json] [--compare previous.json]

The code is the package scripts/evaluation/ (its __init__ maps the modules). This file is the command and
the import that scripts, tests and the notebook use (`import evaluate`), so it re-exports the package's names.
"""

from __future__ import annotations

import sys

from evaluation.baseline import (
    BASELINE_ANSWER_CHARS,
    BASELINE_DIR,
    DEFAULT_CORPUS,
    DEFAULT_EMBEDDING_MODEL,
    build_baseline,
    evaluate_baseline,
    load_baseline_pipeline,
    run_baseline,
)
from evaluation.cli import git_commit, main, parse_args
from evaluation.metrics import (
    ALL_METRICS,
    ANSWER_METRICS,
    HIT_DEPTHS,
    MIN_CONTAINED_CHUNK_CHARS,
    PASSAGE_DEPTHS,
    PASSAGE_MIN_COVERAGE,
    RANK_METRICS,
    REFUSAL_PHRASES,
    RETRIEVAL_METRICS,
    Chunk,
    Gold,
    aggregate,
    answer_metrics,
    chunk_from_haystack,
    chunk_from_service,
    citations,
    file_rank_metrics,
    holds_passage,
    is_refusal,
    is_relevant,
    key_fact_share,
    normalise,
    quote_coverage,
    retrieval_metrics,
    score,
)
from evaluation.regressions import LOWER_IS_BETTER, NOT_COMPARED, REGRESSION_QUESTIONS, regressions
from evaluation.report import (
    TYPE_TABLE_METRICS,
    answer_length,
    by_type,
    format_table,
    format_value,
    latency_summary,
    overall_table,
    question_record,
    stage_means,
    timings,
    timings_table,
    type_table,
)
from evaluation.service_client import SEARCH_TOP_K, call_service, evaluate_service, run_service

__all__ = [
    "ALL_METRICS", "ANSWER_METRICS", "BASELINE_ANSWER_CHARS", "BASELINE_DIR", "DEFAULT_CORPUS",
    "DEFAULT_EMBEDDING_MODEL", "HIT_DEPTHS", "LOWER_IS_BETTER", "MIN_CONTAINED_CHUNK_CHARS", "NOT_COMPARED",
    "PASSAGE_DEPTHS", "PASSAGE_MIN_COVERAGE", "RANK_METRICS", "REFUSAL_PHRASES", "REGRESSION_QUESTIONS",
    "RETRIEVAL_METRICS", "SEARCH_TOP_K", "TYPE_TABLE_METRICS", "Chunk", "Gold", "aggregate", "answer_length",
    "answer_metrics", "build_baseline", "by_type", "call_service", "chunk_from_haystack", "chunk_from_service",
    "citations", "evaluate_baseline", "evaluate_service", "file_rank_metrics", "format_table", "format_value",
    "git_commit", "holds_passage", "is_refusal", "is_relevant", "key_fact_share", "latency_summary",
    "load_baseline_pipeline", "main", "normalise", "overall_table", "parse_args", "question_record",
    "quote_coverage", "regressions", "retrieval_metrics", "run_baseline", "run_service", "score", "stage_means",
    "timings", "timings_table", "type_table",
]

if __name__ == "__main__":
    sys.exit(main())
