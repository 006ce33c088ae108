"""ExtractiveAnswerer on small texts, with the committed evidence model: the sentence that
holds the asked kind of answer, both parts of a two-part question, no table rows, and a refusal that names the
related releases when the answerability check says no."""

from haystack import Document
from sample_chunks import NETFLIX, QUANTUM, TABLE, TABLET

from components.extractive_answerer import NOT_FOUND, NOT_FOUND_PREFIX, ExtractiveAnswerer


def answer(question: str, *documents: Document, **inputs) -> dict:
    return ExtractiveAnswerer().run(query=question, documents=list(documents), **inputs)


def test_the_price_sentence_for_how_much_and_the_date_sentence_for_when():
    cost = answer("How much does the T Tablet cost without a mobile plan?", TABLET)
    assert cost["found"] and cost["answer"].startswith("Without a mobile plan, the T Tablet costs a one-time fee of 219 euros. [1]")
    when = answer("From when is the T Tablet available?", NETFLIX, TABLET)
    assert "It will be available from August 24. [2]" in when["answer"] and "[1]" not in when["answer"]


def test_two_part_question_gets_both_parts_each_cited():
    out = answer("What does the T Tablet cost without a mobile plan, and from when is it available?", NETFLIX, TABLET)
    assert "219 euros" in out["answer"] and "August 24" in out["answer"]
    assert out["answer"].count("[2]") >= 2 and "[1]" not in out["answer"]


def test_names_and_figures_of_a_lab():
    out = answer("Where did Deutsche Telekom open its Quantum Lab, and how much fiber is it connected to?", QUANTUM, TABLET)
    assert "Berlin" in out["answer"] and "2,000 km" in out["answer"]


def test_no_table_rows_in_an_answer():
    out = answer("How much net revenue in the third quarter of 2023?", TABLE)
    assert out["found"] and " | " not in out["answer"] and "27.8 billion euros" in out["answer"]


def test_refusal_names_what_no_source_mentions_and_lists_the_related_releases():
    documents = [TABLET, NETFLIX, Document(content="More on the T Tablet display.", meta={"file_path": "t.txt"})]
    out = ExtractiveAnswerer().run(query="What partnership was announced with Starlink?", documents=documents,
                                   answerable=False, missing_names=["Starlink"])
    assert not out["found"] and out["documents"] == documents
    # one entry per release, cited by the number of its first chunk
    assert out["answer"] == (f"{NOT_FOUND_PREFIX} about Starlink. Related: t.txt [1]; n.txt [2].")
    plain = ExtractiveAnswerer(related=1).run(query="Who won?", documents=documents, answerable=False)
    assert plain["answer"] == NOT_FOUND.removesuffix(".") + ". Related: t.txt [1]."


def test_no_documents_no_answer():
    out = ExtractiveAnswerer().run(query="Who won?", documents=[])
    assert out == {"answer": NOT_FOUND, "documents": [], "found": False}
