"""Answer quality on small texts written here: refusal rule, answer-type picking, citation check, period reading."""

import os

import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ChatMessage
from haystack.document_stores.in_memory import InMemoryDocumentStore

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
from scripts.benchmarks import llm_standin  # noqa: E402

from kit.answer_types import asked_type, asks_for_list, gives_type  # noqa: E402
from components.citation_checker import CitationChecker, answer_sentences, cited_numbers  # noqa: E402
from components.extractive_answerer import ExtractiveAnswerer, missing_names  # noqa: E402
from components.question_period import QuestionPeriodPreference  # noqa: E402
from components.near_duplicate_filter import NearDuplicateFilter  # noqa: E402
from components.passage_focus_ranker import PassageFocusRanker  # noqa: E402

TABLET = Document(
    content="The new T Tablet is a robust device for everyday use. Without a mobile plan, the T Tablet costs a "
    "one-time fee of 219 euros. It will be available from August 24. Customers praise its large display.",
    meta={"file_path": "t.txt", "year": 2023, "dates": ["2023-08"]},
)
NETFLIX = Document(
    content="Deutsche Telekom and Netflix announce a partnership: MagentaTV customers get Netflix included. "
    "The offer starts in Germany in spring.",
    meta={"file_path": "n.txt", "year": 2022, "dates": ["2022-03"]},
)
QUANTUM = Document(
    content="Deutsche Telekom opened its Quantum Lab in Berlin. It is connected to over 2,000 km of fiber. "
    "Partners include Qualcomm and IQM.",
    meta={"file_path": "q.txt", "year": 2024, "dates": ["2024-06-10"]},
)
TABLE = Document(
    content="Net revenue | 27,800 | 28,400 | 2.2 | 26,900 | 110,000 Net revenue in the third quarter of 2023 "
    "| rose | by | 2.2 percent. The group's net revenue in the third quarter rose to 27.8 billion euros.",
    meta={"file_path": "r.txt", "year": 2023},
)


# ---------------------------------------------------------------- refusal rule


def test_refuses_naming_what_no_source_mentions():
    out = ExtractiveAnswerer().run(
        query="What partnership has Deutsche Telekom announced with SpaceX's Starlink?", documents=[NETFLIX, TABLET]
    )
    assert not out["found"]
    assert out["answer"] == "The press releases do not contain information about SpaceX, Starlink."


def test_refuses_a_year_no_source_mentions_but_answers_when_one_does():
    query = "What was Deutsche Telekom's net revenue in the third quarter of 2019?"
    refused = ExtractiveAnswerer().run(query=query, documents=[TABLE])
    assert not refused["found"] and "2019" in refused["answer"]
    answered = ExtractiveAnswerer().run(query=query.replace("2019", "2023"), documents=[TABLE])
    assert answered["found"] and "27.8 billion euros" in answered["answer"]


def test_generic_names_and_descriptors_do_not_cause_a_refusal():
    assert missing_names("Which ChatGPT-style tool did Deutsche Telekom offer in Germany?", [TABLET]) == []
    assert missing_names("Where did T-Systems open the Quantum Lab?", [QUANTUM]) == []
    assert missing_names("Where did Telekom open the Quantum Lab with Starlink?", [QUANTUM]) == ["Starlink"]


def test_refuses_when_the_sources_miss_most_of_the_question():
    out = ExtractiveAnswerer().run(query="How much did the spectrum auction cost the bidders?", documents=[NETFLIX])
    assert not out["found"] and out["answer"].startswith("The press releases do not contain information")


# ---------------------------------------------------------------- answer-type picking


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("When will the T Tablet be available?", "date"),
        ("On which date was the warning day scheduled?", "date"),
        ("How much does the T Tablet cost?", "amount"),
        ("What does the T Tablet cost without a plan?", "amount"),
        ("Who became the new Managing Director?", "name"),
        ("Which vendors supply the Open RAN network?", "name"),
        ("Why does Telekom build fiber?", None),
    ],
)
def test_asked_type(query, kind):
    assert asked_type(query) == kind


def test_gives_type_tells_a_date_an_amount_and_a_new_name():
    assert gives_type("When will it be available?", "It will be available from August 24.")
    assert not gives_type("When will it be available?", "Customers praise its large display.")
    assert gives_type("How much does it cost?", "It costs a one-time fee of 219 euros.")
    assert not gives_type("How much does it cost?", "It launched in 2023 with a new design.")  # a year is no amount
    assert gives_type("Who leads the Quantum Lab?", "The lab is led by Claudia Nemat.")
    assert not gives_type("Who leads the Quantum Lab?", "The Quantum Lab is in a new building.")
    assert asks_for_list("Which partners did Telekom work with?") and not asks_for_list("Which is the newest lab?")


def test_when_question_gets_the_date_sentence_and_how_much_the_amount_sentence():
    when = ExtractiveAnswerer().run(query="From when is the T Tablet available?", documents=[TABLET])
    assert when["answer"] == "It will be available from August 24. [1]"
    cost = ExtractiveAnswerer().run(query="How much does the T Tablet cost without a mobile plan?", documents=[TABLET])
    assert cost["answer"] == "Without a mobile plan, the T Tablet costs a one-time fee of 219 euros. [1]"


def test_two_part_question_gets_both_parts_each_cited():
    out = ExtractiveAnswerer().run(
        query="What does the T Tablet cost without a mobile plan, and from when is it available?",
        documents=[NETFLIX, TABLET],
    )
    assert "219 euros" in out["answer"] and "August 24" in out["answer"]
    assert out["answer"].count("[2]") == 2 and "[1]" not in out["answer"]
    assert "display" not in out["answer"]


def test_no_table_rows_in_an_answer():
    out = ExtractiveAnswerer().run(query="How much net revenue in the third quarter of 2023?", documents=[TABLE])
    assert out["found"] and " | " not in out["answer"]


# ---------------------------------------------------------------- citation check


@pytest.fixture(scope="module")
def checker():
    instance = CitationChecker()
    instance.warm_up()
    return instance


def test_citation_check_flags_a_wrong_source_and_passes_right_ones(checker):
    documents = [TABLET, QUANTUM]
    answer = (
        "Without a mobile plan, the T Tablet costs 219 euros [1]. "
        "Deutsche Telekom opened its Quantum Lab in Berlin [1]. "
        "The lab is connected to over 2,000 km of fiber [2]."
    )
    flagged = checker.run(replies=[ChatMessage.from_assistant(answer)], documents=documents)["unsupported_citations"]
    assert [u["sentence"] for u in flagged] == ["Deutsche Telekom opened its Quantum Lab in Berlin [1]."]
    assert flagged[0]["cited"] == [1]


def test_citation_check_accepts_a_paraphrase_and_rejects_an_invalid_number(checker):
    documents = [TABLET]
    paraphrase = "Customers can buy the T Tablet for 219 euros if they take no mobile plan [1]."
    assert checker.check(paraphrase, documents) == []
    invalid = checker.check("The T Tablet costs 219 euros [3].", documents)
    assert invalid and invalid[0]["invalid"] == [3]


def test_citation_check_catches_the_standin_citing_wrongly(checker):
    documents = [TABLET, QUANTUM, NETFLIX]
    prompt = "Sources:\n" + "\n\n".join(f"[{i}] t\n{d.content}" for i, d in enumerate(documents, 1)) + "\nQuestion: ?"
    wrong = "".join(llm_standin.answer_tokens(prompt, 200, "wrong"))
    right = "".join(llm_standin.answer_tokens(prompt, 200, "right"))
    assert wrong != right
    wrong_sentences = [s for s in answer_sentences(wrong) if cited_numbers(s)]
    assert len(checker.check(wrong, documents)) == len(wrong_sentences)
    assert checker.check(right, documents) == []


def test_sentences_keep_their_citations():
    answer = "First claim [1]. Second claim. [2] Closing remark."
    assert answer_sentences(answer) == ["First claim [1].", "Second claim. [2]", "Closing remark."]
    assert cited_numbers("A [1, 3] and [3][2].") == [1, 3, 2]


# ---------------------------------------------------------------- period of a question


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


# ---------------------------------------------------------------- serialization


@pytest.mark.parametrize(
    "instance",
    [
        ExtractiveAnswerer(min_coverage=0.4, min_gain=0.1, refuse_missing_names=False),
        CitationChecker(model=None, min_lexical=0.5),
        QuestionPeriodPreference(document_store=InMemoryDocumentStore(), boost=0.2),
        PassageFocusRanker(window=2, answer_type_weight=0.2, chunk_coverage_weight=0.1),
        NearDuplicateFilter(top_k=3, threshold=0.8),
    ],
)
def test_round_trip(instance):
    data = component_to_dict(instance, "c")
    again = component_from_dict(type(instance), data, "c")
    assert component_to_dict(again, "c") == data
    assert data["init_parameters"] != component_to_dict(type(instance)(), "c")["init_parameters"]


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        CitationChecker(min_lexical=2)
    with pytest.raises(ValueError):
        QuestionPeriodPreference(boost=-1)
    with pytest.raises(ValueError):
        PassageFocusRanker(window=0)
    with pytest.raises(ValueError):
        PassageFocusRanker(focus_weight=1.5)
    with pytest.raises(ValueError):
        NearDuplicateFilter(threshold=0)
    with pytest.raises(ValueError):
        ExtractiveAnswerer(max_sentences=0)


# ---------------------------------------------------------------- evaluation: comparison with a previous run


def test_regressions_flag_more_than_one_question_lost():
    from scripts.evaluation.regressions import regressions

    items = [{"id": f"q{i}", "type": "fact" if i < 3 else "temporal"} for i in range(5)]
    previous = {"questions": [{"id": f"q{i}", "ours": {"metrics": {"passage@1": 1.0, "wrong_refusal": 0.0}}} for i in range(5)]}
    one_lost = [{"passage@1": 0.0 if i == 0 else 1.0, "wrong_refusal": 0.0} for i in range(5)]
    assert regressions(items, one_lost, previous) == []
    two_lost = [{"passage@1": 0.0 if i in (0, 3) else 1.0, "wrong_refusal": 1.0 if i in (1, 2) else 0.0} for i in range(5)]
    flagged = {(f["type"], f["metric"]): f["worse"] for f in regressions(items, two_lost, previous)}
    assert flagged == {("all", "passage@1"): ["q0", "q3"], ("all", "wrong_refusal"): ["q1", "q2"],
                       ("fact", "wrong_refusal"): ["q1", "q2"]}
