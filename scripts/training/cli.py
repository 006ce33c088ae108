"""`pressqa-train`: fit the evidence model from questions with gold answers, over the index the service serves.

    pressqa-train                                   # ../shared/eval/dev.jsonl + dev2.jsonl -> models/evidence_model.json
    pressqa-train --questions a.jsonl b.jsonl --out /tmp/model.json --report /tmp/kfold.json
    pressqa-train --corpus ../shared/telekom-press-releases   # index what of the folder is missing first

The index is PRESSQA_DATA_DIR's (start the service once, run `pressqa-index`, or pass --corpus). The k-fold
figures (out-of-fold: every question answered by models fitted without it) are printed per question type and their
spread over the folds, and written with the model; they are the figures to trust, not the fit on all questions. Deterministic: the same
index and questions give the same model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from kit.loader import REPO_ROOT

DEFAULT_QUESTIONS = [REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl", REPO_ROOT.parent / "shared" / "eval" / "dev2.jsonl"]
DEFAULT_OUT = REPO_ROOT / "models" / "evidence_model.json"
METRICS = ("passage@1", "hit@1", "passage@5", "key_facts", "wrongly_refused", "refused", "answer_words")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pressqa-train", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", nargs="+", type=Path, default=DEFAULT_QUESTIONS,
                        help="JSONL question files in ../shared/eval's format (default: dev.jsonl dev2.jsonl)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model file (default: %(default)s)")
    parser.add_argument("--report", type=Path, help="also write the k-fold figures per seed as JSON here")
    parser.add_argument("--corpus", type=Path, help="index what of this folder is missing or changed first")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="k-fold repetitions (the first one's "
                        "out-of-fold scores feed the final fit)")
    return parser.parse_args(argv)


def load_questions(paths: list[Path]) -> list[dict]:
    """The questions of every file, each once (by id); a clear error for a bad line."""
    items, seen = [], set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                item["question"], item["type"]  # noqa: B018 - both are needed
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise SystemExit(f"pressqa-train: {path}:{number}: not a question line ({error})") from None
            if item.get("id") not in seen:
                seen.add(item.get("id"))
                items.append(item)
    return items


def main(argv: list[str] | None = None) -> int:
    from kit import process

    process.apply_environment_defaults()  # offline model, no telemetry: before Haystack is imported
    args = parse_args(argv)
    missing = [str(p) for p in args.questions if not p.is_file()]
    if missing:
        print(f"pressqa-train: no such question file: {', '.join(missing)}", file=sys.stderr)
        return 2
    items = load_questions(args.questions)
    if args.folds < 2 or args.folds > len(items):
        print(f"pressqa-train: --folds must be between 2 and the number of questions ({len(items)})", file=sys.stderr)
        return 2

    from tqdm import tqdm

    from components.passage_focus_ranker import PassageFocusRanker
    from kit.loader import room_module

    from .examples import build_example, candidate_pipeline
    from .fitting import Report, Settings, assign_folds, cross_validate, final_fit, score

    started = time.perf_counter()
    if args.corpus:
        indexer = room_module("index", "indexing").Indexer()
        todo = [p for group in indexer.corpus_difference(args.corpus) for p in group]
        if todo:
            with tqdm(total=len(todo), unit="file", desc="Indexing") as bar:
                indexer.index(todo, label=str(args.corpus), on_batch=bar.update)
    pipeline = candidate_pipeline()
    focus = PassageFocusRanker(focus_weight=1.0)
    examples = [build_example(pipeline, item, focus) for item in tqdm(items, unit="question", desc="Candidates")]
    if not any(len(e.documents) for e in examples):
        print("pressqa-train: the index returned no candidates: index a corpus first (--corpus)", file=sys.stderr)
        return 2

    settings = Settings(folds=args.folds, seeds=tuple(args.seeds))
    report, first = Report(), None
    with tqdm(total=len(items) * len(settings.seeds), unit="question", desc="k-fold") as bar:
        for seed in settings.seeds:
            outcomes = cross_validate(examples, settings, seed, progress=bar.update)
            first = first or outcomes
            folds = assign_folds(examples, settings.folds, seed)
            per_fold = [score([e for e, g in zip(examples, folds) if g == f], [o for o, g in zip(outcomes, folds) if g == f])
                        ["by_type"]["all"] for f in range(settings.folds)]
            report.per_seed.append({"seed": seed, **score(examples, outcomes), "per_fold": per_fold})
    summary = report.summary()
    print_summary(summary, report, len(items), settings)

    provenance = {
        "questions": [{"file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in args.questions],
        "question_count": len(items),
        "candidates_per_question": round(sum(len(e.documents) for e in examples) / len(examples), 1),
        "settings": settings.__dict__ | {"seeds": list(settings.seeds)},
        "kfold_mean": summary,
        "answerability_auc": [seed["answerability_auc"] for seed in report.per_seed],
    }
    model = final_fit(examples, settings, first, provenance)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    if args.report:
        args.report.write_text(json.dumps(report.per_seed, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(items)} questions, {time.perf_counter() - started:.1f} s)")
    return 0


def print_summary(summary: dict, report, questions: int, settings) -> None:
    print(f"\n{settings.folds}-fold, seeds {list(settings.seeds)}, {questions} questions; mean of the seeds "
          "(out-of-fold: every question answered by models fitted without it)")
    print("type".ljust(14) + "".join(m.rjust(16) for m in METRICS))
    for kind in ["all", *sorted(k for k in summary if k != "all")]:
        row = summary[kind]
        print(kind.ljust(14) + "".join((f"{row[m]:.3f}" if m in row else "-").rjust(16) for m in METRICS))
    for metric in ("passage@1", "key_facts", "refused", "wrongly_refused"):
        values = [fold[metric] for seed in report.per_seed for fold in seed["per_fold"] if metric in fold]
        if values:
            print(f"{metric} per fold: {min(values):.3f}-{max(values):.3f} over {len(values)} folds")
    aucs = [seed["answerability_auc"] for seed in report.per_seed if seed["answerability_auc"] is not None]
    if aucs:
        print(f"answerability ROC AUC: {', '.join(f'{a:.3f}' for a in aucs)}")


if __name__ == "__main__":
    sys.exit(main())
