"""ONNX Runtime embedding: install-time export, offline loading, agreement with PyTorch, YAML selection."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path

import numpy as np
import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict
from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder

from components.onnx_document_embedder import OnnxSentenceTransformersDocumentEmbedder
from kit.onnx_embedding_backend import OnnxRuntimeEncoder
from components.onnx_text_embedder import OnnxSentenceTransformersTextEmbedder
from kit.loader import pipeline_spec

from scripts.install import install_model

REPO = Path(__file__).resolve().parents[2]

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INT8 = "onnx/model_qint8.onnx"
COMMON = {"model": MODEL, "normalize_embeddings": True, "tokenizer_kwargs": {"model_max_length": 256},
          "progress_bar": False}
TEXTS = [
    "Who chairs the Board of Management of Deutsche Telekom?",
    "At which ports is Deutsche Telekom building 5G campus networks for EUROGATE?",
    "Deutsche Telekom increased its net revenue by 8.8 percent in the third quarter, driven by T-Mobile US. "
    "Adjusted EBITDA AL rose as well, and the Group confirmed its guidance for the full year.",
    "T-Systems and Verimi are also developing a proof-of-concept ID wallet for tax consultants on behalf of DATEV.",
]


def spec(pipeline: str, block: str) -> dict:
    """The component's YAML block as loaded: the pipeline's own settings over profiles/embedding.yml."""
    folder, name = pipeline.removesuffix(".yml").split("/")
    return pipeline_spec(folder, name, store="inmemory")["components"][block]


def component(pipeline: str, block: str):
    """The component exactly as the YAML configures it (its class named by the YAML's `type`)."""
    data = spec(pipeline, block)
    classes = {f"{cls.__module__}.{cls.__name__}": cls
               for cls in (OnnxSentenceTransformersTextEmbedder, OnnxSentenceTransformersDocumentEmbedder)}
    return component_from_dict(classes[data["type"]], data, block)


@pytest.fixture(scope="module")
def torch_embedder():
    embedder = SentenceTransformersTextEmbedder(**COMMON)
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="module")
def onnx_embedder():
    embedder = OnnxSentenceTransformersTextEmbedder(backend="onnx", model_kwargs={"file_name": INT8}, **COMMON)
    embedder.warm_up()
    return embedder


def embed(embedder, texts):
    return np.array([embedder.run(text=text)["embedding"] for text in texts])


def test_install_exports_onnx_files_that_load_offline(tmp_path):
    snapshot = Path(install_model.install(cache_dir=str(tmp_path)))
    for name in (install_model.ONNX_FP32, install_model.ONNX_INT8):
        assert (snapshot / name).stat().st_size > 1_000_000
    assert not list(snapshot.rglob("*.partial"))
    # int8 weights: about a quarter of the fp32 file
    int8, fp32 = ((snapshot / name).stat().st_size for name in (install_model.ONNX_INT8, install_model.ONNX_FP32))
    assert int8 < 0.4 * fp32
    # loads from that folder with the hub offline (set at the top of this module)
    embedder = OnnxSentenceTransformersTextEmbedder(
        **(COMMON | {"model": str(snapshot)}), backend="onnx", model_kwargs={"file_name": INT8}
    )
    embedder.warm_up()
    assert isinstance(embedder.embedding_backend.model[0].model, OnnxRuntimeEncoder)
    assert len(embedder.run(text="a question")["embedding"]) == 384
    # a second install is a no-op: the files stay as they are
    before = (snapshot / install_model.ONNX_INT8).stat().st_mtime_ns
    install_model.install(cache_dir=str(tmp_path))
    assert (snapshot / install_model.ONNX_INT8).stat().st_mtime_ns == before


def test_missing_onnx_file_is_a_clear_error():
    embedder = OnnxSentenceTransformersTextEmbedder(backend="onnx", model_kwargs={"file_name": "onnx/nope.onnx"},
                                                    **COMMON)
    with pytest.raises(FileNotFoundError, match="install_model.py"):
        embedder.warm_up()


def test_int8_embeddings_match_pytorch_and_are_normalised(torch_embedder, onnx_embedder):
    assert isinstance(onnx_embedder.embedding_backend.model[0].model, OnnxRuntimeEncoder)
    reference, quantized = embed(torch_embedder, TEXTS), embed(onnx_embedder, TEXTS)
    assert np.allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-4)
    cosines = (reference * quantized).sum(axis=1)
    assert cosines.min() >= 0.99, cosines


def test_chunks_embed_independently_of_their_batch():
    """As index.yml embeds them: a chunk's vector does not depend on what else is indexed with it."""
    embedder = component("index/index.yml", "embedder")
    embedder.warm_up()
    batch = embedder.run(documents=[Document(content=text) for text in TEXTS])["documents"]
    singles = [embedder.run(documents=[Document(content=text)])["documents"][0] for text in TEXTS]
    for together, alone in zip(batch, singles, strict=True):
        assert np.allclose(together.embedding, alone.embedding, atol=1e-6)


def test_fp32_export_applies_the_padding_mask():
    """Texts of different lengths in one batch embed as they do alone (fp32: no activation quantization)."""
    embedder = OnnxSentenceTransformersDocumentEmbedder(backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"},
                                                        batch_size=4, **COMMON)
    embedder.warm_up()
    batch = embedder.run(documents=[Document(content=text) for text in TEXTS])["documents"]
    singles = [embedder.run(documents=[Document(content=text)])["documents"][0] for text in TEXTS]
    for together, alone in zip(batch, singles, strict=True):
        assert np.dot(together.embedding, alone.embedding) > 0.9999


def test_the_256_token_window_holds(onnx_embedder):
    assert onnx_embedder.embedding_backend.model.max_seq_length == 256
    head = " ".join(f"word{n}" for n in range(300))  # far more than 256 tokens
    first, second = embed(onnx_embedder, [head + " the end about cats", head + " something else about dogs"])
    assert np.allclose(first, second, atol=1e-6)  # whatever follows token 256 is cut off
    assert not np.allclose(*embed(onnx_embedder, ["cats sleep a lot", "dogs bark loudly"]), atol=1e-3)


def test_yaml_selects_int8_onnx_for_both_index_and_queries():
    index, search = spec("index/index.yml", "embedder"), spec("search/search.yml", "query_embedder")
    for block in (index, search):
        parameters = block["init_parameters"]
        assert parameters["backend"] == "onnx"
        assert parameters["model_kwargs"]["file_name"] == INT8
        assert parameters["normalize_embeddings"] is True
        assert parameters["tokenizer_kwargs"] == {"model_max_length": 256}
    # one model for chunk and query vectors
    assert index["init_parameters"]["model"] == search["init_parameters"]["model"]
    # through the service's own loader (its module allowlist), as the service builds it
    from kit.loader import load_pipeline

    query_embedder = load_pipeline("search", "search").pipeline.get_component("query_embedder")
    assert type(query_embedder).__name__ == "OnnxSentenceTransformersTextEmbedder"
    query_embedder.warm_up()
    assert isinstance(query_embedder.embedding_backend.model[0].model, OnnxRuntimeEncoder)
    assert Path(query_embedder.embedding_backend.onnx_file).name == "model_qint8.onnx"


def test_serialization_round_trip():
    embedder = component("index/index.yml", "embedder")
    data = embedder.to_dict()
    assert data["type"] == "components.onnx_document_embedder.OnnxSentenceTransformersDocumentEmbedder"
    again = OnnxSentenceTransformersDocumentEmbedder.from_dict(data)
    assert again.to_dict() == data


def test_torch_backend_is_the_stock_component(torch_embedder):
    embedder = OnnxSentenceTransformersTextEmbedder(backend="torch", **COMMON)
    embedder.warm_up()
    assert not isinstance(embedder.embedding_backend.model[0].model, OnnxRuntimeEncoder)
    assert np.allclose(embed(embedder, TEXTS[:1]), embed(torch_embedder, TEXTS[:1]), atol=1e-5)
