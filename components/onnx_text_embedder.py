"""Query embedding through ONNX Runtime: Haystack's SentenceTransformersTextEmbedder with `backend: onnx` working.

Why not the stock component: with `backend: onnx` it asks sentence-transformers for its ONNX backend, which
needs optimum-onnx, and no optimum-onnx release installs next to transformers 5 (see
`kit/onnx_embedding_backend.py`). This subclass changes nothing but `warm_up()` for that backend: same
init parameters, same `run()`, same serialization; with any other backend it is the stock component.

    embedder = OnnxSentenceTransformersTextEmbedder(
        model="sentence-transformers/all-MiniLM-L6-v2", backend="onnx",
        model_kwargs={"file_name": "onnx/model_qint8.onnx"}, normalize_embeddings=True,
        tokenizer_kwargs={"model_max_length": 256})
    embedder.warm_up()
    embedder.run(text="Who chairs the Board?")["embedding"]   # 384 floats, norm 1
"""

from haystack import component
from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder

from kit.onnx_embedding_backend import onnx_backend_of


@component
class OnnxSentenceTransformersTextEmbedder(SentenceTransformersTextEmbedder):
    """
    SentenceTransformersTextEmbedder whose `backend: onnx` runs the model file in `model_kwargs.file_name`.

    ### Usage example

    ```python
    from components.onnx_text_embedder import OnnxSentenceTransformersTextEmbedder

    embedder = OnnxSentenceTransformersTextEmbedder(
        model="sentence-transformers/all-MiniLM-L6-v2", backend="onnx",
        model_kwargs={"file_name": "onnx/model_qint8.onnx"}, normalize_embeddings=True,
    )
    embedder.warm_up()
    embedder.run(text="Which ports get 5G?")["embedding"]  # 384 floats
    ```
    """

    def warm_up(self) -> None:
        """Load the model; for `backend: onnx`, with an ONNX Runtime session in place of the PyTorch encoder."""
        if self.backend != "onnx":
            SentenceTransformersTextEmbedder.warm_up(self)  # zero-argument super(): @component copies the class
            return
        if self.embedding_backend is None:
            self.embedding_backend = onnx_backend_of(self)
