"""ExtractiveAnswerer on small texts: the best sentences cited, one per part of the question and of the asked
kind (a date for "when", an amount for "how much"), no table rows, and a plain refusal when the sources do not
hold the answer."""

from haystack import Document
from sample_chunks import NETFLIX, QUANTUM, TABLE, TABLET

from components.extractive_answerer import ExtractiveAnswerer, missing_names


def test_extractive_answer_cites_the_best_sentences():
    docs = [
        Document(content="EUROGATE commissioned three 5G campus networks. At the ports in Hamburg, Bremerhaven and "
                         "Wilhelmshaven, campus networks improve coverage. The weather was fine that day."),
        Document(content="Another release about fiber in rural areas of Bavaria and its partners."),
    ]
    out = ExtractiveAnswerer(max_sentences=2).run(query="At which ports does Telekom build 5G campus networks for EUROGATE?", documents=docs)
    assert out["found"]
    assert "Hamburg, Bremerhaven and Wilhelmshaven" in out["answer"]
    assert "[1]" in out["answer"] and "[2]" not in out["answer"] and "weather" not in out["answer"]


def test_extractive_answer_says_when_the_sources_do_not_hold_it():
    docs = [Document(content="Telekom expands its fiber network in rural Bavaria with new partners this year.")]
    out = ExtractiveAnswerer().run(query="How much did the 5G spectrum auction cost Vodafone?", documents=docs)
    assert not out["found"]
    assert out["answer"].startswith("The press releases do not contain information")


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
