"""QuestionPeriodPreference on small texts: a stated period filters, a year named in passing or "the latest" boosts,
two years boost rather than filter, and a filter that matches nothing is not applied."""

from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore

from components.question_period import QuestionPeriodPreference


def test_stated_year_filters_named_year_boosts_latest_prefers_new():
    store = InMemoryDocumentStore()
    store.write_documents([Document(content="x", meta={"year": 2024})])
    prefer = QuestionPeriodPreference(document_store=store)
    docs = [
        Document(content="a", score=1.0, meta={"year": 2022, "dates": ["2022-03"]}),
        Document(content="b", score=0.9, meta={"year": 2023, "dates": ["2023-08"]}),
    ]
    stated = prefer.run(query="What did Telekom launch in 2023?", documents=docs)
    assert [d.content for d in stated["documents"]] == ["b"]
    assert stated["interpreted_filters"]["mode"] == "filter" and stated["interpreted_filters"]["period"]["from"] == "2023"
    last_year = prefer.run(query="What did Telekom launch last year?", documents=docs)
    assert last_year["interpreted_filters"]["period"]["from"] == "2023" and len(last_year["documents"]) == 1
    named = prefer.run(query="What did the 2023 study find?", documents=docs)
    assert named["interpreted_filters"]["mode"] == "boost" and len(named["documents"]) == 2
    assert named["documents"][0].content == "b"
    latest = prefer.run(query="What is the latest release about fiber?", documents=docs)
    assert latest["interpreted_filters"]["mode"] == "recency" and latest["documents"][0].content == "b"
    none = prefer.run(query="What did Telekom launch?", documents=docs)
    assert none == {"documents": docs, "interpreted_filters": {}}


def test_two_years_boost_rather_than_filter_and_an_empty_filter_is_not_applied():
    prefer = QuestionPeriodPreference()
    docs = [Document(content="a", score=1.0, meta={"year": 2022}), Document(content="b", score=0.5, meta={"year": 2021})]
    both = prefer.run(query="How many visitors came in 2022 compared with 2023?", documents=docs)
    assert both["interpreted_filters"]["mode"] == "boost" and len(both["documents"]) == 2
    missing = prefer.run(query="What happened in 2019?", documents=docs)
    assert missing["documents"] == docs and "not applied" in missing["interpreted_filters"]["mode"]


def test_a_given_reading_is_applied_again_without_reading_the_question():
    """search.yml's period_on_evidence: the first step's reading, applied to a ranker's order."""
    prefer = QuestionPeriodPreference(boost=0.3)
    ranked = [Document(content="copy", score=0.93, meta={"year": 2027, "dates": ["2027-01"]}),
              Document(content="real", score=0.87, meta={"year": 2024, "dates": ["2024-01"]})]
    reading = prefer.run(query="Who became director on January 1, 2024?", documents=ranked)["interpreted_filters"]
    assert reading["mode"] == "boost" and reading["period"] == {"from": "2024", "to": "2024"}
    again = prefer.run(documents=ranked, query="a question naming no time", interpreted_filters=reading)
    assert [d.content for d in again["documents"]] == ["real", "copy"]  # 0.87 * 1.3 over 0.93
    assert again["documents"][0].score == 0.87 * 1.3 and again["interpreted_filters"] == reading
    assert prefer.run(documents=ranked, query="in 2027?", interpreted_filters={})["documents"] == ranked  # read: no time
