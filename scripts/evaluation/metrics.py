"""The evaluation's metrics: pure functions over normalised chunks and answers.

- hit@k: one of the first k chunks is relevant: its release (`meta.file_path`'s basename) is a gold
  file, or its text contains a gold quote or is contained in one (such a chunk must have at least
  MIN_CONTAINED_CHUNK_CHARS characters).
- passage@k: one of the first k chunks holds a gold quote: their longest common substring covers at
  least PASSAGE_MIN_COVERAGE of the quote (so a quote cut by a chunk boundary still counts when most
  of it is in one chunk).
- file@1: the first chunk is from a gold release. MRR: 1/rank of the first chunk from a gold release,
  and files@10: the share of gold releases among the first 10 chunks (coverage, what multi_doc
  questions need); both computed by file with Haystack's DocumentMRREvaluator and
  DocumentRecallEvaluator (multi-hit) on `meta.file_path`, since they compare Documents by one field.
- answers: key_facts = share of key facts found in the answer; cited = the answer has a citation
  [n]; citations_valid = every [n] lies in 1..len(documents); citations_relevant = share of the
  citations that point to a relevant document (an out-of-range one counts as not relevant);
  refusal = the answer to an unanswerable question refuses (one of REFUSAL_PHRASES); wrong_refusal
  = an answerable question was refused; prompt_tokens when the reply carries `usage`.
All text comparisons are case-insensitive on normalised text (NFKC, so no-break spaces become spaces;
soft hyphens dropped; curly quotes and dashes made ASCII; whitespace collapsed).

    >>> gold = Gold.from_item({"gold_files": ["data/7.txt"], "gold_quotes": [], "key_facts": ["Hamburg"]})
    >>> retrieval_metrics([Chunk("3.txt", "…"), Chunk("7.txt", "…")], gold)["hit@3"]
    1.0
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import PurePosixPath
from typing import Any

from haystack import Document
from haystack.components.evaluators import DocumentMRREvaluator, DocumentRecallEvaluator

HIT_DEPTHS = (1, 3, 5, 10)
PASSAGE_DEPTHS = (1, 5)
PASSAGE_MIN_COVERAGE = 0.5
MIN_CONTAINED_CHUNK_CHARS = 30
REFUSAL_PHRASES = (
    "do not contain",
    "does not contain",
    "don't contain",
    "doesn't contain",
    "do not mention",
    "does not mention",
    "no information",
    "not found",
    "could not find",
    "couldn't find",
    "cannot find",
    "can't find",
    "cannot answer",
    "can't answer",
    "unable to answer",
    "not able to answer",
    "no relevant",
    "i don't know",
    "i do not know",
)
RETRIEVAL_METRICS = (*(f"hit@{k}" for k in HIT_DEPTHS), *(f"passage@{k}" for k in PASSAGE_DEPTHS), "file@1")
RANK_METRICS = ("MRR", "files@10")
ANSWER_METRICS = (
    "key_facts",
    "cited",
    "citations_valid",
    "citations_relevant",
    "refusal",
    "wrong_refusal",
    "answer_words",
    "unsupported_citations",
)
ALL_METRICS = (*RETRIEVAL_METRICS, *RANK_METRICS, *ANSWER_METRICS, "prompt_tokens")

# curly single and double quotes, en and em dash -> ASCII
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)
# at most 3 digits: a bracket of more is a release's own text, and int() refuses more than 4,300 digits
_CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def normalise(text: str) -> str:
    """Text for comparison: NFKC, no soft hyphens, ASCII quotes and dashes, single spaces, casefolded."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "").translate(_TYPOGRAPHY)
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Chunk:
    """A retrieved chunk as the metrics see it: its release's file name and its normalised text."""

    file: str
    text: str


@dataclass(frozen=True)
class Gold:
    """What a question's answer must come from and contain, normalised."""

    files: frozenset[str]
    quotes: tuple[str, ...]
    key_facts: tuple[str, ...]

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Gold:
        return cls(
            files=frozenset(PurePosixPath(path).name for path in item.get("gold_files", [])),
            quotes=tuple(normalise(quote) for quote in item.get("gold_quotes", [])),
            key_facts=tuple(normalise(fact) for fact in item.get("key_facts", [])),
        )

    @property
    def answerable(self) -> bool:
        return bool(self.files or self.quotes)


def chunk_from_service(document: dict[str, Any]) -> Chunk:
    """A chunk from the service's JSON document shape."""
    file_path = (document.get("meta") or {}).get("file_path") or ""
    return Chunk(PurePosixPath(file_path).name, normalise(document.get("content") or ""))


def chunk_from_haystack(document: Document) -> Chunk:
    """A chunk from a Haystack Document (the baseline's)."""
    return Chunk(PurePosixPath(document.meta.get("file_path") or "").name, normalise(document.content or ""))


def is_relevant(chunk: Chunk, gold: Gold) -> bool:
    """From a gold release, or containing / contained in a gold quote."""
    if chunk.file in gold.files:
        return True
    long_enough = len(chunk.text) >= MIN_CONTAINED_CHUNK_CHARS
    return any(quote in chunk.text or (long_enough and chunk.text in quote) for quote in gold.quotes)


def quote_coverage(chunk_text: str, quote: str) -> float:
    """Share of the quote covered by its longest common substring with the chunk (normalised texts)."""
    if not quote:
        return 0.0
    if quote in chunk_text:
        return 1.0
    matcher = SequenceMatcher(None, chunk_text, quote, autojunk=False)
    return matcher.find_longest_match(0, len(chunk_text), 0, len(quote)).size / len(quote)


def holds_passage(chunk: Chunk, gold: Gold) -> bool:
    """The chunk holds most of a gold quote (see PASSAGE_MIN_COVERAGE)."""
    return any(quote_coverage(chunk.text, quote) >= PASSAGE_MIN_COVERAGE for quote in gold.quotes)


def retrieval_metrics(chunks: list[Chunk], gold: Gold) -> dict[str, float]:
    """hit@k, passage@k and file@1 of a ranked chunk list for an answerable question."""
    relevant = [is_relevant(chunk, gold) for chunk in chunks]
    passages = [holds_passage(chunk, gold) for chunk in chunks[: max(PASSAGE_DEPTHS)]]
    metrics = {f"hit@{k}": float(any(relevant[:k])) for k in HIT_DEPTHS}
    metrics |= {f"passage@{k}": float(any(passages[:k])) for k in PASSAGE_DEPTHS}
    metrics["file@1"] = float(bool(chunks) and chunks[0].file in gold.files)
    return metrics


def file_rank_metrics(rankings: list[list[Chunk]], golds: list[Gold]) -> list[dict[str, float]]:
    """MRR and files@10 per question, by release file, with Haystack's evaluators."""
    if not rankings:
        return []
    truth = [[Document(meta={"file_path": file}) for file in sorted(gold.files)] for gold in golds]
    retrieved = [[Document(meta={"file_path": chunk.file}) for chunk in ranking] for ranking in rankings]
    top_ten = [documents[:10] for documents in retrieved]
    mrr = DocumentMRREvaluator(document_comparison_field="meta.file_path").run(truth, retrieved)
    recall = DocumentRecallEvaluator(mode="multi_hit", document_comparison_field="meta.file_path").run(truth, top_ten)
    return [
        {"MRR": reciprocal_rank, "files@10": coverage}
        for reciprocal_rank, coverage in zip(mrr["individual_scores"], recall["individual_scores"], strict=True)
    ]


def citations(answer: str) -> list[int]:
    """The numbers cited as [n], [n, m] or [n][m], in order."""
    return [int(number) for group in _CITATION.findall(answer) for number in re.split(r"\s*[,;]\s*", group)]


def key_fact_share(answer: str, key_facts: tuple[str, ...]) -> float | None:
    """Share of the (normalised) key facts found in the answer; None without key facts."""
    if not key_facts:
        return None
    text = normalise(answer)
    return sum(fact in text for fact in key_facts) / len(key_facts)


def is_refusal(answer: str) -> bool:
    """The answer says the sources do not hold the answer."""
    text = normalise(answer)
    return any(phrase in text for phrase in REFUSAL_PHRASES)


def answer_metrics(answer: str, documents: list[Chunk], gold: Gold, with_citations: bool) -> dict[str, float | None]:
    """Key facts, refusal and (for answers that cite) citation metrics of one answer."""
    refused = float(is_refusal(answer))
    metrics: dict[str, float | None] = {
        "key_facts": key_fact_share(answer, gold.key_facts) if gold.answerable else None,
        "refusal": None if gold.answerable else refused,
        "wrong_refusal": refused if gold.answerable else None,
        "answer_words": float(len(_CITATION.sub(" ", answer).split())) if gold.answerable and not refused else None,
    }
    if not with_citations:
        return metrics
    cited = citations(answer)
    in_range = [documents[number - 1] for number in cited if 1 <= number <= len(documents)]
    metrics["cited"] = float(bool(cited)) if gold.answerable else None
    metrics["citations_valid"] = float(len(in_range) == len(cited)) if cited else None
    if cited and gold.answerable:
        metrics["citations_relevant"] = sum(is_relevant(chunk, gold) for chunk in in_range) / len(cited)
    return metrics


def aggregate(per_question: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Mean of every metric over the questions that have it."""
    result: dict[str, float | None] = {}
    for name in ALL_METRICS:
        values = [metrics[name] for metrics in per_question if metrics.get(name) is not None]
        result[name] = sum(values) / len(values) if values else None
    return result


def score(
    rankings: list[list[Chunk]],
    answers: list[tuple[str, list[Chunk]]],
    golds: list[Gold],
    with_citations: bool,
) -> list[dict[str, float | None]]:
    """Per-question metrics of one system: its search rankings and its (answer, answer's documents)."""
    answerable = [index for index, gold in enumerate(golds) if gold.answerable]
    ranks = file_rank_metrics([rankings[i] for i in answerable], [golds[i] for i in answerable])
    rank_metrics = dict(zip(answerable, ranks, strict=True))
    scored = []
    for index, (gold, ranking, (answer, documents)) in enumerate(zip(golds, rankings, answers, strict=True)):
        metrics: dict[str, float | None] = {}
        if gold.answerable:
            metrics |= retrieval_metrics(ranking, gold) | rank_metrics[index]
        metrics |= answer_metrics(answer, documents, gold, with_citations)
        scored.append(metrics)
    return scored
