"""A question's parameters and their checks, which give a clear 4xx instead of a pipeline error, quoting at most a
short excerpt of what was sent (`excerpt`).

The limits of the query and of `top_k` are pydantic annotations (`Question`, `top_k_type(maximum)`): each room's request
model (pipelines/<room>/request.py) is made of them, and so is the signature Hayhooks builds `/<room>/run`'s request
model from, the MCP tools' input and the chat endpoint's question. Filters keep a check of their own
(`check_filters`): their shape is a tree pydantic cannot bound.
"""

import math
import os
import reprlib
from typing import Annotated, Any

from fastapi import HTTPException
from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

MAX_QUERY_CHARS = 1000
MAX_REPORTED_ERRORS = 10  # of a 422 for a body that does not fit its model
# Filter caps: what a filter may cost. Measured on the full corpus before the caps: an `in` list of 200,000
# values took 45 s of CPU (and slowed every other search 5x), 20,000 OR conditions 18 s. A year or a set of
# releases needs a few values; 254 releases fit in one `in` list.
MAX_FILTER_VALUES = int(os.environ.get("PRESSQA_MAX_FILTER_VALUES") or 300)
MAX_FILTER_CONDITIONS = int(os.environ.get("PRESSQA_MAX_FILTER_CONDITIONS") or 50)
MAX_FILTER_DEPTH = int(os.environ.get("PRESSQA_MAX_FILTER_DEPTH") or 6)
MAX_ECHO_CHARS = 80  # of a bad value quoted back in a 4xx reply
_LOGICAL = {"AND", "OR", "NOT"}
_COMPARISON = {"==", "!=", ">", ">=", "<", "<=", "in", "not in"}
_ORDERING = {">", ">=", "<", "<="}
# What the fields every chunk carries hold (docs/api.md, the document shape), for the ordering comparisons: Haystack's
# in-memory filter answered '>' on a list with a TypeError (a 500) and '>' on a text or a number with a string
# value with "Strings are only comparable if they are ISO formatted dates", also when the value was one.
_NUMBER_FIELDS = {"meta.year", "meta.split_id", "meta.split_idx_start"}
_LIST_FIELDS = {"meta.dates"}
_TEXT_FIELDS = {"content", "id", "meta.title", "meta.file_path"}

def limited_repr(**limits: int) -> reprlib.Repr:
    """A `reprlib.Repr` with these limits (maxstring, maxlist …): a repr of bounded length."""
    shortened = reprlib.Repr()  # Python 3.11's Repr() takes no limits as arguments
    for name, value in limits.items():
        setattr(shortened, name, value)
    return shortened


_excerpt_repr = limited_repr(maxstring=MAX_ECHO_CHARS, maxother=MAX_ECHO_CHARS, maxlist=5, maxdict=5, maxlevel=2)


def excerpt(value: Any) -> Any:
    """`value` when it is short and plain JSON, else a short description of it: what a 4xx may quote back."""
    if value is None or isinstance(value, bool) or (isinstance(value, int) and abs(value) < 10**15):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        # an unpaired surrogate (a valid JSON escape) would make the reply unencodable: quoted as its escape
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value if len(value) <= MAX_ECHO_CHARS else f"{value[:MAX_ECHO_CHARS]}… ({len(value)} characters)"
    return _excerpt_repr.repr(value)


def _plain_text(value: Any) -> Any:
    # before pydantic's own checks, which would say "at least 1 character" of a question of spaces and "unable to
    # parse raw data" of an unpaired surrogate (a valid JSON escape, \ud800, but not text)
    if isinstance(value, str):
        if not value.strip():
            raise PydanticCustomError("empty_question", "The question is empty: please ask something.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("not_text", "The question holds characters that are not valid text.") from None
    return value


# The question: trimmed, 1 to MAX_QUERY_CHARS characters of text. The before-validator runs first (the last one
# listed does).
Question = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS),
    BeforeValidator(_plain_text),
]
# Haystack metadata filters, checked by `check_filters`.
Filters = dict[str, Any] | None


def top_k_type(maximum: int) -> Any:
    """`top_k` as an annotated type: a whole number from 1 to `maximum`."""
    return Annotated[int, Field(ge=1, le=maximum)]


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors as a 422's `detail`, quoting at most an excerpt of each bad value (pydantic's own
    errors echo the whole value: 10 MB in, 10 MB out)."""
    detail = [
        {**{k: v for k, v in e.items() if k not in ("input", "ctx")}, "input": excerpt(e.get("input")),
         **({"ctx": {k: excerpt(v if isinstance(v, (str, int, float)) else str(v)) for k, v in e["ctx"].items()}}
            if isinstance(e.get("ctx"), dict) else {})}
        for e in errors[:MAX_REPORTED_ERRORS]
    ]
    if len(errors) > MAX_REPORTED_ERRORS:
        detail.append({"msg": f"… and {len(errors) - MAX_REPORTED_ERRORS} more errors"})
    return detail



def check_filters(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Haystack metadata filters, validated in shape; 422 with the reason when malformed."""
    if not filters:
        return None
    problem = _filter_problem(filters, depth=0)
    if problem:
        raise HTTPException(status_code=422, detail=f"Malformed filters: {problem}.")
    return filters


def _filter_problem(node: Any, depth: int, count: list[int] | None = None) -> str | None:
    count = [0] if count is None else count  # conditions seen so far, over the whole filter
    if depth >= MAX_FILTER_DEPTH:
        return f"nested more than {MAX_FILTER_DEPTH} levels deep (the limit)"
    if not isinstance(node, dict):
        return "every filter must be an object"
    count[0] += 1
    if count[0] > MAX_FILTER_CONDITIONS:
        return f"more than {MAX_FILTER_CONDITIONS} conditions (the limit)"
    operator = node.get("operator")
    if not isinstance(operator, str):
        return f"'operator' must be a string, not {excerpt(operator)!r}"
    if operator in _LOGICAL:
        conditions = node.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            return f"'{operator}' needs a non-empty list of 'conditions'"
        if len(conditions) > MAX_FILTER_CONDITIONS:
            return f"'{operator}' has {len(conditions)} conditions; the limit is {MAX_FILTER_CONDITIONS}"
        return next((p for c in conditions if (p := _filter_problem(c, depth + 1, count))), None)
    if operator in _COMPARISON:
        field = node.get("field")
        if not isinstance(field, str) or not (field == "content" or field.startswith("meta.") or field == "id"):
            return f"'field' must be 'content', 'id' or 'meta.<name>', not {excerpt(field)!r}"
        if "value" not in node:
            return f"comparison on '{field}' needs a 'value'"
        value = node["value"]
        if operator in {"in", "not in"} and not isinstance(value, list):
            return f"'{operator}' needs a list 'value'"
        if isinstance(value, list) and len(value) > MAX_FILTER_VALUES:
            return f"the list 'value' on '{field}' has {len(value)} items; the limit is {MAX_FILTER_VALUES}"
        if operator in _ORDERING:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                return f"'{operator}' needs a number, date or string 'value'"
            return _ordering_problem(field, operator, value)
        return None
    return f"unknown operator {excerpt(operator)!r}"


def _ordering_problem(field: str, operator: str, value: int | float | str) -> str | None:
    """Why `field operator value` cannot order the fields kit.queries knows, or None."""
    if field in _LIST_FIELDS:
        return (f"'{field}' holds a list (every date a release mentions), which '{operator}' cannot order; "
                "compare 'meta.year' for a range of years")
    if field in _TEXT_FIELDS:
        return f"'{field}' holds text, which '{operator}' cannot order; '{operator}' compares numbers, e.g. 'meta.year'"
    if field in _NUMBER_FIELDS and isinstance(value, str):
        return f"'{field}' holds a number: compare it with a number, not {excerpt(value)!r}"
    return None
