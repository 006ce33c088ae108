"""PassageFocusRanker on small texts: the chunk where the question's words meet in one sentence comes first."""

from haystack import Document

from components.passage_focus_ranker import PassageFocusRanker


def test_ranker_prefers_the_chunk_where_the_question_words_meet():
    scattered = Document(content="EUROGATE runs terminals. Campus networks are a product. Ports are busy places.", score=0.52)
    focused = Document(content="EUROGATE gets 5G campus networks at the ports of Hamburg and Bremerhaven.", score=0.50)
    query = "Which ports get 5G campus networks for EUROGATE?"
    ranked = PassageFocusRanker(focus_weight=0.5).run(documents=[scattered, focused], query=query)["documents"]
    assert [d.content for d in ranked] == [focused.content, scattered.content]
    unfocused = PassageFocusRanker(focus_weight=0.0).run(documents=[scattered, focused], query=query)["documents"]
    assert unfocused[0].content == scattered.content
    assert PassageFocusRanker().run(documents=[], query=query)["documents"] == []
