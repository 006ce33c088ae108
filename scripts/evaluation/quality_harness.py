"""In-process tuning harness: the search (and extractive answer) pipelines over an already built index.

Loads pipelines/search/search.yml and pipelines/ask/extract.yml once, over the persisted index of
$PRESSQA_DATA_DIR (build it once by starting the service, or with service.index_cli), and scores
each configuration on an eval set with the metrics of scripts/evaluation/metrics.py, per question type. A
configuration is a set of attribute overrides on the loaded components, e.g.

    python scripts/quality_harness.py --set focus_ranker.focus_weight=0.3 --set joiner.weights=[0.5,0.5]

Nothing is re-embedded: only the query embedding runs per question (~20 ms), so a configuration over
35 questions takes seconds. This is a development tool; the figures that count come from
scripts/evaluate.py against a running service.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[2]

from scripts.evaluation.metrics import Chunk, Gold, aggregate, chunk_from_haystack, score  # noqa: E402
from scripts.evaluation.report import format_value  # noqa: E402
from kit.loader import load_pipeline  # noqa: E402

METRICS = ("passage@1", "passage@5", "file@1", "MRR", "key_facts", "refusal", "wrong_refusal")


def chunk(document) -> Chunk:
    return chunk_from_haystack(document)


def apply(pipeline, overrides: list[str]) -> list[tuple[object, str, object]]:
    """`component.attribute=json-value` overrides on a loaded pipeline's component instances; the old values."""
    previous = []
    for override in overrides:
        target, _, raw = override.partition("=")
        name, _, attribute = target.partition(".")
        try:
            instance = pipeline.pipeline.get_component(name)
        except ValueError:
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        previous.append((instance, attribute, getattr(instance, attribute)))
        setattr(instance, attribute, value)
    return previous


def restore(previous: list[tuple[object, str, object]]) -> None:
    for instance, attribute, value in reversed(previous):
        setattr(instance, attribute, value)


def run(items, search, extract, top_k_search: int = 10, top_k_ask: int = 5):
    """Per-question metrics and records."""
    golds = [Gold.from_item(item) for item in items]
    rankings, answers, records = [], [], []
    for item in items:
        found = search.run(query=item["question"], filters=None, top_k=top_k_search)
        documents = found["documents"]
        ask_documents = documents[:top_k_ask]
        answer = extract.run(query=item["question"], documents=ask_documents)["answer"] if extract else ""
        rankings.append([chunk(d) for d in documents])
        answers.append((answer, [chunk(d) for d in ask_documents]))
        records.append({"id": item["id"], "type": item["type"], "answer": answer,
                        "files": [d.meta.get("file_path") for d in documents[:5]],
                        "interpreted_filters": found.get("interpreted_filters")})
    scores = score(rankings, answers, golds, with_citations=True)
    return scores, records


def summary(items, scores) -> dict[str, dict[str, float | None]]:
    table = {"all": aggregate(scores)}
    for kind in sorted({item["type"] for item in items}):
        table[kind] = aggregate([s for s, item in zip(scores, items) if item["type"] == kind])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(REPO.parent.parent / "shared/eval/dev.jsonl"))
    parser.add_argument("--set", action="append", default=[], help="component.attribute=value (JSON), all configs")
    parser.add_argument("--config", action="append", default=[],
                        help="one configuration: overrides separated by ';' (repeatable; the YAML as is when absent)")
    parser.add_argument("--no-answers", action="store_true")
    parser.add_argument("--show", action="store_true", help="print every question's answer and files")
    args = parser.parse_args(argv)
    items = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line.strip()]
    search = load_pipeline("search", "search")
    search.pipeline.warm_up()
    extract = None if args.no_answers else load_pipeline("ask", "extract")
    apply(search, args.set)
    if extract:
        apply(extract, args.set)
    for config in args.config or [""]:
        overrides = [o.strip() for o in config.split(";") if o.strip()]
        previous = apply(search, overrides) + (apply(extract, overrides) if extract else [])
        scores, records = run(items, search, extract)
        restore(previous)
        table = summary(items, scores)
        print(f"\n== {config or 'as in the YAML'}")
        print("type".ljust(14) + "".join(m.rjust(14) for m in METRICS))
        for kind, values in table.items():
            print(kind.ljust(14) + "".join(format_value(values[m]).rjust(14) for m in METRICS))
        if args.show:
            for record, metrics in zip(records, scores):
                print(json.dumps({**record, "p@1": metrics.get("passage@1"), "kf": metrics.get("key_facts"),
                                  "wr": metrics.get("wrong_refusal"), "ref": metrics.get("refusal")}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
