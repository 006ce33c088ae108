"""NearDuplicateFilter after the ranker, in search.yml's order: near-duplicates dropped, their places filled."""

import pytest
from haystack import Document

from components.near_duplicate_filter import NearDuplicateFilter
from components.passage_focus_ranker import PassageFocusRanker


def _rank_then_filter(documents, query="", top_k=5, focus_weight=0.5, threshold=0.6):
    """search.yml's order: focus_ranker orders every candidate, then duplicate_filter drops and cuts."""
    ranked = PassageFocusRanker(focus_weight=focus_weight).run(documents=documents, query=query)["documents"]
    return NearDuplicateFilter(top_k=top_k, threshold=threshold).run(documents=ranked)["documents"]


def test_ranker_orders_by_relevance_and_the_filter_drops_near_duplicates():
    text = "Deutsche Telekom and its partners announced a new fiber network for the city of Bonn today"
    a = Document(content=text, score=0.9)
    a_copy = Document(content="Update: " + text + " and more.", score=0.8)  # a follow-up release repeating it
    b = Document(content="T-Systems opened a sovereign cloud region in Barcelona with two data centers", score=0.5)
    ranked = PassageFocusRanker(focus_weight=0.0).run(documents=[b, a_copy, a])["documents"]
    assert [d.content for d in ranked] == [a.content, a_copy.content, b.content]  # all kept, best first
    assert [d.score for d in ranked] == pytest.approx([1.0, 0.8 / 0.9, 0.5 / 0.9])
    kept = _rank_then_filter([b, a_copy, a], top_k=3, focus_weight=0.0)
    assert [d.content for d in kept] == [a.content, b.content]
    assert kept[0].score == pytest.approx(1.0)
    assert len(_rank_then_filter([b, a_copy, a], top_k=3, focus_weight=0.0, threshold=1.01)) == 3


def test_filter_fills_the_places_of_dropped_duplicates_up_to_top_k():
    text = "Deutsche Telekom and its partners announced a new fiber network for the city of Bonn today"
    ranked = [
        Document(content=text),
        Document(content="Update: " + text),
        Document(content="T-Systems opened a sovereign cloud region in Barcelona with two data centers"),
        Document(content="Magenta TV adds a sports channel for customers in Germany from next month on"),
    ]
    kept = NearDuplicateFilter(top_k=2).run(documents=ranked)["documents"]
    assert kept == [ranked[0], ranked[2]]  # the duplicate's place goes to the next distinct chunk
    assert NearDuplicateFilter(top_k=5).run(documents=ranked, top_k=0)["documents"] == []
    assert NearDuplicateFilter().run(documents=[])["documents"] == []
    with pytest.raises(ValueError):
        NearDuplicateFilter(threshold=0)
