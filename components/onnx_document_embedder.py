"""Chunk embedding through ONNX Runtime: Haystack's SentenceTransformersDocumentEmbedder with `backend: onnx` working.

Why not the stock component: with `backend: onnx` it asks sentence-transformers for its ONNX backend, which
needs optimum-onnx, and no optimum-onnx release installs next to transformers 5 (see
`kit/onnx_embedding_backend.py`). This subclass changes nothing but `warm_up()` for that backend: same
init parameters, same `run()` (meta_fields_to_embed, batching), same serialization; with any other backend it
is the stock component.

    embedder = OnnxSentenceTransformersDocumentEmbedder(
        model="sentence-transformers/all-MiniLM-L6-v2", backend="onnx",
        model_kwargs={"file_name": "onnx/model_qint8.onnx"}, normalize_embeddings=True,
        tokenizer_kwargs={"model_max_length": 256})
    embedder.warm_up()
    embedder.run(documents=[Document(content="The Board met.")])["documents"][0].embedding   # 384 floats, norm 1
"""

from haystack import component
from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersDocumentEmbedder

from kit.onnx_embedding_backend import onnx_backend_of


@component
class OnnxSentenceTransformersDocumentEmbedder(SentenceTransformersDocumentEmbedder):
    """
    SentenceTransformersDocumentEmbedder whose `backend: onnx` runs the model file in `model_kwargs.file_name`.

    ### Usage example

    ```python
    from haystack import Document

    from components.onnx_document_embedder import OnnxSentenceTransformersDocumentEmbedder

    embedder = OnnxSentenceTransformersDocumentEmbedder(
        model="sentence-transformers/all-MiniLM-L6-v2", backend="onnx",
        model_kwargs={"file_name": "onnx/model_qint8.onnx"}, normalize_embeddings=True,
    )
    embedder.warm_up()
    embedder.run(documents=[Document(content="EUROGATE gets 5G.")])["documents"][0].embedding
    ```
    """

    def warm_up(self) -> None:
        """Load the model; for `backend: onnx`, with an ONNX Runtime session in place of the PyTorch encoder."""
        if self.backend != "onnx":
            SentenceTransformersDocumentEmbedder.warm_up(self)  # zero-argument super(): @component copies the class
            return
        if self.embedding_backend is None:
            self.embedding_backend = onnx_backend_of(self)
