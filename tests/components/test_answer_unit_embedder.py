"""AnswerUnitEmbedder: one vector per answer unit in the chunk's meta, in the units' order, the same at every run;
chunk ids, embeddings and other meta untouched."""

import numpy as np
import pytest
from evidence_support import embed_question, unit_embedder
from haystack import Document

from kit.evidence import UNIT_VECTORS, decode_vectors, evidence_units


def test_one_normalised_vector_per_unit_that_matches_its_sentence():
    chunk = Document(content="Telekom opened a Quantum Lab in Berlin. It is connected to over 2,000 km of fiber.",
                     meta={"file_path": "q.txt", UNIT_VECTORS: "stale"}, embedding=[0.5] * 384)
    [out] = unit_embedder().run(documents=[chunk])["documents"]
    assert out.id == chunk.id and out.embedding == chunk.embedding and out.meta["file_path"] == "q.txt"
    vectors = decode_vectors(out.meta[UNIT_VECTORS], 384)
    assert vectors.shape == (len(evidence_units(chunk.content)), 384) == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=0.02)
    question = np.array(embed_question("How much fiber is the lab connected to?"))
    assert np.argmax(vectors @ question) == 1
    again = unit_embedder().run(documents=[chunk])["documents"][0]
    assert again.meta[UNIT_VECTORS] == out.meta[UNIT_VECTORS]


def test_a_chunk_without_units_gets_no_field_and_bad_input_is_refused():
    [out] = unit_embedder().run(documents=[Document(content="Revenue | 1 | 2 | 3")])["documents"]
    assert UNIT_VECTORS not in out.meta
    with pytest.raises(TypeError):
        unit_embedder().run(documents="not documents")
