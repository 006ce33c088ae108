"""The stacked fit of the evidence model, its k-fold figures, and the final fit on all questions.

Units -> chunks -> answers -> answerability, each step fitted on the training folds only:
1. a unit model (logistic regression) on every candidate unit of the answerable questions: does it hold a key fact;
2. a chunk model on the candidates of the answerable questions, whose unit features are the out-of-fold unit
   scores (stacking: what the chunk model sees in training is what it sees on a new question): does it hold a gold
   quote;
3. answers composed from the units of the top chunks (kit/evidence.py `compose`), as ExtractiveAnswerer does;
4. an answerability model on every question (answerable or not) from the answer step's features, and the
   probability under which to refuse: the `wrong_refusals` quantile of the training folds' answerable questions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from haystack import Document
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from components.near_duplicate_filter import NearDuplicateFilter
from components.question_period import QuestionPeriodPreference
from kit.evidence import (
    ANSWERABILITY_FEATURES,
    CHUNK_FEATURES,
    UNIT_FEATURES,
    EvidenceModel,
    LinearModel,
    answerability_features,
    chunk_features,
    compose,
    units_of,
)
from scripts.evaluation.metrics import normalise

from .examples import Example


@dataclass
class Settings:
    """How the models are fitted and answers composed (the YAML's settings of ExtractiveAnswerer and the cut)."""

    folds: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    unit_c: float = 1.0            # unit model: calibrated probabilities (no class weights), compose compares them
    chunk_c: float = 0.01          # chunk model: strong regularisation (5-fold passage@1 0.72 at C=1, 0.77 at 0.01)
    answerability_c: float = 0.1
    wrong_refusals: float = 0.04   # share of answerable training questions allowed under the refusal threshold
    answer_chunks: int = 3         # extract.yml's answerer/answerability `max_chunks`
    name_chunks: int = 5           # extract.yml's answerability `name_chunks`
    max_units: int = 3
    relative: float = 0.4
    completing: float = 0.1
    period_boost: float = 0.3      # search.yml's period_on_evidence
    recency_boost: float = 0.0
    top_k: int = 5                 # search.yml's duplicate_filter
    duplicate_threshold: float = 0.6


def fit_linear(x: np.ndarray, y: np.ndarray, features: tuple[str, ...], c: float, balanced: bool) -> LinearModel:
    """A standardised logistic regression as a `LinearModel` (lbfgs: deterministic for the same data)."""
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced" if balanced else None)
    model.fit((x - scaler.mean_) / scale, y)
    return LinearModel(list(features), [float(v) for v in scaler.mean_], [float(v) for v in scale],
                       [float(v) for v in model.coef_[0]], float(model.intercept_[0]))


def assign_folds(examples: list[Example], folds: int, seed: int) -> list[int]:
    """A fold per question, each question type spread evenly over the folds."""
    rng = np.random.RandomState(seed)
    fold = [0] * len(examples)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_kind[example.kind].append(index)
    for kind in sorted(by_kind):
        indices = by_kind[kind]
        rng.shuffle(indices)
        for position, index in enumerate(indices):
            fold[index] = position % folds
    return fold


@dataclass
class Outcome:
    """What the pipeline made of one question: the ranked top chunks, the answer, the answerability."""

    top: list[int]                      # candidate indices after ranking and the duplicate cut
    answer: str
    answerability_features: np.ndarray
    missing_names: list[str]            # the question's names in no top chunk: refused by rule
    unit_scores: np.ndarray             # out-of-fold unit scores of all candidates' units
    probability: float = 0.0
    refused: bool = False


@dataclass
class Report:
    """k-fold figures: per seed and fold, and per question type."""

    per_seed: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean over seeds, per question type and `all`."""
        kinds = sorted({kind for seed in self.per_seed for kind in seed["by_type"]})
        out = {}
        for kind in kinds:
            rows = [seed["by_type"][kind] for seed in self.per_seed if kind in seed["by_type"]]
            out[kind] = {metric: float(np.mean([row[metric] for row in rows])) for metric in rows[0]}
        return out


def _cut(example: Example, scores: np.ndarray, settings: Settings) -> list[int]:
    """The candidates the pipeline returns: ranked by `scores` (the chunk model's decision), the question's period
    preferred again on their probabilities (as the ranker's scores are), near-duplicates of better ones dropped, top_k."""
    order = np.argsort(-scores, kind="stable")
    probability = 1 / (1 + np.exp(-scores))
    ranked = [Document(id=example.documents[i].id, content=example.documents[i].content,
                       meta=example.documents[i].meta, score=float(probability[i])) for i in order]
    if example.period:
        prefer = QuestionPeriodPreference(boost=settings.period_boost, recency_boost=settings.recency_boost)
        ranked = prefer.run(documents=ranked, interpreted_filters=example.period)["documents"]
    kept = NearDuplicateFilter(top_k=settings.top_k, threshold=settings.duplicate_threshold).run(documents=ranked)
    position = {doc.id: i for i, doc in enumerate(example.documents)}
    return [position[doc.id] for doc in kept["documents"]]


def _answer_step(example: Example, top: list[int], unit_scores: np.ndarray, unit: LinearModel | None,
                 settings: Settings) -> tuple[str, np.ndarray, list[str]]:
    """The extractive answer and the answerability features, from the top chunks' units as the components see them."""
    documents = [example.documents[i] for i in top[: settings.answer_chunks]]
    units = units_of(example.question, documents)
    if unit is not None:
        scores = unit.decision(units.features) if units.rows else np.zeros(0)
    else:  # out-of-fold scores of the same units (same chunk, same position)
        by_unit = {(example.documents[i].id, p): s for (i, p, _), s in zip(example.units.rows, unit_scores)}
        scores = np.array([by_unit.get((documents[i].id, p), -10.0) for i, p, _ in units.rows])
    probability = 1 / (1 + np.exp(-scores))
    chosen = compose(example.question, units, probability, set(range(len(documents))), max_units=settings.max_units,
                     relative=settings.relative, completing=settings.completing)
    features = answerability_features(example.question, documents, units, scores)
    missing = example.question.missing_names([example.documents[i] for i in top[: settings.name_chunks]])
    return " ".join(units.rows[i][2] for i in chosen), features, missing


def cross_validate(examples: list[Example], settings: Settings, seed: int, progress=None) -> list[Outcome]:
    """One k-fold pass: every question answered by models fitted without it."""
    fold = assign_folds(examples, settings.folds, seed)
    unit_scores: list[np.ndarray] = [np.zeros(0)] * len(examples)
    for f in range(settings.folds):
        model = _fit_units([e for e, g in zip(examples, fold) if g != f], settings)
        for i, example in enumerate(examples):
            if fold[i] == f:
                unit_scores[i] = model.decision(example.units.features) if example.units.rows else np.zeros(0)
    chunk_x = [chunk_features(e.question, e.documents, e.focus, e.bm25, e.dense, e.units, s)
               for e, s in zip(examples, unit_scores)]
    outcomes: list[Outcome | None] = [None] * len(examples)
    for f in range(settings.folds):
        train = [i for i in range(len(examples)) if fold[i] != f and examples[i].answerable]
        model = fit_linear(np.vstack([chunk_x[i] for i in train]), np.concatenate([examples[i].passage for i in train]),
                           CHUNK_FEATURES, settings.chunk_c, balanced=True)
        for i, example in enumerate(examples):
            if fold[i] == f:
                top = _cut(example, model.decision(chunk_x[i]), settings)
                answer, features, missing = _answer_step(example, top, unit_scores[i], None, settings)
                outcomes[i] = Outcome(top=top, answer=answer, answerability_features=features, missing_names=missing,
                                      unit_scores=unit_scores[i])
                if progress:
                    progress()
    for f in range(settings.folds):
        train = [i for i in range(len(examples)) if fold[i] != f]
        model, threshold = _fit_answerability([examples[i] for i in train], [outcomes[i] for i in train], settings)
        for i in range(len(examples)):
            if fold[i] == f:
                outcomes[i].probability = float(model.probability(outcomes[i].answerability_features)[0])
                outcomes[i].refused = bool(outcomes[i].missing_names) or outcomes[i].probability < threshold
    return outcomes


def _fit_units(examples: list[Example], settings: Settings) -> LinearModel:
    train = [e for e in examples if e.answerable and e.item.get("key_facts") and e.units.rows]
    return fit_linear(np.vstack([e.units.features for e in train]), np.concatenate([e.unit_labels for e in train]),
                      UNIT_FEATURES, settings.unit_c, balanced=False)


def _fit_answerability(examples: list[Example], outcomes: list[Outcome], settings: Settings) -> tuple[LinearModel, float]:
    """The model on the questions the name rule lets through, and its threshold: the wrong refusals the budget
    leaves after the rule's own."""
    through = [i for i, o in enumerate(outcomes) if not o.missing_names]
    x = np.vstack([outcomes[i].answerability_features for i in through])
    y = np.array([float(examples[i].answerable) for i in through])
    model = fit_linear(x, y, ANSWERABILITY_FEATURES, settings.answerability_c, balanced=True)
    answerable_total = sum(e.answerable for e in examples)
    by_rule = sum(e.answerable and bool(o.missing_names) for e, o in zip(examples, outcomes))
    allowed = max(0, int(np.floor(settings.wrong_refusals * answerable_total)) - by_rule)
    answerable = np.sort(model.probability(x[y == 1]))
    return model, float(answerable[allowed]) if allowed < len(answerable) else 0.0


def score(examples: list[Example], outcomes: list[Outcome]) -> dict[str, Any]:
    """passage@1, hit@1, passage@5, key facts, wrong refusals (answerable), refusals (unanswerable), answer words;
    per question type and `all`; plus the answerability's ROC AUC."""
    by_type: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for example, outcome in zip(examples, outcomes):
        rows = by_type[example.kind], by_type["all"]
        if not example.answerable:
            for row in rows:
                row["refused"].append(float(outcome.refused))
            continue
        facts = [normalise(f) for f in example.item.get("key_facts", [])]
        answer = "" if outcome.refused else normalise(outcome.answer)
        values = {
            "passage@1": example.passage[outcome.top[0]] if outcome.top else 0.0,
            "hit@1": example.relevant[outcome.top[0]] if outcome.top else 0.0,
            "passage@5": float(any(example.passage[i] for i in outcome.top[:5])),
            "key_facts": sum(f in answer for f in facts) / len(facts) if facts else None,
            "wrongly_refused": float(outcome.refused),
            "answer_words": float(len(outcome.answer.split())),
        }
        for row in rows:
            for metric, value in values.items():
                if value is not None:
                    row[metric].append(float(value))
    labels = [float(e.answerable) for e in examples]
    auc = roc_auc_score(labels, [o.probability for o in outcomes]) if 0 < sum(labels) < len(labels) else None
    table = {kind: {metric: (float(np.median(v)) if metric == "answer_words" else float(np.mean(v)))
                    for metric, v in row.items()} for kind, row in by_type.items()}
    return {"by_type": table, "answerability_auc": auc}


def final_fit(examples: list[Example], settings: Settings, outcomes: list[Outcome], provenance: dict[str, Any]) -> EvidenceModel:
    """The shipped model: the unit model on all questions; the chunk and answerability models on all questions with
    the first seed's out-of-fold unit scores and answer features (stacking, as in the k-fold figures)."""
    unit = _fit_units(examples, settings)
    answerable = [i for i, e in enumerate(examples) if e.answerable]
    chunk_x = [chunk_features(e.question, e.documents, e.focus, e.bm25, e.dense, e.units, o.unit_scores)
               for e, o in zip(examples, outcomes)]
    chunk = fit_linear(np.vstack([chunk_x[i] for i in answerable]),
                       np.concatenate([examples[i].passage for i in answerable]), CHUNK_FEATURES, settings.chunk_c,
                       balanced=True)
    answerability, threshold = _fit_answerability(examples, outcomes, settings)
    return EvidenceModel(unit=unit, chunk=chunk, answerability=answerability, refuse_below=threshold,
                         provenance=provenance)
