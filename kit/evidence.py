"""Answer evidence: the features of answer units (the sentences an answer is made of) and of chunks, and the small
learned models that weigh them. Shared by the components that rank chunks (`EvidenceRanker`), check whether the
sources answer at all (`AnswerabilityCheck`) and extract answers (`ExtractiveAnswerer`), and by the trainer
(`pressqa-train`), so that what is trained is exactly what runs.

- An **answer unit** is a sentence of a chunk (a line that runs on into the next is joined with it; headings, table
  rows and fragments cut by the chunk's start are left out): `evidence_units(chunk text)`.
- **Features** describe a unit or chunk against the question: how much of the question's wording it holds
  (names and figures double), whether it holds the kind of answer asked for (kit/asked_answers.py), where it stands
  in its release, and for chunks their retrieval scores. Relative forms (minus the best candidate's value) let one
  linear model compare candidates of one question. (Each sentence's embedding similarity to the question was
  measured as a feature too, from vectors computed at indexing: no gain on the 115 development questions, at 60 %
  more indexing time; README, "Results".)
- **Models** are standardised logistic regressions (`LinearModel`), stored as JSON numbers in one
  `EvidenceModel` file with the composition settings and the refusal threshold; `pressqa-train` fits them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document

from kit import asked_answers
from kit.asked_answers import asked_kinds, gives
from kit.loader import REPO_ROOT
from kit.text_terms import content_terms, sentences, term_set

# --------------------------------------------------------------------------------------------------- answer units
_TABLE_CELL = " | "  # TableFlattener joins a table row's cells with " | "
_OPEN_END = re.compile(r"(,|;|\b(and|or|for|of|to|with|the|a|an|in|on|at|by|from|as|that|which|plus))$", re.I)


def answer_units(text: str) -> list[str]:
    """The chunk's sentences as answer candidates: a line that runs on into the next ("costs 211.50 euros per month
    and" / "1 GB data volume …") is joined with it; a fragment cut by the chunk's start (lower-case first word) is
    left out, one cut by its end ends in " …"."""
    units: list[str] = []
    parts = sentences(text)
    index = 0
    while index < len(parts):
        unit = parts[index]
        while _OPEN_END.search(unit.rstrip()) and index + 1 < len(parts) and len(unit.split()) < 80:
            index += 1
            unit = f"{unit} {parts[index]}"
        index += 1
        if unit[:1].islower():
            continue
        if _OPEN_END.search(unit.rstrip()):  # cut by the chunk's end: keep what it says, mark the cut
            unit = _OPEN_END.sub("", unit.rstrip()).rstrip(" ,;") + " …"
        units.append(unit)
    return units


def is_table_row(text: str) -> bool:
    return text.count(_TABLE_CELL) >= 2


# How many chunks the caches below hold (a chunk has ~9 units): `prepare_chunk` fills them for a whole index of up to
# this many chunks at start (1x is 1,613), so that the first questions do not stem and scan their sentences.
PREPARED_CHUNKS = 8192


def prepare_chunk(text: str, title: str = "") -> None:
    """Work out what the features need of a chunk and each of its units for any question: terms, names, figures,
    length and the kinds of answer a unit gives (the caches of `units_of` and `chunk_features`)."""
    term_set(text)
    term_set(title)
    for unit in evidence_units(text):
        _unit_facts(unit)
        asked_answers.prepare(unit)


@lru_cache(maxsize=PREPARED_CHUNKS)
def evidence_units(text: str) -> tuple[str, ...]:
    """The answer units that can carry an answer: no heading (a short line ending with ':'), no table row."""
    return tuple(u for u in answer_units(text) if not (u.endswith(":") and len(u.split()) < 8) and not is_table_row(u))


# ------------------------------------------------------------------------------------------------ the question
_NAME = re.compile(r"\b[A-Z][\w&.'’-]*[A-Za-z0-9]")
_FIGURE = re.compile(r"\d[\d.,]*")
_TOKEN = re.compile(r"[\w][\w.'’&-]*[\w]|[\w]")
_UNIT = re.compile(r"\d*[kMGTP]?(?:bit|bps|Hz|B|Wh|W)(?:/s)?", re.I)
# Names that every release shares: their presence says nothing about whether a source is about the asked thing.
GENERIC_NAMES = frozenset(
    """deutsche telekom telekom's t-systems t-mobile germany german europe european dt ag group magenta
    i ceo cto board""".split()
)


def name_tokens(question: str) -> list[str]:
    """The question's tokens that name something: capitalised after the first word, acronyms, figures (not a day
    number, not "X-style")."""
    names = []
    for index, token in enumerate(_TOKEN.findall(question)):
        token = token.strip(".,'’")
        has_digit = any(c.isdigit() for c in token)
        is_acronym = len(token) >= 2 and sum(c.isupper() for c in token) >= 2
        capitalised = token[:1].isupper() and index > 0
        if not (has_digit or is_acronym or capitalised) or re.fullmatch(r"\d{1,2}|(?:19|20)\d\d", token):
            continue  # a day or a count, or a year (the question's period is search.yml's `period` step's concern)
        if _UNIT.fullmatch(token):  # "Gbit", "GHz", "kWh": written out as often ("gigabits")
            continue
        if re.search(r"-(style|like|type|based|powered|inspired)$", token, re.I):  # "ChatGPT-style": like X, not X
            continue
        if re.search(r"-[a-z]+$", token) and not any(c.isdigit() for c in token.rsplit("-", 1)[1]):
            token = token.rsplit("-", 1)[0]  # "BMBF-funded", "Telekom-offered": the name is before the hyphen
        names.append(token)
    return names


def plain_name(token: str) -> str:
    return re.sub(r"['’]s$", "", token.lower())


def mentions(text: str, name: str) -> bool:
    """`name` (lower case) in `text` (lower case) at a word start: "5G" in "5G-based", "Starlink" in "Starlink's"."""
    return re.search(rf"(?<![\w]){re.escape(name)}", text) is not None


@dataclass
class Question:
    """What the features need of a question, worked out once."""

    text: str
    weights: dict[str, float]   # content term -> 1, or 2 for names and figures
    total: float
    kinds: list[str]            # fine kinds of answer asked, per part (kit/asked_answers.py)
    names: frozenset[str]       # capitalised words of the question, lower case
    figures: frozenset[str]
    subjects: dict[str, str]    # distinctive names (not shared by every release): lower case -> as written

    @classmethod
    def of(cls, text: str) -> Question:
        weights: dict[str, float] = {}
        for term in content_terms(text):
            named = any(c.isdigit() for c in term) or re.search(rf"\b[A-Z][\w-]*{re.escape(term[1:])}", text)
            weights[term] = max(weights.get(term, 0.0), 2.0 if named else 1.0)
        subjects = {plain_name(t): re.sub(r"['’]s$", "", t) for t in name_tokens(text)
                    if plain_name(t) not in GENERIC_NAMES and t.lower() not in GENERIC_NAMES}
        return cls(text=text, weights=weights, total=sum(weights.values()) or 1.0, kinds=asked_kinds(text),
                   names=frozenset(w.lower() for w in _NAME.findall(text)),
                   figures=frozenset(_FIGURE.findall(text)), subjects=subjects)

    def coverage(self, terms: frozenset[str]) -> float:
        """Weighted share of the question's words among `terms`."""
        weights = self.weights
        return sum(weights[t] for t in weights.keys() & terms) / self.total

    def anchoring(self, text: str) -> float:
        """Share of the question's distinctive names that `text` mentions (1 when it has none)."""
        if not self.subjects:
            return 1.0
        lower = text.lower()
        return sum(mentions(lower, name) for name in self.subjects) / len(self.subjects)

    def missing_names(self, documents: list[Document]) -> list[str]:
        """The question's names, products and figures (as written) that none of `documents` mentions."""
        text = " ".join((d.content or "") + " " + str(d.meta.get("title") or "") for d in documents).lower()
        return [written for name, written in self.subjects.items() if not mentions(text, name)]


@lru_cache(maxsize=16 * PREPARED_CHUNKS)
def _unit_facts(text: str) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...], float]:
    """What features need of a unit regardless of the question (cached: units come back question after question):
    its terms, its names after the first word, its figures, its length (80 words = 1)."""
    return term_set(text), tuple(_NAME.findall(text)[1:]), tuple(_FIGURE.findall(text)), min(len(text.split()), 80) / 80


# ------------------------------------------------------------------------------------------------ unit features
UNIT_FEATURES = (
    "kind_any", "kind_all", "kind_first", "coverage", "coverage_rel", "first_unit", "position", "length", "new_names",
    "new_figures", "chunk_coverage", "lead_chunk",
)


@dataclass
class Units:
    """The evidence units of some chunks: (chunk index, position, text) rows and their feature matrix."""

    rows: list[tuple[int, int, str]]
    features: np.ndarray


def units_of(question: Question, documents: list[Document]) -> Units:
    """Every evidence unit of `documents` with its features (order: chunk, then position)."""
    rows = [(index, position, unit) for index, doc in enumerate(documents)
            for position, unit in enumerate(evidence_units(doc.content or ""))]
    if not rows:
        return Units(rows, np.zeros((0, len(UNIT_FEATURES))))
    facts = [_unit_facts(text) for _, _, text in rows]
    coverage = np.array([question.coverage(terms) for terms, _, _, _ in facts])
    chunk_terms: dict[int, set[str]] = {}
    for (index, _, _), (terms, _, _, _) in zip(rows, facts):
        chunk_terms.setdefault(index, set()).update(terms)
    chunk_coverage = {index: question.coverage(frozenset(terms)) for index, terms in chunk_terms.items()}
    lead = [float(_split_id(doc) == 0) for doc in documents]
    best_coverage = coverage.max()
    asked = len(question.kinds)
    table = []
    for i, ((index, position, text), (_, names, figures, length)) in enumerate(zip(rows, facts)):
        kinds = [kind for kind in question.kinds if gives(text, kind, question.text)]
        table.append((
            float(bool(kinds)) if asked else 0.5,
            len(kinds) / asked if asked else 0.5,
            float(asked > 0 and question.kinds[0] in kinds),
            coverage[i],
            coverage[i] - best_coverage,
            float(position == 0),
            1 / (1 + position),
            length,
            min(sum(1 for n in names if n.lower() not in question.names), 5) / 5,
            min(sum(1 for f in figures if f not in question.figures), 5) / 5,
            chunk_coverage[index],
            lead[index],
        ))
    return Units(rows, np.array(table))


def _split_id(doc: Document) -> int:
    return int(doc.meta.get("split_id") or 0)


# ----------------------------------------------------------------------------------------------- chunk features
CHUNK_FEATURES = (
    "fused", "bm25", "dense", "focus", "lead_chunk", "split_position", "title_coverage", "chunk_coverage",
    "release_best", "unit_best", "unit_second", "unit_best_rel",
)


def chunk_features(question: Question, documents: list[Document], focus: np.ndarray, bm25: dict[str, float],
                   dense: dict[str, float], units: Units, unit_scores: np.ndarray) -> np.ndarray:
    """Per chunk: its fused score (rescaled to the best), BM25 (rescaled) and embedding scores where it was
    retrieved that way, passage focus, place in its release, title and chunk coverage of the question, the best
    fused score of its release, and its best units' scores."""
    fused = np.array([d.score or 0.0 for d in documents])
    fused = fused / fused.max() if len(fused) and fused.max() > 0 else fused
    bm25_best = max(bm25.values(), default=0.0) or 1.0
    release_best: dict[str, float] = {}
    for doc, value in zip(documents, fused):
        release = str(doc.meta.get("file_path"))
        release_best[release] = max(release_best.get(release, 0.0), float(value))
    per_chunk: dict[int, list[float]] = {}
    for (index, _, _), score in zip(units.rows, unit_scores):
        per_chunk.setdefault(index, []).append(float(score))
    overall_best = max((max(v) for v in per_chunk.values()), default=0.0)
    features = np.empty((len(documents), len(CHUNK_FEATURES)))
    for i, doc in enumerate(documents):
        scores = sorted(per_chunk.get(i, []), reverse=True)
        best = scores[0] if scores else overall_best - 10.0  # no unit: far below the others
        features[i] = (
            fused[i],
            bm25.get(doc.id, 0.0) / bm25_best,
            dense.get(doc.id, 0.0),
            focus[i],
            float(_split_id(doc) == 0),
            min(_split_id(doc), 10) / 10,
            question.coverage(term_set(str(doc.meta.get("title") or ""))),
            question.coverage(term_set(doc.content or "")),
            release_best[str(doc.meta.get("file_path"))],
            best,
            scores[1] if len(scores) > 1 else best,
            best - overall_best,
        )
    return features


# ---------------------------------------------------------------------------------------- answerability features
ANSWERABILITY_FEATURES = (
    "typed_unit", "typed_anchor_chunk", "typed_anchor_unit", "typed_coverage", "kind_found", "anchored_typed_unit",
    "anchored_typed_coverage",
)


def answerability_features(question: Question, documents: list[Document], units: Units,
                           unit_scores: np.ndarray) -> np.ndarray:
    """Whether a unit holds the asked kind of answer *about the asked thing*: the best such unit's score, how many of
    the question's distinctive names it and its chunk mention, its coverage; the same for the best such unit whose
    chunk mentions all those names."""
    first_kind = question.kinds[0] if question.kinds else None
    typed = [i for i, (_, _, text) in enumerate(units.rows) if first_kind is None or gives(text, first_kind, question.text)]
    anchoring = {index: question.anchoring(f"{doc.content or ''} {doc.meta.get('title') or ''}")
                 for index, doc in enumerate(documents)}
    anchored = [i for i in typed if anchoring[units.rows[i][0]] == 1.0]
    coverage = UNIT_FEATURES.index("coverage")
    features = [-10.0, 0.0, 0.0, 0.0, 0.0, -10.0, 0.0]
    if typed:
        best = max(typed, key=lambda i: unit_scores[i])
        features[:5] = [float(unit_scores[best]), anchoring[units.rows[best][0]], question.anchoring(units.rows[best][2]),
                        units.features[best, coverage], 1.0]
    if anchored:
        best = max(anchored, key=lambda i: unit_scores[i])
        features[5:] = [float(unit_scores[best]), units.features[best, coverage]]
    return np.array(features)


# ------------------------------------------------------------------------------------------------------ models
@dataclass
class LinearModel:
    """A logistic regression on standardised features: decision = ((x - mean) / scale) · coef + intercept."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def decision(self, features: np.ndarray) -> np.ndarray:
        x = (np.atleast_2d(features) - np.array(self.mean)) / np.array(self.scale)
        return x @ np.array(self.coef) + self.intercept

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-self.decision(features)))


def resolve_model_path(model_path: str | Path) -> Path:
    """A model file's path; a relative one is taken from the repository's root (where `models/` lies)."""
    path = Path(model_path)
    return path if path.is_absolute() else REPO_ROOT / path


@dataclass
class EvidenceModel:
    """The three fitted models and when to refuse; `pressqa-train` writes it."""

    unit: LinearModel
    chunk: LinearModel
    answerability: LinearModel
    refuse_below: float                      # P(answerable) under which the sources are said not to answer
    provenance: dict[str, Any] = field(default_factory=dict)  # what it was fitted on, how, and the k-fold figures

    @classmethod
    def load(cls, path: str | Path) -> EvidenceModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for part, names in (("unit", UNIT_FEATURES), ("chunk", CHUNK_FEATURES), ("answerability", ANSWERABILITY_FEATURES)):
            if list(data[part]["features"]) != list(names):
                raise ValueError(f"{path}: the {part} model was fitted on other features than this code computes; "
                                 "retrain it with pressqa-train")
        return cls(unit=LinearModel(**data["unit"]), chunk=LinearModel(**data["chunk"]),
                   answerability=LinearModel(**data["answerability"]), refuse_below=data["refuse_below"],
                   provenance=data.get("provenance", {}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------ composition
def compose(question: Question, units: Units, probabilities: np.ndarray, allowed: set[int], max_units: int = 3,
            relative: float = 0.4, completing: float = 0.1) -> list[int]:
    """The units of an extractive answer (row indices, in reading order): the most probable unit of the `allowed`
    chunks, then others while they are at least `relative` times as probable, or `completing` times when they give
    a kind of answer the question asks for and the chosen ones do not yet give (a two-part question)."""
    candidates = sorted((i for i, row in enumerate(units.rows) if row[0] in allowed), key=lambda i: -probabilities[i])
    if not candidates:
        return []
    best = candidates[0]
    chosen = [best]
    given = {kind for kind in question.kinds if gives(units.rows[best][2], kind, question.text)}
    for i in candidates[1:]:
        if len(chosen) >= max_units:
            break
        text = units.rows[i][2]
        new_kinds = {kind for kind in question.kinds if kind not in given and gives(text, kind, question.text)}
        if probabilities[i] >= relative * probabilities[best] or (new_kinds and probabilities[i] >= completing * probabilities[best]):
            chosen.append(i)
            given |= new_kinds
    return sorted(chosen, key=lambda i: (units.rows[i][0], units.rows[i][1]))
