"""Embedding as the pipelines do it (profiles/embedding.yml), for tests of the evidence components: sample chunks
with their unit vectors (index.yml's unit_embedder) and questions with their vectors (search.yml's query_embedder)."""

from functools import cache

from haystack import Document
from haystack.core.serialization import component_from_dict

from components.answer_unit_embedder import AnswerUnitEmbedder
from components.onnx_text_embedder import OnnxSentenceTransformersTextEmbedder
from kit.loader import pipeline_spec


@cache
def unit_embedder() -> AnswerUnitEmbedder:
    data = pipeline_spec("index", "index", store="inmemory")["components"]["unit_embedder"]
    embedder = component_from_dict(AnswerUnitEmbedder, data, "unit_embedder")
    embedder.warm_up()
    return embedder


@cache
def query_embedder() -> OnnxSentenceTransformersTextEmbedder:
    data = pipeline_spec("search", "search", store="inmemory")["components"]["query_embedder"]
    embedder = component_from_dict(OnnxSentenceTransformersTextEmbedder, data, "query_embedder")
    embedder.warm_up()
    return embedder


def with_unit_vectors(*documents: Document) -> list[Document]:
    return unit_embedder().run(documents=list(documents))["documents"]


def embed_question(question: str) -> list[float]:
    return query_embedder().run(text=question)["embedding"]
