"""The embedded store's filter columns against Haystack's own filter evaluation (issue #23).

`stores/inmemory/filter_columns.py` answers comparisons from per-field columns where that gives exactly
Haystack's result, and hands every other one to `document_matches_filter` on the documents Haystack's
short-circuit evaluation would reach. Here generated filters (fields with numbers, strings, ISO dates, lists,
missing values; every operator; nested AND/OR/NOT; malformed ones) must match the same documents as
Haystack's scan, or raise the same error when Haystack's raises.
"""

import numpy as np
import pytest
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.errors import FilterError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.inmemory.index_file import StoredDocument
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore, forget_index
from stores.inmemory.store_search_index import StoreSearchIndex, tokenizing_stats

VALUES = st.one_of(
    st.none(), st.integers(-5, 5), st.sampled_from([1.5, -0.5, float("nan"), 2**60]), st.booleans(),
    st.sampled_from(["a", "b", "2024-01-01", "2024-01-01T00:00:00", "2023-05", "x y"]),
    st.lists(st.integers(0, 3), max_size=2),
)
FIELDS = st.sampled_from(["meta.n", "meta.s", "meta.mixed", "meta.missing", "meta.nested.k", "content", "n"])
OPERATORS = st.sampled_from(["==", "!=", ">", ">=", "<", "<=", "in", "not in", "~"])


def _documents() -> list[Document]:
    rng = np.random.default_rng(7)
    docs = []
    for i in range(40):
        meta = {"i": i, "n": int(rng.integers(-3, 4)), "s": ["a", "b", "2024-01-01"][i % 3], "nested": {"k": i % 4}}
        if i % 5:
            meta["mixed"] = [1, "a", 2.5, None, [1, 2], "2024-01-01T00:00:00"][i % 6]
        if i % 7 == 0:
            meta["n"] = None
        docs.append(Document(content=f"text {i % 3}", meta=meta))
    return docs


DOCUMENTS = _documents()
INDEX = StoreSearchIndex.build(DOCUMENTS, tokenizing_stats(InMemoryDocumentStore()._tokenize_bm25))


def _comparisons():
    return st.builds(lambda f, o, v, vs: {"field": f, "operator": o, "value": vs if o in ("in", "not in") and vs is not None else v},
                     FIELDS, OPERATORS, VALUES, st.one_of(st.none(), st.lists(VALUES, max_size=3), VALUES))


FILTERS = st.recursive(
    _comparisons() | st.sampled_from([{"field": "meta.n"}, {"operator": "AND"}, {"operator": "XOR", "conditions": []}]),
    lambda inner: st.builds(lambda o, c: {"operator": o, "conditions": c}, st.sampled_from(["AND", "OR", "NOT"]), st.lists(inner, max_size=3)),
    max_leaves=6,
)


def _haystack(filters) -> list[str] | type:
    from haystack.utils.filters import document_matches_filter

    try:
        return [d.id for d in DOCUMENTS if document_matches_filter(filters, d)]
    except Exception as error:  # noqa: BLE001 - the kind of error is what is compared
        return type(error)


def _columns(filters) -> list[str] | type:
    try:
        return [INDEX.rows[r].id for r in INDEX.filter_rows(filters)]
    except Exception as error:  # noqa: BLE001
        return type(error)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FILTERS)
def test_columns_match_or_fail_as_haystacks_filters(filters):
    assert _columns(filters) == _haystack(filters), filters


@pytest.mark.parametrize("filters", [
    {"field": "meta.n", "operator": ">=", "value": 1},
    {"field": "meta.s", "operator": "in", "value": ["a", "b"]},
    {"operator": "NOT", "conditions": [{"field": "meta.s", "operator": "==", "value": "a"}]},
    {"field": "meta.s", "operator": "==", "value": "2024-01-01T00:00:00"},  # a date: equal as a date, by Haystack
    {"field": "meta.s", "operator": ">", "value": 3},  # Haystack raises: a string is no date
])
def test_examples(filters):
    assert _columns(filters) == _haystack(filters)


def test_a_comparison_is_answered_from_a_column_not_by_scanning(monkeypatch):
    """The filters the service sends (the writer's `file_path in [...]`, a year) never call Haystack's scan."""
    import stores.inmemory.filter_columns as columns

    monkeypatch.setattr(columns, "document_matches_filter", lambda **_: pytest.fail("scanned"))
    index = StoreSearchIndex.build([Document(content="x", meta={"file_path": f"{i}.txt", "year": 2000 + i}) for i in range(50)],
                                   tokenizing_stats(InMemoryDocumentStore()._tokenize_bm25))
    rows = index.filter_rows({"operator": "AND", "conditions": [
        {"field": "meta.file_path", "operator": "in", "value": ["3.txt", "4.txt", "49.txt"]},
        {"field": "meta.year", "operator": "<", "value": 2040}]})
    assert [index.rows[r].meta["file_path"] for r in rows] == ["3.txt", "4.txt"]


def test_columns_follow_each_version(tmp_path):
    """Columns made for one version and carried to the next give what a fresh index gives, after writes,
    deletes, overwrites and meta updates."""
    store = PersistentInMemoryDocumentStore(index="columns-versions", persist_path=str(tmp_path / "c.sqlite"))
    try:
        year = {"field": "meta.year", "operator": ">=", "value": 2022}
        name = {"field": "meta.file_path", "operator": "in", "value": ["1.txt", "2.txt"]}
        docs = [Document(content=f"chunk {i}", meta={"file_path": f"{i % 4}.txt", "year": 2020 + i % 5}) for i in range(30)]
        store.write_documents(docs)
        store.filter_documents(year), store.filter_documents(name)  # make the columns
        store.delete_documents([docs[1].id, docs[2].id])
        store.write_documents([Document(content="new", meta={"file_path": "2.txt", "year": 2024})])
        store.write_documents([Document(id=docs[5].id, content="rewritten", meta={"file_path": "9.txt", "year": 2019})], policy="overwrite")
        store.update_by_filter({"field": "meta.file_path", "operator": "==", "value": "3.txt"}, {"year": 2030})
        plain = InMemoryDocumentStore(shared=False)
        plain.write_documents([StoredDocument(d, None).document for d in store.filter_documents()])
        for filters in (year, name):
            assert sorted(d.id for d in store.filter_documents(filters)) == sorted(d.id for d in plain.filter_documents(filters))
        assert store.get_metadata_field_min_max("meta.year") == plain.get_metadata_field_min_max("meta.year")
    finally:
        forget_index("columns-versions")


def test_filter_errors_are_raised_as_haystack_raises_them():
    with pytest.raises(FilterError):
        INDEX.filter_rows({"field": "meta.s", "operator": "<", "value": 2})
    assert len(INDEX.filter_rows({"operator": "AND", "conditions": [
        {"field": "meta.n", "operator": "==", "value": 99},  # matches nothing: the next is never evaluated
        {"field": "meta.s", "operator": "<", "value": 2}]})) == 0
