"""CitationChecker on small texts: a cited sentence its source does not support is flagged, a paraphrase is
not, and the LLM stand-in citing wrongly on purpose is caught."""

import os

import pytest
from haystack.dataclasses import ChatMessage
from sample_chunks import NETFLIX, QUANTUM, TABLET

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from components.citation_checker import CitationChecker, answer_sentences, cited_numbers  # noqa: E402
from scripts.benchmarks import llm_standin  # noqa: E402


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
