"""The evaluation package (scripts/evaluation/): metric, report and regression functions on hand-written inputs.

tests/scripts/test_measurement.py covers the basics (normalise, relevance, citations, key facts, refusals, the
baseline); these cover the rest: ranks and depths, the answerable/unanswerable split of
`score`, the answer length, the tables and the --compare arithmetic. No service, no model.
"""

import doctest
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import subprocess
import sys
from pathlib import Path

import pytest
from haystack import Document

from scripts.evaluation import baseline, metrics, regressions, report
from scripts.evaluation.metrics import Chunk, Gold

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

QUOTE = "At the ports in Hamburg, Bremerhaven and Wilhelmshaven, the 5G solution will improve coverage."
GOLD = Gold.from_item(
    {"gold_files": ["data/103.txt", "51.txt"], "gold_quotes": [QUOTE], "key_facts": ["Hamburg", "2,000 km"]}
)
UNANSWERABLE = Gold.from_item({"gold_files": [], "gold_quotes": [], "key_facts": ["ignored"]})


def chunk(file: str, text: str = "noise") -> Chunk:
    return Chunk(file, metrics.normalise(text))


# ------------------------------------------------------------------------------------------------ metrics


def test_module_docstring_example_holds():
    assert doctest.testmod(metrics).failed == 0


def test_gold_keeps_basenames_and_normalised_texts():
    gold = Gold.from_item({"gold_files": ["a/b/7.txt"], "gold_quotes": ["\u201cTwo\u00a0 Words\u201d"]})
    assert gold.files == frozenset({"7.txt"}) and gold.quotes == ('"two words"',) and gold.key_facts == ()
    assert gold.answerable
    assert not UNANSWERABLE.answerable  # key facts alone do not make a question answerable


def test_chunks_from_the_service_and_from_haystack():
    assert metrics.chunk_from_service({"meta": {"file_path": "/x/y/12.txt"}, "content": " A\u00adB  C "}) == Chunk(
        "12.txt", "ab c"
    )
    assert metrics.chunk_from_service({"meta": None, "content": None}) == Chunk("", "")
    assert metrics.chunk_from_haystack(Document(content="Hi There", meta={"file_path": "d/3.txt"})) == Chunk(
        "3.txt", "hi there"
    )


def test_quote_coverage_is_the_longest_common_run():
    assert metrics.quote_coverage("abcd ghij", "abcdefghij") == pytest.approx(0.4)  # the longest run, not the sum
    assert metrics.quote_coverage("abcdef", "abcdefghij") == pytest.approx(0.6)
    assert metrics.quote_coverage("anything", "") == 0.0
    half = metrics.normalise(QUOTE)[: len(metrics.normalise(QUOTE)) // 2 + 1]
    assert metrics.holds_passage(Chunk("1.txt", half), GOLD)  # just over PASSAGE_MIN_COVERAGE counts


def test_passage_depths_and_hit_depths():
    passage = chunk("9.txt", "lead-in " + QUOTE)
    second = metrics.retrieval_metrics([chunk("1.txt"), passage], GOLD)
    assert second["passage@1"] == 0.0 and second["passage@5"] == 1.0
    sixth = metrics.retrieval_metrics([chunk(f"{i}.txt") for i in range(1, 6)] + [passage], GOLD)
    assert sixth["passage@5"] == 0.0 and sixth["hit@5"] == 0.0 and sixth["hit@10"] == 1.0  # the quote makes it relevant
    eleventh = metrics.retrieval_metrics([chunk(f"{i}.txt") for i in range(1, 11)] + [chunk("103.txt")], GOLD)
    assert eleventh["hit@10"] == 0.0


def test_empty_ranking_scores_zero_everywhere():
    assert metrics.retrieval_metrics([], GOLD) == {name: 0.0 for name in metrics.RETRIEVAL_METRICS}


def test_mrr_counts_the_whole_ranking_and_files_at_10_only_the_top_ten():
    late = [chunk(f"{i}.txt") for i in range(1, 11)] + [chunk("103.txt")]
    fourth = [chunk("1.txt"), chunk("2.txt"), chunk("3.txt"), chunk("51.txt"), chunk("51.txt")]
    both = [chunk("103.txt"), chunk("51.txt")]
    scores = metrics.file_rank_metrics([late, fourth, both], [GOLD, GOLD, GOLD])
    assert scores[0]["MRR"] == pytest.approx(1 / 11) and scores[0]["files@10"] == 0.0
    assert scores[1]["MRR"] == 0.25 and scores[1]["files@10"] == 0.5  # the same release twice counts once
    assert scores[2] == {"MRR": 1.0, "files@10": 1.0}
    assert metrics.file_rank_metrics([], []) == []


def test_citations_need_digits_in_brackets():
    assert metrics.citations("See [12] and [3 ; 4].") == [12, 3, 4]
    assert metrics.citations("Ranges [1-2], words [one] and (1) are not citations.") == []


def test_key_facts_share_and_refusal_on_typography():
    assert metrics.key_fact_share("Hamburg only", GOLD.key_facts) == 0.5
    assert metrics.is_refusal("I don\u2019t know.")  # curly apostrophe made ASCII
    assert metrics.is_refusal("NOT FOUND in the sources")
    assert not metrics.is_refusal("The figure is 2,000 km [1].")


def test_answer_metrics_without_citations_and_for_refusals():
    plain = metrics.answer_metrics("Hamburg [1] and more.", [], GOLD, with_citations=False)
    assert plain == {"key_facts": 0.5, "refusal": None, "wrong_refusal": 0.0, "answer_words": 3.0}
    refused = metrics.answer_metrics("The sources do not contain it [1].", [chunk("103.txt")], GOLD, True)
    assert refused["wrong_refusal"] == 1.0 and refused["answer_words"] is None and refused["cited"] == 1.0
    cited_unanswerable = metrics.answer_metrics("No information [1][2].", [chunk("103.txt")], UNANSWERABLE, True)
    assert cited_unanswerable["cited"] is None and cited_unanswerable["citations_valid"] == 0.0
    assert "citations_relevant" not in cited_unanswerable and cited_unanswerable["refusal"] == 1.0


def test_aggregate_means_every_metric_over_the_questions_that_have_it():
    summary = metrics.aggregate([{"MRR": 1.0}, {"MRR": 0.25}, {"MRR": 0.5, "key_facts": 0.5}, {}])
    assert summary["MRR"] == pytest.approx(1.75 / 3) and summary["key_facts"] == 0.5
    assert set(summary) == set(metrics.ALL_METRICS)


def test_score_keeps_rank_metrics_with_their_question():
    rankings = [[chunk("103.txt")], [chunk("1.txt"), chunk("51.txt")], [chunk("5.txt")]]
    answers = [("No information here.", []), ("Hamburg [1].", [chunk("1.txt")]), ("2,000 km [1]", [chunk("51.txt")])]
    scores = metrics.score(rankings, answers, [UNANSWERABLE, GOLD, GOLD], with_citations=True)
    assert "MRR" not in scores[0] and "hit@1" not in scores[0] and scores[0]["refusal"] == 1.0
    assert scores[1]["MRR"] == 0.5 and scores[1]["file@1"] == 0.0 and scores[1]["citations_relevant"] == 0.0
    assert scores[2]["MRR"] == 0.0 and scores[2]["key_facts"] == 0.5 and scores[2]["citations_relevant"] == 1.0


# ------------------------------------------------------------------------------------------------- report


def test_format_value_and_table():
    # fractions (<= 1) to 3 places, anything above 1 is a count
    assert [report.format_value(v) for v in (None, 0.5, 1, 1.0004, 61.5)] == ["-", "0.500", "1.000", "1", "62"]
    assert report.format_table(["m", "ours"], [["hit@1", "0.5"], ["MRR", "12.25"]]).splitlines() == [
        "m       ours",
        "------------",
        "hit@1    0.5",
        "MRR    12.25",
    ]


def test_by_type_and_type_table_show_ours_previous_baseline():
    items = [{"type": "fact"}, {"type": "temporal"}, {"type": "fact"}]
    ours = [{"hit@1": 1.0}, {"hit@1": 0.0}, {"hit@1": 0.0}]
    summary = report.by_type(items, ours, [{"hit@1": 0.0}, {"hit@1": 1.0}, {"hit@1": 0.0}])
    assert list(summary) == ["fact", "temporal"] and summary["fact"]["n"] == 2
    assert summary["fact"]["ours"]["hit@1"] == 0.5 and summary["temporal"]["baseline"]["hit@1"] == 1.0
    previous = {"fact": {"ours": {"hit@1": 1.0}}}
    fact_row = report.type_table(summary, previous).splitlines()[2].split()
    assert fact_row[:3] == ["fact", "2", "0.500/1.000/0.000"]
    assert report.type_table(report.by_type(items, ours, None)).splitlines()[3].split()[2] == "0.000"


def test_answer_length_latency_and_stage_means():
    lengths = report.answer_length([{"answer_words": 10.0}, {"answer_words": 30.0}, {"answer_words": None}, {}])
    assert lengths == {"median": 20.0, "p90": 28.0, "n": 2}
    assert report.latency_summary([]) == {"p50": None, "p95": None, "max": None, "mean": None}
    assert report.latency_summary([10.0, 30.0, 20.0])["mean"] == 20.0
    means = report.stage_means([{"ranker": 2, "note": "x"}, {"ranker": 4.0, "answerer": 1.0}])
    assert means == {"ranker": 3.0, "answerer": 1.0}


# ------------------------------------------------------------------------------------------- --compare


def previous_run(values: dict[str, dict[str, float]]) -> dict:
    return {"questions": [{"id": qid, "ours": {"metrics": m}} for qid, m in values.items()]}


def test_regression_loss_is_net_of_gains_and_strictly_over_one_question():
    items = [{"id": f"q{i}", "type": "fact"} for i in range(4)]
    previous = previous_run({f"q{i}": {"MRR": 1.0, "answer_words": 90.0} for i in range(4)})
    two_lost_one_gained = [{"MRR": 0.0}, {"MRR": 0.0}, {"MRR": 1.0}, {"MRR": 1.0}]
    previous["questions"][3]["ours"]["metrics"]["MRR"] = 0.0  # q3 improves from 0 to 1
    assert regressions.regressions(items, two_lost_one_gained, previous) == []  # net loss 1.0: not flagged
    three_lost = [{"MRR": 0.0, "answer_words": 1.0}] * 3 + [{"MRR": 0.5}]
    flagged = regressions.regressions(items, three_lost, previous)
    assert [(f["type"], f["metric"], f["questions_lost"], f["worse"]) for f in flagged] == [
        ("all", "MRR", 2.5, ["q0", "q1", "q2"]),
        ("fact", "MRR", 2.5, ["q0", "q1", "q2"]),
    ]  # answer_words is not compared


def test_regressions_skip_questions_the_previous_run_lacks_and_invert_wrong_refusal():
    items = [{"id": "new1", "type": "fact"}, {"id": "new2", "type": "fact"}, {"id": "q1", "type": "fact"}]
    previous = previous_run({"q1": {"wrong_refusal": 0.0}})
    assert regressions.regressions(items, [{"hit@1": 0.0}, {"hit@1": 0.0}, {"wrong_refusal": 1.0}], previous) == []
    previous = previous_run({"a": {"wrong_refusal": 0.0}, "b": {"wrong_refusal": 0.0}})
    items = [{"id": "a", "type": "fact"}, {"id": "b", "type": "fact"}]
    worse = regressions.regressions(items, [{"wrong_refusal": 1.0}, {"wrong_refusal": 1.0}], previous)
    assert {(f["type"], f["metric"]) for f in worse} == {("all", "wrong_refusal"), ("fact", "wrong_refusal")}


# ------------------------------------------------------------------------------------------ the command


def test_evaluate_py_is_the_command_of_the_package():
    shown = subprocess.run([sys.executable, str(SCRIPTS / "evaluate.py"), "--help"], capture_output=True, text=True,
                           timeout=120, check=False)
    assert shown.returncode == 0 and "--compare" in shown.stdout and "--questions" in shown.stdout, shown.stderr
    assert baseline.BASELINE_DIR == SCRIPTS / "baseline" and (baseline.BASELINE_DIR / "indexing.yml").is_file()


def service_run(files: list[str], answer: str, warning: str | None = None, errors: list[str] | None = None) -> dict:
    documents = [{"meta": {"file_path": f"data/{file}"}, "content": "text"} for file in files]
    return {
        "search_documents": documents, "search_ms": 10.0, "search_timings_ms": {"ranker": 2.0}, "answer": answer,
        "mode": "extractive", "warning": warning, "ask_documents": documents, "ask_ms": 20.0,
        "ask_timings_ms": {"total": 5.0}, "prompt_tokens": None, "interpreted_filters": {},
        "unsupported_citations": None, "errors": errors or [],
    }


def test_summarise_and_print_results_without_a_service(capsys):
    from scripts.evaluation import cli

    items = [
        {"id": "a", "type": "fact", "question": "Where?", "gold_files": ["103.txt"], "key_facts": ["Hamburg"]},
        {"id": "b", "type": "unanswerable", "question": "Who?", "gold_files": [], "gold_quotes": []},
    ]
    runs = [service_run(["1.txt", "103.txt"], "Hamburg [2].", warning="slow"), service_run(["5.txt"], "Not found.")]
    golds = [Gold.from_item(item) for item in items]
    service = {
        "health": {"status": "ok"}, "runs": runs, "seconds": 1.0,
        "scores": metrics.score(
            [[metrics.chunk_from_service(d) for d in run["search_documents"]] for run in runs],
            [(run["answer"], [metrics.chunk_from_service(d) for d in run["ask_documents"]]) for run in runs],
            golds, with_citations=True,
        ),
    }
    previous = {
        "meta": {"commit": "abc1234"},
        "overall": {"ours": {"MRR": 1.0}, "baseline": {"MRR": 0.25}},
        "by_type": {"fact": {"ours": {"MRR": 1.0}, "baseline": {"MRR": 0.25}}},
        "questions": [{"id": "a", "ours": {"metrics": {"MRR": 1.0, "file@1": 1.0, "hit@1": 1.0}}}],
    }
    args = cli.parse_args(["--no-baseline", "--compare", "before.json"])
    results = cli.summarise(args, items, service, None, previous)
    assert results["overall"]["ours"]["MRR"] == 0.5 and results["overall"]["ours"]["refusal"] == 1.0
    assert results["overall"]["baseline"] == {"MRR": 0.25}  # taken from the previous run, not re-run
    assert results["by_type"]["fact"]["baseline"] == {"MRR": 0.25}
    assert results["by_type"]["unanswerable"]["baseline"] is None
    assert results["meta"]["answers_with_warning"] == 1 and results["errors"] == {}
    retrieved = [question["ours"]["retrieved_files"] for question in results["questions"]]
    assert retrieved == [["data/1.txt", "data/103.txt"], ["data/5.txt"]]
    # a question flipping on hit@1 and file@1 loses exactly 1.0: not a regression (more than one is needed)
    assert results["regressions"] == []

    cli.print_results(args, results, previous)
    printed = capsys.readouterr().out
    assert printed.startswith("naive baseline: figures taken from before.json (not re-run)\n\n2 questions from ")
    assert "1 answers came with a warning, e.g.: slow" in printed
    assert "previous run: before.json (commit abc1234)" in printed and "per type (ours/previous/baseline)" in printed
    assert "no regression of more than one question" in printed and "request errors" not in printed


def test_regressions_flag_more_than_one_question_lost():
    from scripts.evaluation.regressions import regressions

    items = [{"id": f"q{i}", "type": "fact" if i < 3 else "temporal"} for i in range(5)]
    previous = {"questions": [{"id": f"q{i}", "ours": {"metrics": {"passage@1": 1.0, "wrong_refusal": 0.0}}} for i in range(5)]}
    one_lost = [{"passage@1": 0.0 if i == 0 else 1.0, "wrong_refusal": 0.0} for i in range(5)]
    assert regressions(items, one_lost, previous) == []
    two_lost = [{"passage@1": 0.0 if i in (0, 3) else 1.0, "wrong_refusal": 1.0 if i in (1, 2) else 0.0} for i in range(5)]
    flagged = {(f["type"], f["metric"]): f["worse"] for f in regressions(items, two_lost, previous)}
    assert flagged == {("all", "passage@1"): ["q0", "q3"], ("all", "wrong_refusal"): ["q1", "q2"],
                       ("fact", "wrong_refusal"): ["q1", "q2"]}
