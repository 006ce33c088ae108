"""Metadata filters of the embedded store on per-field columns, with Haystack's semantics (issue #23).

Haystack's `InMemoryDocumentStore` evaluates a filter by calling `document_matches_filter` on every document:
pure Python that grows with the corpus, on every filtered search and on every indexing batch (the writer
finds a release's older chunks by `file_path in [...]`). Here each field a filter names gets a column, made
on first use and then extended with each version's new rows: the rows of each value, and the values as
float64 when all of them are numbers. A comparison is answered from a column only where that gives
exactly Haystack's result:

- `==`, `!=`, `in`, `not in` with values that are hashable and not dates (Haystack compares ISO dates as
  dates: "2024-01-01" equals "2024-01-01T00:00:00"): a lookup by hash is Python's `==`, which Haystack uses;
- `>`, `>=`, `<`, `<=` with a number, on a field whose values are all numbers (or missing) and exact in
  float64: Haystack compares them as Python numbers; a missing value never matches;
- `AND`, `OR`, `NOT` combine masks.

Every other comparison (dates, strings with `>`, lists, a malformed filter) is evaluated by Haystack's own
`document_matches_filter`, on exactly the documents Haystack's short-circuit evaluation reaches (those still
undecided by the conditions before it), so it matches, or raises the same `FilterError`, as Haystack's
store does. `tests/stores/inmemory/test_filter_columns.py` compares both on generated filters.
"""

import math
import threading
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from haystack import Document
from haystack.utils.filters import _looks_like_iso_date, document_matches_filter

if TYPE_CHECKING:
    from stores.inmemory.store_search_index import StoreSearchIndex

_DOCUMENT_FIELDS = frozenset(f.name for f in fields(Document))
_EXACT = 2**53  # integers up to this are exact in float64
_COMPARE = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


def document_value(document: Document, field: str) -> Any:
    """The value `field` names in `document`, looked up as `haystack.utils.filters` does."""
    if "." in field:
        parts = field.split(".")
        value = getattr(document, parts[0], None)
        for part in parts[1:]:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value
    if field not in _DOCUMENT_FIELDS:
        return document.meta.get(field)
    return getattr(document, field)


def _hashable_plain(value: Any) -> bool:
    """A value whose `==` with anything is its hash lookup: hashable, not NaN, not a date to Haystack."""
    if isinstance(value, datetime) or _looks_like_iso_date(value):
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _exact_number(value: Any) -> bool:
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)) and (
        not isinstance(value, int) or abs(value) <= _EXACT)


class Column:
    """One field's values over the rows of a version: rows by value, and float64 numbers when all are numbers."""

    def __init__(self, by_value: dict[Any, np.ndarray], numbers: np.ndarray, all_numbers: bool, all_int: bool, length: int) -> None:
        self.by_value = by_value
        self.numbers = numbers  # NaN where a row has no number
        self.all_numbers = all_numbers  # every value present is an int or float (bool counts), exact in float64
        self.all_int = all_int  # ... and an int, not a bool
        self.length = length

    @classmethod
    def empty(cls) -> "Column":
        return cls({}, np.zeros(0), True, True, 0)

    def extended(self, rows: "tuple[Document | None, ...]", field: str) -> "Column":
        """This column with the values of `rows[self.length:]` added."""
        if len(rows) == self.length:
            return self
        grouped: dict[Any, list[int]] = {}
        numbers = np.full(len(rows) - self.length, np.nan)
        all_numbers, all_int = self.all_numbers, self.all_int
        for offset, doc in enumerate(rows[self.length :]):
            if doc is None:
                continue
            value = document_value(doc, field)
            if value is None:  # missing: equal to None only, never a number
                grouped.setdefault(None, []).append(self.length + offset)
                continue
            if not (isinstance(value, float) and math.isnan(value)):  # NaN equals nothing, not even NaN
                try:
                    grouped.setdefault(value, []).append(self.length + offset)
                except TypeError:  # a list or dict: equal to no hashable filter value
                    pass
            if _exact_number(value):
                numbers[offset] = float(value)
                all_int = all_int and isinstance(value, int) and not isinstance(value, bool)
            else:
                all_numbers = all_int = False
        by_value = dict(self.by_value)
        for value, value_rows in grouped.items():
            added = np.array(value_rows, dtype=np.int64)
            old = by_value.get(value)
            by_value[value] = added if old is None else np.concatenate((old, added))
        return Column(by_value, np.concatenate((self.numbers, numbers)), all_numbers, all_int, len(rows))

    def equal(self, value: Any, size: int) -> np.ndarray:
        mask = np.zeros(size, dtype=bool)
        rows = self.by_value.get(value)
        if rows is not None:
            mask[rows] = True
        return mask


class FilterColumns:
    """The columns of one index version, made on first use; `carried_to` hands them to the next version."""

    def __init__(self, index: "StoreSearchIndex", carried: dict[str, Column] | None = None) -> None:
        self._index = index
        self._columns: dict[str, Column] = dict(carried or {})
        self._lock = threading.Lock()

    def carried_to(self, index: "StoreSearchIndex") -> "FilterColumns":
        """Columns for `index`, a version that only appended rows to this one (extended when used)."""
        with self._lock:
            return FilterColumns(index, self._columns)

    def column(self, field: str) -> Column:
        with self._lock:
            column = self._columns.get(field) or Column.empty()
            if column.length != len(self._index.rows):
                column = column.extended(self._index.rows, field)
                self._columns[field] = column
            return column

    # --- filters ---------------------------------------------------------------------------------

    def mask(self, filters: dict[str, Any], alive: np.ndarray, strict_datetime_comparison: bool = False) -> np.ndarray:
        """Rows matching `filters` among the `alive` ones (Haystack's `document_matches_filter` semantics)."""
        return self._condition(filters, alive.copy(), strict_datetime_comparison)

    def _condition(self, condition: Any, reach: np.ndarray, strict: bool) -> np.ndarray:
        """`condition` on the rows of `reach` (the documents Haystack evaluates it on): those it matches."""
        if not reach.any():
            return reach
        if not isinstance(condition, dict):
            return self._scan(condition, reach, strict)
        if "field" in condition:
            return self._comparison(condition, reach, strict)
        operator, conditions = condition.get("operator"), condition.get("conditions")
        if operator not in ("AND", "OR", "NOT") or not isinstance(conditions, list):
            return self._scan(condition, reach, strict)  # Haystack's FilterError, raised as Haystack raises it
        if operator == "OR":
            matched = np.zeros_like(reach)
            undecided = reach.copy()
            for sub in conditions:
                hit = self._condition(sub, undecided, strict)
                matched |= hit
                undecided &= ~hit
            return matched
        matched = reach.copy()
        for sub in conditions:  # AND; NOT is "not all of them"
            matched = self._condition(sub, matched, strict)
        return matched if operator == "AND" else reach & ~matched

    def _comparison(self, condition: dict[str, Any], reach: np.ndarray, strict: bool) -> np.ndarray:
        field, operator, value = condition.get("field"), condition.get("operator"), condition.get("value", _MISSING)
        if not isinstance(field, str) or field.split(".")[0] == "embedding" or value is _MISSING:
            return self._scan(condition, reach, strict)
        size = len(reach)
        if operator in ("==", "!="):
            if not _hashable_plain(value):
                return self._scan(condition, reach, strict)
            equal = self.column(field).equal(value, size)
            return reach & (equal if operator == "==" else ~equal)
        if operator in ("in", "not in"):
            if not isinstance(value, list) or not all(_hashable_plain(v) for v in value):
                return self._scan(condition, reach, strict)
            column = self.column(field)
            found = np.zeros(size, dtype=bool)
            for v in value:
                found |= column.equal(v, size)
            return reach & (found if operator == "in" else ~found)
        if operator in _COMPARE and _exact_number(value):
            column = self.column(field)
            if column.all_numbers:
                with np.errstate(invalid="ignore"):
                    return reach & _COMPARE[operator](column.numbers, float(value))
        return self._scan(condition, reach, strict)

    def _scan(self, condition: Any, reach: np.ndarray, strict: bool) -> np.ndarray:
        """Haystack's own evaluation on the reached rows (dates, lists, malformed filters)."""
        index = self._index
        with_vectors = isinstance(condition, dict) and "embedding" in repr(condition)
        matched = np.zeros_like(reach)
        for row in np.flatnonzero(reach):
            doc = index.document(int(row), with_embedding=with_vectors)
            matched[row] = document_matches_filter(filters=condition, document=doc, strict_datetime_comparison=strict)
        return matched

    # --- aggregates ----------------------------------------------------------------------------------

    def min_max(self, field: str, alive: np.ndarray) -> dict[str, Any] | None:
        """{"min", "max"} of a field whose values are all ints or all floats without NaN; None otherwise
        (the caller then uses Haystack's own, which also handles strings and mixed values)."""
        column = self.column(field)
        if not column.all_numbers:
            return None
        values = column.numbers[alive & ~np.isnan(column.numbers)]
        if len(values) == 0:
            return {"min": None, "max": None}
        if column.all_int:
            return {"min": int(values.min()), "max": int(values.max())}
        return None  # floats (or bools) mixed with ints: Haystack returns the original objects


_MISSING = object()
