"""kit/evidence.py on small texts: answer units, what is read off a question, the features, the linear models and
the composition of an answer."""

import json

import numpy as np
import pytest
from haystack import Document

from kit.evidence import (
    ANSWERABILITY_FEATURES,
    CHUNK_FEATURES,
    UNIT_FEATURES,
    EvidenceModel,
    LinearModel,
    Question,
    answerability_features,
    chunk_features,
    compose,
    evidence_units,
    units_of,
)


def test_evidence_units_leave_out_headings_table_rows_and_cut_fragments():
    text = ("cut off at the start of the chunk. Quantum Lab\nThe lab opened in Berlin in 2023. Revenue | 1 | 2 | 3\n"
            "The new tariff package costs 211.50 euros per month and includes:\n- 1 GB")
    units = evidence_units(text)
    assert "The lab opened in Berlin in 2023." in units
    assert "The new tariff package costs 211.50 euros per month and includes:" in units  # a long lead-in holds a fact
    assert not any(" | " in u or u.startswith("cut off") or u == "Quantum Lab" for u in units)


def test_question_names_skip_generic_names_years_units_and_descriptors():
    question = Question.of("Which BMBF-funded 6G project and ChatGPT-style tool did Telekom-led T-Systems show in 2023 at 12 Gbit/s?")
    assert list(question.subjects.values()) == ["BMBF", "6G"]
    assert Question.of("What did Deutsche Telekom announce with SpaceX's Starlink?").missing_names(
        [Document(content="Deutsche Telekom and Netflix announce a partnership.")]) == ["SpaceX", "Starlink"]


def test_unit_features_read_the_kind_and_the_coverage():
    question = Question.of("How much does the T Tablet cost without a mobile plan?")
    units = ["The T Tablet is robust.", "Without a mobile plan, the T Tablet costs 219 euros."]
    found = units_of(question, [Document(content=" ".join(units), meta={"split_id": 0})])
    column = {name: i for i, name in enumerate(UNIT_FEATURES)}
    assert [row[2] for row in found.rows] == units
    assert list(found.features[:, column["kind_any"]]) == [0.0, 1.0]
    assert found.features[1, column["coverage"]] > found.features[0, column["coverage"]]
    assert found.features[1, column["coverage_rel"]] == 0.0 and found.features[0, column["lead_chunk"]] == 1.0


def test_chunk_and_answerability_features_have_one_column_per_name():
    question = Question.of("How much does the T Tablet cost?")
    docs = [Document(id="a", content="The T Tablet costs 219 euros.", score=0.8),
            Document(id="b", content="The weather was fine.", score=0.4)]
    units = units_of(question, docs)
    scores = np.arange(len(units.rows), dtype=float)
    x = chunk_features(question, docs, np.array([0.9, 0.1]), {"a": 12.0}, {"b": 0.5}, units, scores)
    assert x.shape == (2, len(CHUNK_FEATURES))
    assert x[0, CHUNK_FEATURES.index("bm25")] == 1.0 and x[1, CHUNK_FEATURES.index("dense")] == 0.5
    a = answerability_features(question, docs, units, scores)
    assert a.shape == (len(ANSWERABILITY_FEATURES),) and a[ANSWERABILITY_FEATURES.index("kind_found")] == 1.0


def test_linear_model_standardises_and_the_model_file_must_match_the_features(tmp_path):
    model = LinearModel(["a", "b"], [1.0, 0.0], [2.0, 1.0], [1.0, -1.0], 0.5)
    assert model.decision(np.array([[3.0, 1.0]]))[0] == pytest.approx(0.5)
    assert 0 < model.probability(np.zeros(2))[0] < 1
    unit = LinearModel(list(UNIT_FEATURES), *[[0.0] * len(UNIT_FEATURES)] * 2, [0.0] * len(UNIT_FEATURES), 0.0)
    chunk = LinearModel(list(CHUNK_FEATURES), [0.0] * len(CHUNK_FEATURES), [1.0] * len(CHUNK_FEATURES),
                        [0.0] * len(CHUNK_FEATURES), 0.0)
    answer = LinearModel(list(ANSWERABILITY_FEATURES), [0.0] * len(ANSWERABILITY_FEATURES),
                         [1.0] * len(ANSWERABILITY_FEATURES), [0.0] * len(ANSWERABILITY_FEATURES), 0.0)
    EvidenceModel(unit, chunk, answer, 0.3, {"by": "test"}).save(tmp_path / "m.json")
    assert EvidenceModel.load(tmp_path / "m.json").refuse_below == 0.3
    data = json.loads((tmp_path / "m.json").read_text())
    data["unit"]["features"][0] = "something_else"
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="retrain"):
        EvidenceModel.load(tmp_path / "m.json")


def test_compose_takes_the_best_unit_and_completes_a_two_part_question():
    question = Question.of("What does the T Tablet cost, and from when is it available?")
    docs = [Document(content="The T Tablet costs 219 euros. It is a very robust device. It will be available from August 24.")]
    units = units_of(question, docs)
    texts = [row[2] for row in units.rows]
    probability = np.array([0.9, 0.5, 0.3])  # the date sentence is far less probable, but gives the second part
    chosen = compose(question, units, probability, {0}, max_units=3, relative=0.6, completing=0.3)
    assert [texts[i] for i in chosen] == [texts[0], texts[2]]  # in reading order, "It is a very robust device." left out
    assert compose(question, units, probability, set(), max_units=3) == []
