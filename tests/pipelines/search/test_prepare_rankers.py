"""The search room's start: its evidence rankers prepare the index ahead of the questions."""

from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.core.super_component import SuperComponent
from haystack.document_stores.in_memory import InMemoryDocumentStore

from components.evidence_ranker import EvidenceRanker
from kit.evidence import evidence_units
from pipelines.search import pipeline_wrapper


def test_the_rankers_prepare_the_index_at_start_unless_it_outgrows_their_caches(monkeypatch):
    store = InMemoryDocumentStore()
    store.write_documents([Document(content=f"Telekom opens shop number {n} in Bonn. It sells phones.") for n in range(3)])
    pipeline = Pipeline()
    pipeline.add_component("bm25_retriever", InMemoryBM25Retriever(store))
    pipeline.add_component("ranker", EvidenceRanker())
    pipeline.connect("bm25_retriever.documents", "ranker.documents")
    search = SuperComponent(pipeline=pipeline)

    monkeypatch.setattr(pipeline_wrapper, "PREPARED_CHUNKS", 2)
    evidence_units.cache_clear()
    pipeline_wrapper.prepare_rankers(search)
    assert evidence_units.cache_info().currsize == 0  # 3 chunks, more than the caches hold

    monkeypatch.setattr(pipeline_wrapper, "PREPARED_CHUNKS", 3)
    pipeline_wrapper.prepare_rankers(search)
    assert evidence_units.cache_info().currsize == 3
