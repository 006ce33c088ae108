"""Fast unit tests of the custom components and the cleaning configuration, on small texts written here."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy

from components.extractive_answerer import ExtractiveAnswerer
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore
from components.near_duplicate_filter import NearDuplicateFilter
from components.passage_focus_ranker import PassageFocusRanker
from components.release_metadata import ReleaseMetadataExtractor
from components.source_replacing_writer import SourceReplacingWriter
from components.table_flattener import TableFlattener

REPO = Path(__file__).resolve().parents[2]


def _index_component(name: str):
    """A component exactly as pipelines/index/index.yml configures it."""
    from haystack.core.serialization import component_from_dict
    from haystack.utils.type_serialization import deserialize_type

    spec = yaml.safe_load((REPO / "pipelines/index/index.yml").read_text())["components"][name]
    return component_from_dict(deserialize_type(spec["type"]), spec, name)


def test_cleaner_removes_the_scrape_quirks():
    cleaner = _index_component("cleaner")
    raw = (
        "\n\nHeadline of the release \n\n Lead para\u00adgraph with a trailing space. \n\n"
        " Sorry, we are not allowed to show you this content due to your cookie settings. \n\n"
        " Second paragraph. See our products and services live. From 27th February we are in Hall 3.\n\n"
        "This media information contains forward-looking statements that reflect views. More words. "
        "Other companies may define these terms in different ways."
    )
    text = cleaner.run(documents=[Document(content=raw)])["documents"][0].content
    assert text.startswith("Headline of the release\n\nLead paragraph with a trailing space.")
    assert "cookie" not in text and "forward-looking" not in text and "Hall 3" not in text
    assert "\u00ad" not in text and " \n" not in text and "\n " not in text
    assert "Second paragraph." in text


def test_table_flattener_joins_cell_runs_and_keeps_prose():
    cells = "\n\n".join(["Net revenue", "28,979", "26,641", "8.8", "Service revenue", "23,584", "20,971", "12.5"])
    prose = "This paragraph is long enough to be prose and not a table cell at all, clearly."
    text = TableFlattener(min_cells=8).run(documents=[Document(content=f"{prose}\n\n{cells}\n\n{prose}")])
    out = text["documents"][0].content
    assert out.split("\n\n") == [prose, "Net revenue | 28,979 | 26,641 | 8.8 | Service revenue | 23,584 | 20,971 | 12.5", prose]


def test_table_flattener_leaves_short_runs_alone():
    text = "Heading one\n\nA long paragraph of real prose that goes on for more than forty characters.\n\nShort"
    assert TableFlattener(min_cells=8).run(documents=[Document(content=text)])["documents"][0].content == text


def test_metadata_title_dates_and_year():
    extractor = ReleaseMetadataExtractor(max_title_words=8, latest_year=2025)
    headline = Document(content="New cloud region in Barcelona\n\nOn May 16, 2023 T-Systems opened it. In March 2022 it was planned.")
    lead = Document(content="Deutsche Telekom has installed a private 5G campus network for a broadcaster in Cologne. More text by 2030.")
    docs = extractor.run(documents=[headline, lead])["documents"]
    assert docs[0].meta["title"] == "New cloud region in Barcelona"
    assert docs[0].meta["dates"] == ["2023-05-16", "2022-03"]
    assert docs[0].meta["year"] == 2023
    assert docs[1].meta["title"] == "Deutsche Telekom has installed a private 5G campus …"
    assert docs[1].meta["dates"] == [] and "year" not in docs[1].meta  # "by 2030" is a goal, not a date


def test_metadata_day_first_dates_and_plain_years():
    docs = ReleaseMetadataExtractor(latest_year=2025).run(
        documents=[Document(content="Digital X on 21st September 2023. Results for 2024 were strong; targets until 2027.")]
    )["documents"]
    assert docs[0].meta["dates"] == ["2023-09-21"] and docs[0].meta["year"] == 2023


def _chunk(name: str, text: str, emb: list[float] | None = None) -> Document:
    return Document(content=text, meta={"file_path": name}, embedding=emb)


def test_writer_is_idempotent_and_replaces_changed_releases(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))
    store = PersistentInMemoryDocumentStore(index="test-writer", persist_path="w.json")
    writer = SourceReplacingWriter(document_store=store)
    first = [_chunk("1.txt", "alpha one"), _chunk("1.txt", "alpha two"), _chunk("2.txt", "beta")]
    writer.run(documents=first)
    assert writer.run(documents=first) == {"documents_written": 3, "documents_removed": 0}
    assert store.count_documents() == 3
    result = writer.run(documents=[_chunk("1.txt", "alpha changed")])
    assert result == {"documents_written": 1, "documents_removed": 2}
    assert sorted(d.content for d in store.filter_documents()) == ["alpha changed", "beta"]


def test_writer_serializes_round_trip():
    writer = SourceReplacingWriter(document_store=InMemoryDocumentStore(index="ser"), source_field="file_path")
    data = writer.to_dict()
    assert data["init_parameters"]["policy"] == "OVERWRITE"
    assert SourceReplacingWriter.from_dict(data).policy == DuplicatePolicy.OVERWRITE


def test_store_persists_atomically_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))
    store = PersistentInMemoryDocumentStore(index="test-persist", persist_path="idx/p.json")
    store.write_documents([_chunk("a.txt", "hello world", [1.0, 0.0])])
    path = tmp_path / "idx" / "p.json"
    saved = json.loads(path.read_text())
    assert [d["content"] for d in saved["documents"]] == ["hello world"]

    # a crash while writing the file leaves the previous file intact and no temporary file behind
    monkeypatch.setattr(json, "dump", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        store.write_documents([_chunk("b.txt", "second", [0.0, 1.0])])
    assert json.loads(path.read_text()) == saved
    assert list(path.parent.iterdir()) == [path]
    monkeypatch.undo()

    # a new process (simulated: forget the shared memory of this index) loads the file
    import stores.inmemory.persistent_store as ps

    ps.forget_index("test-persist")
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))
    reloaded = PersistentInMemoryDocumentStore(index="test-persist", persist_path="idx/p.json")
    assert reloaded.count_documents() == 1


def test_fast_retrieval_scores_equal_the_parent_store():
    rng = np.random.default_rng(0)
    words = "telekom fiber network campus 5g port hamburg cloud quantum tariff euro price".split()
    docs = [
        Document(content=" ".join(rng.choice(words, size=12)), meta={"year": 2020 + i % 5},
                 embedding=list(map(float, rng.normal(size=8))))
        for i in range(60)
    ]
    fast = PersistentInMemoryDocumentStore(index="test-fast")
    plain = InMemoryDocumentStore(index="test-plain")
    fast.write_documents(docs)
    plain.write_documents(docs)
    year_filter = {"field": "meta.year", "operator": ">=", "value": 2023}
    for filters in (None, year_filter):
        for query in ("campus 5g port", "quantum euro price telekom"):
            mine = fast.bm25_retrieval(query, filters=filters, top_k=10)
            theirs = plain.bm25_retrieval(query, filters=filters, top_k=10)
            assert np.allclose([d.score for d in mine], [d.score for d in theirs], rtol=1e-5)
            # same documents, up to the order of equal scores
            assert {(d.id, round(d.score, 4)) for d in mine} <= {(d.id, round(d.score, 4)) for d in plain.bm25_retrieval(query, filters=filters, top_k=60)}
        q = list(map(float, rng.normal(size=8)))
        mine = fast.embedding_retrieval(q, filters=filters, top_k=5)
        theirs = plain.embedding_retrieval(q, filters=filters, top_k=5)
        assert [d.id for d in mine] == [d.id for d in theirs]
        assert np.allclose([d.score for d in mine], [d.score for d in theirs], atol=1e-5)
        if filters:
            assert all(d.meta["year"] >= 2023 for d in mine)


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


def test_ranker_prefers_the_chunk_where_the_question_words_meet():
    scattered = Document(content="EUROGATE runs terminals. Campus networks are a product. Ports are busy places.", score=0.52)
    focused = Document(content="EUROGATE gets 5G campus networks at the ports of Hamburg and Bremerhaven.", score=0.50)
    query = "Which ports get 5G campus networks for EUROGATE?"
    ranked = PassageFocusRanker(focus_weight=0.5).run(documents=[scattered, focused], query=query)["documents"]
    assert [d.content for d in ranked] == [focused.content, scattered.content]
    unfocused = PassageFocusRanker(focus_weight=0.0).run(documents=[scattered, focused], query=query)["documents"]
    assert unfocused[0].content == scattered.content
    assert PassageFocusRanker().run(documents=[], query=query)["documents"] == []


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
