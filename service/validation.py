"""Checks of request parameters that give a clear 4xx instead of a pipeline error."""

from typing import Any

from fastapi import HTTPException

MAX_QUERY_CHARS = 1000
_LOGICAL = {"AND", "OR", "NOT"}
_COMPARISON = {"==", "!=", ">", ">=", "<", "<=", "in", "not in"}


def clean_query(query: str) -> str:
    """The query, trimmed; 422 when it is empty or longer than MAX_QUERY_CHARS."""
    query = (query or "").strip()
    if not query:
        raise HTTPException(status_code=422, detail="The question is empty: please ask something.")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate: valid as a JSON escape (\ud800), not as text
        raise HTTPException(status_code=422, detail="The question holds characters that are not valid text.") from None
    if len(query) > MAX_QUERY_CHARS:
        raise HTTPException(
            status_code=422, detail=f"The question is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}."
        )
    return query


def check_top_k(top_k: int, maximum: int) -> int:
    """`top_k` when 1 <= top_k <= maximum; 422 otherwise."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= maximum:
        raise HTTPException(status_code=422, detail=f"top_k must be a whole number from 1 to {maximum}.")
    return top_k


def check_filters(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Haystack metadata filters, validated in shape; 422 with the reason when malformed."""
    if not filters:
        return None
    problem = _filter_problem(filters, depth=0)
    if problem:
        raise HTTPException(status_code=422, detail=f"Malformed filters: {problem}.")
    return filters


def _filter_problem(node: Any, depth: int) -> str | None:
    if depth > 8:
        return "nested too deeply"
    if not isinstance(node, dict):
        return "every filter must be an object"
    operator = node.get("operator")
    if operator in _LOGICAL:
        conditions = node.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            return f"'{operator}' needs a non-empty list of 'conditions'"
        return next((p for c in conditions if (p := _filter_problem(c, depth + 1))), None)
    if operator in _COMPARISON:
        field = node.get("field")
        if not isinstance(field, str) or not (field == "content" or field.startswith("meta.") or field == "id"):
            return "'field' must be 'content', 'id' or 'meta.<name>'"
        if "value" not in node:
            return f"comparison on '{field}' needs a 'value'"
        value = node["value"]
        if operator in {"in", "not in"} and not isinstance(value, list):
            return f"'{operator}' needs a list 'value'"
        if operator in {">", ">=", "<", "<="} and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
            return f"'{operator}' needs a number, date or string 'value'"
        return None
    return f"unknown operator {operator!r}"
