"""kit/queries.py: the question's limits as pydantic annotations, and 422 details that quote only an excerpt."""

import pytest
from fastapi import HTTPException
from pydantic import BaseModel, ValidationError

from kit.queries import MAX_QUERY_CHARS, Question, check_filters, excerpt, top_k_type, validation_detail


class Asked(BaseModel):
    query: Question
    top_k: top_k_type(20) = 5


def test_the_question_is_trimmed_and_kept_as_text():
    assert Asked(query="  Which ports get 5G?\n").query == "Which ports get 5G?"
    assert Asked(query="x" * MAX_QUERY_CHARS).query == "x" * MAX_QUERY_CHARS


@pytest.mark.parametrize(("query", "says"), [
    ("", "The question is empty: please ask something."),
    (" \n\t ", "The question is empty: please ask something."),
    ("x" * (MAX_QUERY_CHARS + 1), f"String should have at most {MAX_QUERY_CHARS} characters"),
    ("fiber \ud800", "The question holds characters that are not valid text."),
    (42, "Input should be a valid string"),
])
def test_a_question_outside_the_limits_is_refused_saying_why(query, says):
    with pytest.raises(ValidationError) as refused:
        Asked(query=query)
    assert [e["msg"] for e in refused.value.errors()] == [says]


@pytest.mark.parametrize(("value", "says"), [(0, "greater than or equal to 1"), (21, "less than or equal to 20"),
                                             (2.5, "fractional part"), ("many", "valid integer")])
def test_top_k_is_a_whole_number_within_its_limit(value, says):
    assert Asked(query="5G", top_k=20).top_k == 20
    with pytest.raises(ValidationError, match=says):
        Asked(query="5G", top_k=value)


def test_a_422_detail_quotes_an_excerpt_that_can_be_sent():
    with pytest.raises(ValidationError) as refused:
        Asked(query="x" * 200_000)
    [detail] = validation_detail(refused.value.errors(include_url=False))
    assert detail["loc"] == ("query",) and len(detail["input"]) < 200
    assert excerpt("fiber \ud800") == "fiber \\ud800"  # a lone surrogate cannot be encoded into a reply


@pytest.mark.parametrize(("condition", "says"), [
    ({"field": "meta.dates", "operator": ">", "value": 1}, "'meta.dates' holds a list"),
    ({"field": "meta.dates", "operator": "<=", "value": "2023-01-01"}, "'meta.dates' holds a list"),
    ({"field": "meta.title", "operator": ">", "value": "2022-01-01"}, "'meta.title' holds text"),
    ({"field": "content", "operator": "<", "value": 3}, "'content' holds text"),
    ({"field": "meta.year", "operator": ">", "value": "2022-01-01"}, "'meta.year' holds a number"),
])
def test_ordering_a_field_by_the_wrong_kind_is_refused_saying_what_the_field_holds(condition, says):
    for filters in (condition, {"operator": "OR", "conditions": [{"field": "meta.year", "operator": "==", "value": 1}, condition]}):
        with pytest.raises(HTTPException) as refused:
            check_filters(filters)
        assert refused.value.status_code == 422 and says in refused.value.detail
        assert "ISO formatted dates" not in refused.value.detail


def test_ordering_numbers_and_other_fields_passes_the_check():
    year_range = {"operator": "AND", "conditions": [{"field": "meta.year", "operator": ">=", "value": 2022},
                                                    {"field": "meta.year", "operator": "<=", "value": 2024.5}]}
    assert check_filters(year_range) == year_range
    other = {"field": "meta.custom", "operator": ">", "value": "2022-01-01"}  # the store decides
    assert check_filters(other) == other
