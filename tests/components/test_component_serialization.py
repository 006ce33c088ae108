"""Every custom component and document store (`components/`, `stores/`) survives `to_dict()` -> `from_dict()`.

Pipelines are YAML, so a component that does not round-trip breaks `Pipeline.loads`/`dumps` (and Hayhooks'
deployment) in ways a unit test of `run()` never shows. Each case builds its class with non-default init
parameters, serializes it, re-creates it from the dict and serializes again: both dicts must be equal,
the non-default values must be in them, and a secret must appear as its variable name, never its value.

The classes are discovered (every `@component` class and every document store defined in a module of
`components/` or `stores/`), so a new one without a case here fails `test_every_custom_class_has_a_round_trip_case`.
Nothing connects: the Elasticsearch/OpenSearch stores build their clients on first use.
"""

import copy
import importlib
import inspect
import json
import pkgutil
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from haystack import component
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy, FilterPolicy
from haystack.utils import Secret

import components
import stores
from components.answerability_check import AnswerabilityCheck
from components.character_limit_splitter import CharacterLimitSplitter
from components.citation_checker import CitationChecker
from components.evidence_ranker import EvidenceRanker
from components.extractive_answerer import ExtractiveAnswerer
from components.near_duplicate_filter import NearDuplicateFilter
from components.onnx_document_embedder import OnnxSentenceTransformersDocumentEmbedder
from components.onnx_text_embedder import OnnxSentenceTransformersTextEmbedder
from components.passage_focus_ranker import PassageFocusRanker
from components.question_period import QuestionPeriodPreference
from components.release_metadata import ReleaseMetadataExtractor
from components.source_replacing_writer import SourceReplacingWriter
from components.table_flattener import TableFlattener
from stores.elasticsearch.elasticsearch_store import (
    EnvElasticsearchBM25Retriever,
    EnvElasticsearchDocumentStore,
    EnvElasticsearchEmbeddingRetriever,
)
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore, forget_index
from stores.opensearch.opensearch_store import (
    EnvOpenSearchBM25Retriever,
    EnvOpenSearchDocumentStore,
    EnvOpenSearchEmbeddingRetriever,
)

# Values of the secrets' variables: none may appear in a serialized dict.
SECRET_VALUES = {
    "PRESSQA_TEST_ES_HOSTS": "http://elastic:es-password-4711@es-a.example:9200,http://es-b.example:9200",
    "PRESSQA_TEST_ES_API_KEY": "es-api-key-4711",
    "PRESSQA_TEST_OS_HOSTS": "https://admin:os-password-4711@os-a.example:9200",
    "PRESSQA_TEST_OS_USER": "os-user-4711",
    "PRESSQA_TEST_OS_PASSWORD": "os-password-0815",
    "PRESSQA_TEST_HF_TOKEN": "hf_token4711",
}
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def secrets_env(monkeypatch, tmp_path):
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    ca_file = tmp_path / "private-ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("PRESSQA_TEST_ES_CA", str(ca_file))
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))  # a relative persist_path lands here
    # A nested store's class is deserialized only from allowlisted modules; the service allows components.* and stores.*
    # through Pipeline.loads(allowed_modules=...), a bare from_dict through Haystack's variable.
    monkeypatch.setenv("HAYSTACK_DESERIALIZATION_ALLOWLIST", "components.*,stores.*")
    return {**SECRET_VALUES, "PRESSQA_TEST_ES_CA": str(ca_file)}


@pytest.fixture
def index_name():
    """A fresh in-memory index, forgotten afterwards (its reload watcher ends with it)."""
    name = f"serialization-{uuid.uuid4().hex[:8]}"
    yield name
    forget_index(name)


def _env(name: str, strict: bool = True) -> dict[str, Any]:
    return {"type": "env_var", "env_vars": [name], "strict": strict}


def _persistent_store(index: str, persist_path: str | None = None) -> PersistentInMemoryDocumentStore:
    return PersistentInMemoryDocumentStore(
        persist_path=persist_path, index=index, bm25_algorithm="BM25Plus",
        embedding_similarity_function="cosine", return_embedding=False,
    )


def _elasticsearch_store() -> EnvElasticsearchDocumentStore:
    return EnvElasticsearchDocumentStore(
        hosts=Secret.from_env_var("PRESSQA_TEST_ES_HOSTS"),
        ca_certs=Secret.from_env_var("PRESSQA_TEST_ES_CA", strict=False),
        return_embedding=False,
        api_key=Secret.from_env_var("PRESSQA_TEST_ES_API_KEY", strict=False),
        index="serialization-test",
        embedding_similarity_function="dot_product",
    )


def _opensearch_store() -> EnvOpenSearchDocumentStore:
    return EnvOpenSearchDocumentStore(
        hosts=Secret.from_env_var("PRESSQA_TEST_OS_HOSTS"),
        http_auth=(Secret.from_env_var("PRESSQA_TEST_OS_USER"), Secret.from_env_var("PRESSQA_TEST_OS_PASSWORD")),
        index="serialization-test",
        embedding_dim=384,
        return_embedding=True,
        method={"name": "hnsw", "engine": "lucene", "space_type": "innerproduct"},
    )


# Per class: (build(index_name) -> instance, init parameters the dict must hold: the non-default values,
# secrets by variable name).
CASES: dict[type, tuple[Callable[[str], Any], dict[str, Any]]] = {
    PassageFocusRanker: (
        lambda _: PassageFocusRanker(focus_weight=0.3, window=2, answer_type_weight=0.2, chunk_coverage_weight=0.1),
        {"focus_weight": 0.3, "window": 2, "answer_type_weight": 0.2, "chunk_coverage_weight": 0.1},
    ),
    NearDuplicateFilter: (lambda _: NearDuplicateFilter(top_k=7, threshold=0.8), {"top_k": 7, "threshold": 0.8}),
    ExtractiveAnswerer: (
        lambda _: ExtractiveAnswerer(model_path="/tmp/other.json", max_units=2, relative=0.5, completing=0.2, related=2),
        {"model_path": "/tmp/other.json", "max_units": 2, "relative": 0.5, "completing": 0.2, "related": 2},
    ),
    EvidenceRanker: (lambda _: EvidenceRanker(model_path="/tmp/other.json"), {"model_path": "/tmp/other.json"}),
    AnswerabilityCheck: (
        lambda _: AnswerabilityCheck(model_path="/tmp/other.json", max_chunks=2, name_chunks=4),
        {"model_path": "/tmp/other.json", "max_chunks": 2, "name_chunks": 4},
    ),
    CitationChecker: (
        lambda _: CitationChecker(model=None, min_lexical=0.5, min_similarity=0.7, max_seq_length=128),
        {"model": None, "min_lexical": 0.5, "min_similarity": 0.7, "max_seq_length": 128},
    ),
    ReleaseMetadataExtractor: (
        lambda _: ReleaseMetadataExtractor(max_title_words=9, latest_year=2024, max_title_chars=80),
        {"max_title_words": 9, "latest_year": 2024, "max_title_chars": 80},
    ),
    CharacterLimitSplitter: (lambda _: CharacterLimitSplitter(max_chars=500), {"max_chars": 500}),
    TableFlattener: (lambda _: TableFlattener(min_cells=5, max_cell_chars=30), {"min_cells": 5, "max_cell_chars": 30}),
    QuestionPeriodPreference: (
        lambda index: QuestionPeriodPreference(document_store=_persistent_store(index), boost=0.2, recency_boost=0.1),
        {"boost": 0.2, "recency_boost": 0.1},
    ),
    SourceReplacingWriter: (
        lambda index: SourceReplacingWriter(
            document_store=_persistent_store(index), policy=DuplicatePolicy.SKIP, source_field="source_id"
        ),
        {"policy": "SKIP", "source_field": "source_id"},
    ),
    OnnxSentenceTransformersTextEmbedder: (
        lambda _: OnnxSentenceTransformersTextEmbedder(
            model=MODEL, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8.onnx"},
            normalize_embeddings=True, prefix="query: ", batch_size=8, progress_bar=False,
            token=Secret.from_env_var("PRESSQA_TEST_HF_TOKEN", strict=False),
        ),
        {"backend": "onnx", "prefix": "query: ", "batch_size": 8, "normalize_embeddings": True,
         "token": _env("PRESSQA_TEST_HF_TOKEN", strict=False)},
    ),
    OnnxSentenceTransformersDocumentEmbedder: (
        lambda _: OnnxSentenceTransformersDocumentEmbedder(
            model=MODEL, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8.onnx"},
            meta_fields_to_embed=["title"], batch_size=16, progress_bar=False,
            token=Secret.from_env_var("PRESSQA_TEST_HF_TOKEN", strict=False),
        ),
        {"backend": "onnx", "meta_fields_to_embed": ["title"], "batch_size": 16,
         "token": _env("PRESSQA_TEST_HF_TOKEN", strict=False)},
    ),
    PersistentInMemoryDocumentStore: (
        lambda index: _persistent_store(index, persist_path="index/serialization.json"),
        {"persist_path": "index/serialization.json", "bm25_algorithm": "BM25Plus",
         "embedding_similarity_function": "cosine", "return_embedding": False},
    ),
    EnvElasticsearchDocumentStore: (
        lambda _: _elasticsearch_store(),
        {"hosts": _env("PRESSQA_TEST_ES_HOSTS"), "ca_certs": _env("PRESSQA_TEST_ES_CA", strict=False),
         "api_key": _env("PRESSQA_TEST_ES_API_KEY", strict=False), "return_embedding": False,
         "index": "serialization-test", "embedding_similarity_function": "dot_product"},
    ),
    EnvElasticsearchBM25Retriever: (
        lambda _: EnvElasticsearchBM25Retriever(
            document_store=_elasticsearch_store(), top_k=7, fuzziness="0", filter_policy=FilterPolicy.MERGE
        ),
        {"top_k": 7, "fuzziness": "0", "filter_policy": "merge"},
    ),
    EnvElasticsearchEmbeddingRetriever: (
        lambda _: EnvElasticsearchEmbeddingRetriever(
            document_store=_elasticsearch_store(), top_k=9, num_candidates=50, filter_policy=FilterPolicy.MERGE
        ),
        {"top_k": 9, "num_candidates": 50, "filter_policy": "merge"},
    ),
    EnvOpenSearchDocumentStore: (
        lambda _: _opensearch_store(),
        {"hosts": _env("PRESSQA_TEST_OS_HOSTS"),
         "http_auth": [_env("PRESSQA_TEST_OS_USER"), _env("PRESSQA_TEST_OS_PASSWORD")],
         "index": "serialization-test", "embedding_dim": 384},
    ),
    EnvOpenSearchBM25Retriever: (
        lambda _: EnvOpenSearchBM25Retriever(document_store=_opensearch_store(), top_k=7, fuzziness=0, all_terms_must_match=True),
        {"top_k": 7, "fuzziness": 0, "all_terms_must_match": True},
    ),
    EnvOpenSearchEmbeddingRetriever: (
        lambda _: EnvOpenSearchEmbeddingRetriever(document_store=_opensearch_store(), top_k=9, filter_policy=FilterPolicy.MERGE),
        {"top_k": 9, "filter_policy": "merge"},
    ),
}


def _is_document_store(cls: type) -> bool:
    return all(callable(getattr(cls, name, None)) for name in ("write_documents", "filter_documents", "count_documents", "to_dict"))


def _modules() -> list:
    """Every module of `components/` and `stores/` (with the stores' folders)."""
    return [importlib.import_module(info.name) for package in (components, stores)
            for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.") if not info.ispkg]


def _component_classes(module) -> list[type]:
    return [obj for obj in vars(module).values()
            if inspect.isclass(obj) and obj.__module__ == module.__name__
            and component.registry.get(f"{obj.__module__}.{obj.__name__}") is obj]


def discovered_classes() -> set[type]:
    """Every `@component` class and every document store defined in a module of `components/` or `stores/`."""
    found = set()
    for module in _modules():
        for obj in vars(module).values():
            if not inspect.isclass(obj) or obj.__module__ != module.__name__:
                continue
            if component.registry.get(f"{obj.__module__}.{obj.__name__}") is obj or _is_document_store(obj):
                found.add(obj)
    return found


def test_every_custom_class_has_a_round_trip_case():
    found = discovered_classes()
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in found - CASES.keys())
    assert not missing, f"add a case to CASES in {__name__} for: {missing}"
    stale = sorted(c.__name__ for c in CASES.keys() - found)
    assert not stale, f"cases for classes that are not discovered (renamed? not a component?): {stale}"


def test_components_holds_one_component_class_per_module_and_nothing_else():
    """components/ is for `@component` classes, one a file; helpers go to kit/, document stores to stores/."""
    for info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{info.name}")
        classes = [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module.__name__]
        assert [c.__name__ for c in _component_classes(module)] == [c.__name__ for c in classes] and len(classes) == 1, (
            f"{module.__name__} defines {[c.__name__ for c in classes]}: one @component class and no other class")


def _serialize(instance: Any) -> dict[str, Any]:
    return instance.to_dict() if _is_document_store(type(instance)) else component_to_dict(instance, "under_test")


def _deserialize(cls: type, data: dict[str, Any]) -> Any:
    # A copy: some from_dict implementations (Haystack's retrievers among them) replace values in place.
    data = copy.deepcopy(data)
    return cls.from_dict(data) if _is_document_store(cls) else component_from_dict(cls, data, "under_test")


def _env_secrets(value: Any) -> list[dict[str, Any]]:
    """Every serialized Secret inside `value`."""
    if isinstance(value, dict):
        own = [value] if value.get("type") in ("env_var", "token") else []
        return own + [s for v in value.values() for s in _env_secrets(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _env_secrets(v)]
    return []


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_round_trip(cls, secrets_env, index_name):
    build, expected = CASES[cls]
    instance = build(index_name)
    assert type(instance) is cls
    data = _serialize(instance)
    assert data["type"] == f"{cls.__module__}.{cls.__name__}"
    dumped = json.dumps(data)  # plain data, as YAML/JSON needs
    for variable, value in secrets_env.items():
        for part in value.split(","):  # a store may serialize a host list element by element
            assert part not in dumped, f"the value of {variable} is serialized"
    for secret in _env_secrets(data):
        assert secret["type"] == "env_var" and set(secret) == {"type", "env_vars", "strict"}, secret
    for name, value in expected.items():
        assert data["init_parameters"][name] == value, name

    again = _deserialize(cls, data)
    assert type(again) is cls
    assert _serialize(again) == data


@pytest.mark.parametrize("cls", [QuestionPeriodPreference, SourceReplacingWriter] + [
    c for c in CASES if c.__name__.endswith("Retriever")
], ids=lambda c: c.__name__)
def test_a_nested_store_comes_back_as_its_own_class(cls, secrets_env, index_name):
    build, _ = CASES[cls]
    instance = build(index_name)
    again = _deserialize(cls, _serialize(instance))
    assert type(again.document_store) is type(instance.document_store)
    assert again.document_store.to_dict() == instance.document_store.to_dict()


# Non-default settings of the ranking and answering components (each a setting YAML can change).


@pytest.mark.parametrize(
    "instance",
    [
        ExtractiveAnswerer(max_chunks=2, relative=0.5),
        EvidenceRanker(model_path="models/other.json"),
        AnswerabilityCheck(max_chunks=2),
        CitationChecker(model=None, min_lexical=0.5),
        QuestionPeriodPreference(document_store=InMemoryDocumentStore(), boost=0.2),
        PassageFocusRanker(window=2, answer_type_weight=0.2, chunk_coverage_weight=0.1),
        NearDuplicateFilter(top_k=3, threshold=0.8),
    ],
)
def test_non_default_settings_round_trip(instance):
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
        ExtractiveAnswerer(relative=1.5)
    with pytest.raises(ValueError):
        AnswerabilityCheck(max_chunks=0)
    with pytest.raises(ValueError):
        PassageFocusRanker(window=0)
    with pytest.raises(ValueError):
        PassageFocusRanker(focus_weight=1.5)
    with pytest.raises(ValueError):
        NearDuplicateFilter(threshold=0)
    with pytest.raises(ValueError):
        ExtractiveAnswerer(max_units=0)
