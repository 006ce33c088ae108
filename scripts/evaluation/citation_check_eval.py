"""Measures the citation check (components/citation_checker.py) on answers of the LLM STAND-IN citing wrongly.

For each question of an eval set it retrieves the top chunks in-process (pipelines/search/search.yml over
the persisted index of $PRESSQA_DATA_DIR), builds the numbered-sources prompt the way generate.yml does,
and lets the LLM stand-in's answer writer (scripts/llm_standin.py, `--citations mixed`: every second
sentence cites another source on purpose; not a real LLM) write the answer. A sentence's citation is
*wrong* when the cited source does not contain the sentence (overlapping chunks can hold the same
sentence: then a "wrong" number is in fact right). It reports the share of wrongly cited sentences the
check flags (target >= 0.90) and the share of rightly cited ones it flags (target <= 0.05).

    PRESSQA_DATA_DIR=data python scripts/citation_check_eval.py [--citations mixed|wrong|right] [--top-k 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[2]

from scripts.benchmarks import llm_standin  # noqa: E402
from scripts.evaluation.metrics import normalise  # noqa: E402
from kit.loader import load_pipeline  # noqa: E402

from haystack.core.serialization import component_from_dict  # noqa: E402

from components.citation_checker import CitationChecker, answer_sentences, cited_numbers  # noqa: E402


def prompt_for(documents) -> str:
    """The sources block as generate.yml numbers it (header line, then the chunk)."""
    blocks = [f"[{i}] {d.meta.get('title', '')} ({d.meta.get('file_path', '')})\n{d.content}" for i, d in enumerate(documents, 1)]
    return "Sources:\n" + "\n\n".join(blocks) + "\nQuestion: ?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(REPO.parent.parent / "shared/eval/dev.jsonl"))
    parser.add_argument("--citations", choices=llm_standin.CITATION_MODES, default="mixed")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=150, help="stand-in answer length in tokens")
    parser.add_argument("--out", help="write the per-sentence results as JSON")
    args = parser.parse_args(argv)

    items = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line.strip()]
    search = load_pipeline("search", "search")
    search.pipeline.warm_up()
    generate_spec = load_pipeline("ask", "generate") if os.environ.get("OPENAI_API_KEY") else None
    checker = (
        generate_spec.pipeline.get_component("citation_check") if generate_spec else None
    ) or component_from_dict(CitationChecker, _checker_from_yaml(), "citation_check")
    checker.warm_up()

    rows = []
    for item in items:
        documents = search.run(query=item["question"], filters=None, top_k=args.top_k)["documents"]
        if len(documents) < 2:
            continue
        answer = "".join(llm_standin.answer_tokens(prompt_for(documents), args.tokens, args.citations)).strip()
        flagged = {u["sentence"] for u in checker.check(answer, documents)}
        for sentence in answer_sentences(answer):
            cited = cited_numbers(sentence)
            if not cited:
                continue
            claim = normalise(llm_standin._SOURCE_MARKER.sub("", sentence).split(" [")[0])
            right = any(claim in normalise(documents[n - 1].content or "") for n in cited if 1 <= n <= len(documents))
            rows.append({"id": item["id"], "sentence": sentence, "right": right, "flagged": sentence in flagged})

    wrong = [r for r in rows if not r["right"]]
    right = [r for r in rows if r["right"]]
    caught = sum(r["flagged"] for r in wrong) / len(wrong) if wrong else None
    false_flags = sum(r["flagged"] for r in right) / len(right) if right else None
    print(f"LLM stand-in (not a real LLM), citations={args.citations}, {len(items)} questions, top {args.top_k}")
    print(f"wrongly cited sentences: {len(wrong)}, flagged: {caught if caught is None else round(caught, 3)}")
    print(f"rightly cited sentences: {len(right)}, flagged: {false_flags if false_flags is None else round(false_flags, 3)}")
    if args.out:
        Path(args.out).write_text(json.dumps({"caught": caught, "false_flags": false_flags, "rows": rows}, indent=2))
    return 0


def _checker_from_yaml() -> dict:
    """The citation_check block of pipelines/ask/generate.yml (no LLM key needed to read it)."""
    import yaml

    spec = yaml.safe_load((REPO / "pipelines/ask/generate.yml").read_text(encoding="utf-8"))
    return spec["components"]["citation_check"]


if __name__ == "__main__":
    sys.exit(main())
