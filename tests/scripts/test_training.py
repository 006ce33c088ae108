"""`pressqa-train` on a small corpus and question set the test writes itself: it indexes what is missing, fits the
three models, reports k-fold figures per question type, writes a model the components load, does it again the same
way, and refuses bad input with a clear message."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kit.evidence import ANSWERABILITY_FEATURES, CHUNK_FEATURES, UNIT_FEATURES, EvidenceModel

REPO = Path(__file__).resolve().parents[2]

RELEASES = {
    "1.txt": "Telekom launches the Quokkaphone. The Quokkaphone costs 349 euros without a contract. It goes on sale "
             "on March 3 in all Telekom shops. Its camera takes pictures at night.",
    "2.txt": "Telekom opens a research lab in Leipzig. The lab employs 120 researchers. It studies quantum sensors "
             "with the University of Leipzig and works with the start-up Sensorix.",
    "3.txt": "Telekom builds a fiber network in Rostock. By 2026, 80,000 households will be connected. The network "
             "is built together with the city utility Stadtwerke Rostock.",
    "4.txt": "Telekom and the football club FC Nordstern extend their partnership until 2028. Fans get free "
             "streaming of every home match in the MagentaSport app.",
    "5.txt": "T-Systems wins a cloud contract from the carmaker Velora. T-Systems moves 300 SAP systems to its "
             "private cloud in Frankfurt. The migration starts in May.",
    "6.txt": "Telekom presents its climate report. Emissions fell by 12 percent last year. By 2030, Telekom wants "
             "to cut its emissions in half, and it buys only green electricity.",
    "7.txt": "The Telekom Innovation Award goes to the start-up Lumenwave for its smart street lights. The jury met "
             "in Bonn. Lumenwave receives a prize of 50,000 euros.",
    "8.txt": "Telekom offers a new satellite tariff for farms. The tariff Skyfield costs 89 euros per month. It "
             "includes 10 GB of satellite data and runs on the partner network of Orbitline.",
}


def question(qid, kind, text, facts, quote, file):
    return {"id": qid, "type": kind, "question": text, "answer": "", "key_facts": facts,
            "gold_quotes": [quote] if quote else [], "gold_files": [f"data/{file}"] if file else []}


QUESTIONS = [
    question("t1", "fact", "How much does the Quokkaphone cost without a contract?", ["349 euros"],
             "The Quokkaphone costs 349 euros without a contract.", "1.txt"),
    question("t2", "fact", "When does the Quokkaphone go on sale?", ["March 3"], "It goes on sale on March 3", "1.txt"),
    question("t3", "fact", "How many researchers work in the Leipzig lab?", ["120"], "The lab employs 120 researchers.", "2.txt"),
    question("t4", "fact", "Which start-up works with the Leipzig lab?", ["Sensorix"], "works with the start-up Sensorix", "2.txt"),
    question("t5", "fact", "How many households will the Rostock fiber network connect?", ["80,000"],
             "By 2026, 80,000 households will be connected.", "3.txt"),
    question("t6", "paraphrase", "Who helps Telekom lay the optical cables in Rostock?", ["Stadtwerke Rostock"],
             "together with the city utility Stadtwerke Rostock", "3.txt"),
    question("t7", "temporal", "Until when does the FC Nordstern partnership run?", ["2028"],
             "extend their partnership until 2028", "4.txt"),
    question("t8", "fact", "How many SAP systems does T-Systems move for Velora?", ["300"],
             "T-Systems moves 300 SAP systems to its private cloud in Frankfurt.", "5.txt"),
    question("t9", "fact", "By how much did Telekom's emissions fall last year?", ["12 percent"],
             "Emissions fell by 12 percent last year.", "6.txt"),
    question("t10", "fact", "How much prize money does Lumenwave receive?", ["50,000 euros"],
             "Lumenwave receives a prize of 50,000 euros.", "7.txt"),
    question("t11", "exact_term", "What does the Skyfield tariff cost per month?", ["89 euros"],
             "The tariff Skyfield costs 89 euros per month.", "8.txt"),
    question("t12", "exact_term", "Whose network does the Skyfield tariff run on?", ["Orbitline"],
             "runs on the partner network of Orbitline", "8.txt"),
    question("u1", "unanswerable", "What is the battery capacity of the Quokkaphone?", [], None, None),
    question("u2", "unanswerable", "How much does FC Nordstern receive from Telekom per year?", [], None, None),
    question("u3", "unanswerable", "How much is the cloud contract with Velora worth?", [], None, None),
    question("u4", "unanswerable", "How many street lights has Lumenwave installed?", [], None, None),
]


def train(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRESSQA_DATA_DIR": str(tmp / "data"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PRESSQA_STORE", None)
    return subprocess.run([sys.executable, "-m", "scripts.training.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("training")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for name, text in RELEASES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (tmp / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n", encoding="utf-8")
    args = ["--questions", str(tmp / "questions.jsonl"), "--corpus", str(corpus), "--folds", "2", "--seeds", "0", "1"]
    first = train(tmp, *args, "--out", str(tmp / "model.json"), "--report", str(tmp / "report.json"))
    return tmp, args, first


def test_trains_a_model_the_components_load_with_k_fold_figures_per_type(trained):
    tmp, _, run = trained
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Indexing" in run.stderr and "2-fold, seeds [0, 1], 16 questions" in run.stdout
    assert "unanswerable" in run.stdout and "answerability ROC AUC" in run.stdout
    model = EvidenceModel.load(tmp / "model.json")
    assert model.unit.features == list(UNIT_FEATURES) and model.chunk.features == list(CHUNK_FEATURES)
    assert model.answerability.features == list(ANSWERABILITY_FEATURES) and 0 < model.refuse_below < 1
    assert model.provenance["question_count"] == 16 and model.provenance["questions"][0]["file"] == "questions.jsonl"
    report = json.loads((tmp / "report.json").read_text())
    assert [seed["seed"] for seed in report] == [0, 1]
    fact = report[0]["by_type"]["fact"]
    assert {"passage@1", "hit@1", "passage@5", "key_facts", "wrongly_refused"} <= fact.keys()
    assert 0 <= report[0]["by_type"]["unanswerable"]["refused"] <= 1
    # on this easy corpus the out-of-fold ranking finds the releases of the answerable questions
    assert report[0]["by_type"]["all"]["passage@5"] >= 0.9


def test_the_same_index_and_questions_give_the_same_model(trained):
    tmp, args, _ = trained
    again = train(tmp, *args, "--out", str(tmp / "again.json"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Indexing" not in again.stderr  # the corpus is indexed already
    first, second = (json.loads((tmp / name).read_text()) for name in ("model.json", "again.json"))
    for part in ("unit", "chunk", "answerability"):
        assert np.allclose(first[part]["coef"], second[part]["coef"], atol=1e-9)
    assert first["refuse_below"] == pytest.approx(second["refuse_below"], abs=1e-9)


def test_bad_input_is_refused_with_the_reason(tmp_path):
    missing = train(tmp_path, "--questions", str(tmp_path / "nothing.jsonl"))
    assert missing.returncode == 2 and "no such question file" in missing.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x", "type": "fact", "question": "Why?"}\nnot json\n', encoding="utf-8")
    bad = train(tmp_path, "--questions", str(broken))
    assert bad.returncode != 0 and "broken.jsonl:2: not a question line" in bad.stderr


@pytest.mark.e2e
def test_the_committed_model_is_what_pressqa_train_fits_on_the_real_index(indexed_service):
    """CI trains it too: the session's service indexed the whole corpus; fitting on dev.jsonl + dev2.jsonl over that
    index must give models/evidence_model.json (the components serve that file)."""
    shared = REPO.parent / "shared" / "eval"
    env = {**os.environ, "PRESSQA_DATA_DIR": str(indexed_service.data_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("PRESSQA_STORE", None)
    out = indexed_service.data_dir / "retrained.json"
    run = subprocess.run([sys.executable, "-m", "scripts.training.cli", "--questions", str(shared / "dev.jsonl"),
                          str(shared / "dev2.jsonl"), "--out", str(out)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    committed, fitted = (json.loads(p.read_text()) for p in (REPO / "models" / "evidence_model.json", out))
    for part in ("unit", "chunk", "answerability"):
        assert fitted[part]["features"] == committed[part]["features"]
        assert np.allclose(fitted[part]["coef"], committed[part]["coef"], atol=1e-6), part
        assert np.allclose(fitted[part]["mean"], committed[part]["mean"], atol=1e-6), part
    assert fitted["refuse_below"] == pytest.approx(committed["refuse_below"], abs=1e-6)
    assert fitted["provenance"]["kfold_mean"]["all"] == pytest.approx(committed["provenance"]["kfold_mean"]["all"])
