"""AnswerabilityCheck on small texts with the committed evidence model: a source that holds the asked kind of
answer about the asked thing is answerable; a near miss (the product, not the asked detail) and a name no source
mentions are not."""

from haystack import Document
from sample_chunks import NETFLIX, QUANTUM, TABLET

from components.answerability_check import AnswerabilityCheck


def check(question: str, *documents: Document) -> dict:
    return AnswerabilityCheck().run(query=question, documents=list(documents))


def test_an_answer_in_the_sources_is_answerable():
    found = check("How much does the T Tablet cost without a mobile plan?", TABLET, NETFLIX)
    assert found["answerable"] and found["answerability"] > 0.5 and found["missing_names"] == []


def test_a_near_miss_is_not_the_topic_but_the_asked_detail():
    # the releases speak of the T Tablet, never of its battery: no unit holds a battery capacity
    near = check("What is the battery capacity of the T Tablet?", TABLET, NETFLIX)
    price = check("How much does the T Tablet cost without a mobile plan?", TABLET, NETFLIX)
    assert not near["answerable"] and near["answerability"] < price["answerability"]


def test_a_name_no_source_mentions_refuses_whatever_the_model_says():
    out = check("What partnership has Deutsche Telekom announced with SpaceX's Starlink?", NETFLIX, TABLET)
    assert not out["answerable"] and out["missing_names"] == ["SpaceX", "Starlink"] and out["answerability"] <= 0.05
    # descriptors and names every release shares are no such names
    lab = check("Which ChatGPT-style partners did T-Systems bring into the Quantum Lab?", QUANTUM)
    assert lab["missing_names"] == []


def test_no_documents_is_not_answerable():
    assert AnswerabilityCheck().run(query="Who won?", documents=[]) == {
        "answerable": False, "answerability": 0.0, "missing_names": []}
