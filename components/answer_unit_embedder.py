"""Sentence-level embeddings at indexing: each chunk's answer units embedded and kept in its meta."""

from haystack import Document, component

from components.onnx_document_embedder import OnnxSentenceTransformersDocumentEmbedder
from kit.evidence import UNIT_VECTORS, encode_vectors, evidence_units


@component
class AnswerUnitEmbedder(OnnxSentenceTransformersDocumentEmbedder):
    """
    Embeds every answer unit (sentence) of each chunk with the chunks' own model and keeps the vectors in the
    chunk's meta, so that rankers and answerers can compare the question with single sentences at no query-time
    cost.

    The vectors of `kit.evidence.evidence_units(chunk.content)` are stored, in that order, in
    `meta["unit_vectors"]` as one base64 string (per unit a float16 scale and int8 values: ~0.5 KB per sentence;
    cosines within 0.01 of float32). A string, not a list of floats: Haystack copies component inputs, and a
    string is copied by reference. The units of one chunk are embedded in one call, so a chunk's vectors are the
    same every time it is indexed. Chunks without units get no field.

    Why a component of our own: Haystack's embedders give one vector per document (`Document.embedding`);
    none embeds parts of a document. It is the project's ONNX document embedder with another `run()`, so it
    takes the same init parameters (the model settings come from profiles/embedding.yml) and the same
    `backend: onnx`.

    ### Usage example

    ```python
    from haystack import Document
    from components.answer_unit_embedder import AnswerUnitEmbedder
    from kit.evidence import decode_vectors

    embedder = AnswerUnitEmbedder(model="sentence-transformers/all-MiniLM-L6-v2", backend="onnx",
                                  model_kwargs={"file_name": "onnx/model_qint8.onnx"}, normalize_embeddings=True,
                                  local_files_only=True, tokenizer_kwargs={"model_max_length": 256})
    embedder.warm_up()
    chunk = Document(content="Telekom opened a Quantum Lab in Berlin. It is linked to 2,000 km of fiber.")
    vectors = decode_vectors(embedder.run(documents=[chunk])["documents"][0].meta["unit_vectors"], 384)
    print(vectors.shape)  # (2, 384): one row per sentence
    ```
    """

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:  # type: ignore[override]
        """
        Add the unit vectors to each document's meta.

        :param documents: Chunks.
        :returns: A dictionary with the following key:
            - `documents`: new Documents with `meta["unit_vectors"]` (where a chunk has answer units).
        :raises TypeError: If `documents` is not a list of Documents.
        """
        if not isinstance(documents, list) or (documents and not isinstance(documents[0], Document)):
            raise TypeError("AnswerUnitEmbedder expects a list of Documents as input.")
        if self.embedding_backend is None:
            self.warm_up()
        embedded = []
        for doc in documents:
            units = list(evidence_units(doc.content or ""))
            meta = {key: value for key, value in doc.meta.items() if key != UNIT_VECTORS}
            if units:
                vectors = self.embedding_backend.embed(
                    data=units, batch_size=len(units), show_progress_bar=False,
                    normalize_embeddings=self.normalize_embeddings, precision=self.precision,
                )
                meta[UNIT_VECTORS] = encode_vectors(vectors)
            embedded.append(Document(id=doc.id, content=doc.content, blob=doc.blob, meta=meta, score=doc.score,
                                     embedding=doc.embedding, sparse_embedding=doc.sparse_embedding))
        return {"documents": embedded}
