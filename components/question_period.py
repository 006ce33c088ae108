import re
from dataclasses import replace
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.document_stores.types import DocumentStore

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December)"
# The question states the time of the release: "in 2023", "during March 2024", "announced in 2022".
_STATED_PERIOD = re.compile(rf"\b(?:in|during|throughout|since)\s+(?:(?:early|late|mid-?)\s*)?(?:{_MONTH}\s+)?(?P<year>20\d\d)\b(?!\s*[-–]?\s*(?:\d|[A-Za-z]+\s+(?:study|report|edition|event|day)))", re.I)
# A year named in passing ("the 2024 study", "its 2022 Network Day"): prefer, do not exclude.
_NAMED_YEAR = re.compile(rf"\b(?:{_MONTH}\s+)?(?P<year>20\d\d)\b", re.I)
_RELATIVE_YEAR = re.compile(r"\b(?P<which>last|this|previous|past)\s+year\b", re.I)
_LATEST = re.compile(r"\b(latest|most recent|newest|recently|ultimately|currently|now|today)\b", re.I)


def _period(year: int, month: str | None) -> dict[str, str]:
    if month:
        number = _MONTHS.index(month.lower()) + 1
        return {"from": f"{year:04d}-{number:02d}", "to": f"{year:04d}-{number:02d}"}
    return {"from": f"{year:04d}", "to": f"{year:04d}"}


def _mentions(document: Document, period: dict[str, str]) -> bool:
    """Whether the release speaks of the period: one of its dates, or its latest year, lies in it."""
    start, end = period["from"], period["to"]
    dates = document.meta.get("dates") or []
    if any(start <= date[: len(start)] <= end for date in dates):
        return True
    year = document.meta.get("year")
    return len(start) == 4 and year is not None and start <= f"{int(year):04d}" <= end


@component
class QuestionPeriodPreference:
    """
    Reads the time a question asks about and prefers releases from that period among the retrieved chunks.

    The releases carry no publication date (see ../shared/DATA.md): `ReleaseMetadataExtractor` stores
    the dates a release mentions (`meta.dates`) and its latest year (`meta.year`). This component
    recognises
    - a stated period, "in 2023", "during March 2024", "in early 2022", and "last year"/"this year"
      (relative to the newest `meta.year` in the store): a **filter** — candidates whose release does not
      mention the period are dropped (when none would remain, nothing is dropped);
    - a year named in passing ("the 2024 study", "its 2022 Network Day"): a **boost** of `boost` on the
      fused score of chunks whose release mentions it;
    - "the latest …", "most recent", "ultimately": a recency boost, growing with `meta.year` over the
      candidates' span.
    Given `interpreted_filters` (an earlier step's reading), it applies that reading again: after a ranker that
    scores evidence, the period a question names still decides between chunks of equal evidence.

    It works on the fused candidates rather than as a store filter because `meta.year` is the latest
    year a release *mentions*, not when it was published: a store filter `meta.year == 2023` would lose
    a 2023 release that announces a 2024 date. What it read is returned as `interpreted_filters`.

    Haystack has no component that turns words of a question into metadata filters without an LLM.

    ### Usage example

    Between the joiner and the ranker, as in search.yml:

    ```python
    from haystack import Document
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from components.question_period import QuestionPeriodPreference

    fused = [Document(content="Fiber for Bonn.", meta={"year": 2023, "dates": ["2023-03"]}, score=0.5),
             Document(content="Fiber for Kiel.", meta={"year": 2021, "dates": ["2021-05"]}, score=0.6)]
    prefer = QuestionPeriodPreference(document_store=InMemoryDocumentStore())
    result = prefer.run(query="What did Telekom announce in 2023 about fiber?", documents=fused)
    # result["documents"]: the 2023 release only; result["interpreted_filters"] says it filtered by 2023
    ```
    """

    def __init__(self, document_store: DocumentStore | None = None, boost: float = 0.3, recency_boost: float = 0.3) -> None:
        """
        :param document_store: The store, to find the newest year for "last year"; without one the
            candidates' newest year is used.
        :param boost: Factor added to the fused score of a chunk from the period a question names in passing.
        :param recency_boost: Factor added, at most, to the newest chunks' fused score for "the latest …".
        """
        if boost < 0 or recency_boost < 0:
            raise ValueError("boost and recency_boost must not be negative")
        self.document_store = document_store
        self.boost = boost
        self.recency_boost = recency_boost
        self._newest_year: tuple[int, int | None] | None = None  # (document count, newest year)

    def to_dict(self) -> dict[str, Any]:
        """Serialize, the store included."""
        return default_to_dict(
            self, document_store=self.document_store, boost=self.boost, recency_boost=self.recency_boost
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QuestionPeriodPreference":
        """Deserialize, the store included (Haystack rebuilds a serialized store from its `type`)."""
        return default_from_dict(cls, data)

    def newest_year(self, documents: list[Document]) -> int | None:
        """The newest `meta.year` in the store (cached per document count), else among `documents`."""
        if self.document_store is not None:
            count = self.document_store.count_documents()
            if self._newest_year is None or self._newest_year[0] != count:
                self._newest_year = (count, self._newest_year_in_store())
            if self._newest_year[1] is not None:
                return self._newest_year[1]
        years = [d.meta["year"] for d in documents if d.meta.get("year")]
        return max(years) if years else None

    def _newest_year_in_store(self) -> int | None:
        """The store's largest `meta.year`: its own aggregate where it has one (Haystack's
        `get_metadata_field_min_max`: the embedded store's column, a cluster's stats aggregation), else from
        every document."""
        min_max = getattr(self.document_store, "get_metadata_field_min_max", None)
        if min_max is not None:
            newest = min_max("meta.year").get("max")
            return int(newest) if newest else None
        years = [d.meta["year"] for d in self.document_store.filter_documents() if d.meta.get("year")]
        return max(years) if years else None

    def interpret(self, query: str, documents: list[Document]) -> dict[str, Any] | None:
        """What period the question asks about and how it is applied (`filter`, `boost`, `recency`), or None."""
        years = {m["year"] for m in _NAMED_YEAR.finditer(query)}
        if len(years) > 1:  # "in 2022 compared with 2023": both periods matter, none may be filtered out
            return {"mode": "boost", "text": ", ".join(sorted(years)),
                    "periods": [_period(int(y), None) for y in sorted(years)]}
        stated = _STATED_PERIOD.search(query)
        if stated:
            return {"mode": "filter", "text": stated.group(0),
                    "period": _period(int(stated["year"]), stated["month"])}
        relative = _RELATIVE_YEAR.search(query)
        if relative:
            newest = self.newest_year(documents)
            if newest is not None:
                year = newest if relative["which"].lower() == "this" else newest - 1
                return {"mode": "filter", "text": relative.group(0), "period": _period(year, None),
                        "relative_to": f"newest release year in the index, {newest}"}
        named = _NAMED_YEAR.search(query)
        if named:
            return {"mode": "boost", "text": named.group(0), "period": _period(int(named["year"]), named["month"])}
        latest = _LATEST.search(query)
        if latest:
            return {"mode": "recency", "text": latest.group(0)}
        return None

    @component.output_types(documents=list[Document], interpreted_filters=dict)
    def run(self, documents: list[Document], query: str = "", interpreted_filters: dict | None = None) -> dict[str, Any]:
        """
        Filter or re-weight `documents` by the period `query` names.

        :param documents: Retrieval results with scores (fused, or a ranker's).
        :param query: The question.
        :param interpreted_filters: What an earlier step of this kind read from the question, applied as it is
            instead of reading `query` again (search.yml applies the period once more after the evidence ranker).
        :returns: `documents` (re-weighted or filtered, order by score) and `interpreted_filters`
            (`{}` when the question names no time; else mode, the words read and the period).
        """
        if interpreted_filters is not None:
            interpreted = dict(interpreted_filters)
        else:
            interpreted = self.interpret(query, documents) if query else None
        if not interpreted or not documents:
            return {"documents": documents, "interpreted_filters": interpreted or {}}
        mode = interpreted["mode"]
        if mode == "filter":
            # by year: a release of that month may date its events by day only ("on December 9")
            year = interpreted["period"]["from"][:4]
            kept = [d for d in documents if _mentions(d, {"from": year, "to": year})]
            interpreted["matched"] = len(kept)
            if not kept:
                interpreted["mode"] = "filter (no candidate from the period: not applied)"
                return {"documents": documents, "interpreted_filters": interpreted}
            documents = kept
        if mode.startswith("filter") or mode == "boost":
            periods = interpreted.get("periods") or [interpreted["period"]]
            factors = [1 + self.boost * any(_mentions(d, p) for p in periods) for d in documents]
        else:
            years = [d.meta.get("year") for d in documents]
            known = [y for y in years if y]
            low, high = (min(known), max(known)) if known else (0, 0)
            span = max(1, high - low)
            factors = [1 + self.recency_boost * ((y - low) / span if y else 0.0) for y in years]
        weighted = [replace(d, score=(d.score or 0.0) * f) for d, f in zip(documents, factors, strict=True)]
        weighted.sort(key=lambda d: d.score or 0.0, reverse=True)
        return {"documents": weighted, "interpreted_filters": interpreted}
