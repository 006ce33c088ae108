"""EvidenceRanker on small texts with the committed evidence model: the chunk whose sentence holds the asked kind of
answer about the asked thing comes first; every candidate is returned, scored; a missing model is a clear error."""

import pytest
from haystack import Document
from sample_chunks import NETFLIX, QUANTUM, TABLET

from components.evidence_ranker import EvidenceRanker


def rank(question: str, *documents: Document, **inputs) -> list[Document]:
    return EvidenceRanker().run(documents=list(documents), query=question, **inputs)["documents"]


def test_the_chunk_with_the_answer_comes_first_whatever_the_fused_order():
    display = Document(content="The T Tablet has a large display. Customers praise the T Tablet's display and its "
                               "robust case for everyday use.", meta={"file_path": "d.txt"}, score=0.9)
    price = Document(content="Without a mobile plan, the T Tablet costs a one-time fee of 219 euros.",
                     meta={"file_path": "t.txt"}, score=0.5)
    ranked = rank("How much does the T Tablet cost without a mobile plan?", display, price, NETFLIX)
    assert [d.meta["file_path"] for d in ranked][:2] == ["t.txt", "d.txt"]
    assert len(ranked) == 3 and all(0 <= d.score <= 1 for d in ranked)
    assert [d.score for d in ranked] == sorted((d.score for d in ranked), reverse=True)


def test_retrieval_scores_count_a_chunk_only_one_retriever_found_is_weighed_by_it():
    question = "Where did Deutsche Telekom open its Quantum Lab?"
    documents = [QUANTUM, TABLET]
    alone = EvidenceRanker().run(documents=documents, query=question)
    with_bm25 = EvidenceRanker().run(documents=documents, query=question,
                                     bm25_documents=[Document(id=documents[0].id, score=10.0)])
    assert alone["documents"][0].meta["file_path"] == "q.txt"
    assert with_bm25["documents"][0].score > alone["documents"][0].score  # the BM25 hit adds evidence


def test_without_a_question_the_order_is_kept_and_without_a_model_the_error_says_which_file(tmp_path):
    documents = [TABLET, NETFLIX]
    assert EvidenceRanker().run(documents=documents)["documents"] == documents
    with pytest.raises(FileNotFoundError, match="missing.json"):
        EvidenceRanker(model_path=str(tmp_path / "missing.json")).warm_up()


def test_prepared_chunks_need_no_text_work_when_a_question_retrieves_them():
    from kit import evidence
    from kit.text_terms import term_set

    chunks = [Document(content=f"{TABLET.content} Batch {n} of the tablets ships in week {n}.", meta={"title": f"T {n}"},
                      score=1.0 - n / 10) for n in range(3)]  # texts no other test has met
    ranker = EvidenceRanker()
    ranker.prepare(chunks)
    before = (evidence._unit_facts.cache_info().misses, term_set.cache_info().misses)
    ranked = ranker.run(documents=chunks, query="How much does the T Tablet cost?")["documents"]
    assert len(ranked) == 3
    assert (evidence._unit_facts.cache_info().misses, term_set.cache_info().misses) == before
