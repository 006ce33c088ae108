"""Training examples: each question's candidates as search.yml retrieves them, with features and labels."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from haystack import Document, Pipeline

from components.passage_focus_ranker import PassageFocusRanker
from kit.evidence import Question, Units, units_of
from kit.loader import ALLOWED_MODULES, pipeline_spec, spec_yaml
from scripts.evaluation.metrics import Gold, chunk_from_haystack, holds_passage, is_relevant, normalise

# The components of search.yml the candidates are taken from (the evidence ranker and the cut come after them).
CANDIDATES_FROM = "period"
SCORED_BY = {"bm25": "bm25_retriever", "dense": "embedding_retriever"}


@dataclass
class Example:
    """One question with its candidates, their features' inputs and the labels."""

    item: dict[str, Any]
    question: Question
    documents: list[Document]          # the candidates in the period step's order, with fused scores
    period: dict[str, Any]             # what the period step read from the question (search.yml applies it again)
    bm25: dict[str, float]
    dense: dict[str, float]
    focus: np.ndarray
    units: Units
    unit_labels: np.ndarray            # the unit holds a key fact
    passage: np.ndarray                # the chunk holds a gold quote (passage@k)
    relevant: np.ndarray               # the chunk is from a gold release or holds a quote (hit@k)

    @property
    def kind(self) -> str:
        return self.item["type"]

    @property
    def answerable(self) -> bool:
        return Gold.from_item(self.item).answerable


def candidate_pipeline() -> Pipeline:
    """search.yml (with its store and embedding profiles) up to the step the evidence ranker reads from."""
    spec = copy.deepcopy(pipeline_spec("search", "search"))
    keep = _upstream(spec, CANDIDATES_FROM)
    spec["components"] = {name: block for name, block in spec["components"].items() if name in keep}
    spec["connections"] = [c for c in spec["connections"]
                           if c["sender"].split(".")[0] in keep and c["receiver"].split(".")[0] in keep]
    spec.pop("inputs", None)
    spec.pop("outputs", None)
    pipeline = Pipeline.loads(spec_yaml(spec), allowed_modules=ALLOWED_MODULES)
    pipeline.warm_up()
    return pipeline


def _upstream(spec: dict[str, Any], name: str) -> set[str]:
    """`name` and every component it receives from, transitively."""
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        todo += [c["sender"].split(".")[0] for c in spec["connections"] if c["receiver"].split(".")[0] == current]
    return found


def build_example(pipeline: Pipeline, item: dict[str, Any], focus_ranker: PassageFocusRanker) -> Example:
    """Retrieve `item`'s candidates and label them."""
    query = item["question"]
    inputs = {"query_embedder": {"text": query}, "bm25_retriever": {"query": query}, CANDIDATES_FROM: {"query": query}}
    result = pipeline.run(data=inputs, include_outputs_from=set(SCORED_BY.values()) | {CANDIDATES_FROM})
    documents = result[CANDIDATES_FROM]["documents"]
    period = result[CANDIDATES_FROM]["interpreted_filters"]
    question = Question.of(query)
    units = units_of(question, documents)
    gold = Gold.from_item(item)
    facts = [normalise(fact) for fact in item.get("key_facts", [])]
    chunks = [chunk_from_haystack(d) for d in documents]
    return Example(
        item=item, question=question, documents=documents, period=period,
        bm25={d.id: d.score or 0.0 for d in result[SCORED_BY["bm25"]]["documents"]},
        dense={d.id: d.score or 0.0 for d in result[SCORED_BY["dense"]]["documents"]},
        focus=focus_ranker.focus_scores(query, documents), units=units,
        unit_labels=np.array([any(f in normalise(text) for f in facts) for _, _, text in units.rows], dtype=float),
        passage=np.array([gold.answerable and holds_passage(c, gold) for c in chunks], dtype=float),
        relevant=np.array([gold.answerable and is_relevant(c, gold) for c in chunks], dtype=float),
    )
