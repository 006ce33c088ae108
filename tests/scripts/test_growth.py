"""The growth benchmark's pieces that need no service: corpora of rewritten copies and the report (issue #23).

The benchmark itself (services on 1x, 4x, 16x) is run by hand: `python scripts/bench_growth.py` (docs/scaling.md).
"""

import json
import re

from scripts.benchmarks.growth import report
from scripts.benchmarks.growth.corpus import build_corpus

RELEASE = """Bonn, May 12, 2023

Deutsche Telekom and EUROGATE open a 5G campus network in Hamburg with 2,900 sensors.

The network covers 1.4 square kilometres of the Hamburg container terminal. EUROGATE invests 3.7 million euros.

The digital identity for 120 partners comes from Verimi. Bells ring when the cranes start: bells everywhere.
"""


def test_copies_are_other_releases_with_other_names_numbers_and_dates(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "0.txt").write_text(RELEASE, encoding="utf-8")  # numbered from 0, as the corpus
    for k, (port, year) in enumerate((("HHLA", "2021"), ("Bremerhaven", "2020"), ("Rostock", "2019")), start=1):
        other = RELEASE.replace("EUROGATE", port).replace("2023", year).replace("Bells", "Horns").replace("bells", "horns")
        (source / f"{k}.txt").write_text(other, encoding="utf-8")  # "cranes" in four releases, "bells" in one
    files = build_corpus(source, tmp_path / "3x", 3)
    assert sorted((p.name for p in files), key=lambda n: int(n[:-4])) == [f"{n}.txt" for n in range(12)]
    assert (tmp_path / "3x" / "0.txt").read_text(encoding="utf-8") == RELEASE  # the real release, untouched
    texts = {p.name: p.read_text(encoding="utf-8") for p in files}
    for name in ("4.txt", "8.txt"):  # the copies of 0.txt
        copy = texts[name]
        assert "Deutsche Telekom" in copy  # still a Telekom release
        assert "EUROGATE" not in copy and "Hamburg" not in copy and "Verimi" not in copy
        assert "2023" not in copy and "2,900" not in copy and "3.7" not in copy
        day, year = re.search(r"May (\d+), (\d+)", copy).groups()
        assert 1 <= int(day) <= 28 and day != "12" and year != "2023"  # a date, moved (not a day's digits permuted)
        assert "bells" not in copy.lower() and "cranes" in copy  # a rare word is replaced, a common one kept
        invented = copy.split("comes from ")[1].split(". ")[1].split()[0]
        assert copy.count(invented) + copy.count(invented.lower()) == 2  # "Bells" and "bells": one invented word
    assert len(set(texts.values())) == 12  # every copy differs from its original and from the other copies


def test_report_sums_up_and_draws_the_curves(tmp_path, monkeypatch):
    def serve(p50: float, chunks: int) -> dict:
        latency = {"p50_ms": p50, "p95_ms": 2 * p50, "errors": 0, "stages_p50_ms": {"bm25_retriever": 1.0}}
        return {"chunks": chunks, "start_to_first_answer_s": 9.0, "memory_after_load_mib": {"per_worker": [900.0, 910.0], "all_processes": 1900.0},
                "search_1_client": latency, "ask_1_client": latency, "search_10_clients": {"p50_ms": p50, "throughput_rps": 5.0},
                "dev_set": {"questions": 31, "passage@5": 0.97, "real_passage@5": 0.97, "real_found": 30}}

    batches = [{"documents": 100 * i, "files": 32, "chunks": 100, "seconds": 16.0, "stages_ms": {"writer": 320.0}} for i in range(1, 4)]
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"meta": {"factors": [1, 4]}, "steps": {
        "inmemory/1x/index": {"releases": 96, "chunks": 300, "seconds": 48.0, "seconds_all": 48.0, "batches": batches},
        "inmemory/1x/add_one": {"runs": [{"documents": 306}], "seconds_median": 1.5, "writer_ms_median": 40.0, "write_ms_median": 30.0},
        "inmemory/1x/serve": serve(50.0, 300),
        "inmemory/4x/serve": serve(70.0, 1200),
        "opensearch/1x/serve": serve(90.0, 300),
    }}))
    monkeypatch.setattr(report, "PNG", tmp_path / "curves.png")
    monkeypatch.setattr(report, "SUMMARY", tmp_path / "figures.json")
    figures = report.write(results)
    assert figures["inmemory"]["1x"]["index"]["seconds_per_release_median"] == 0.5
    assert figures["inmemory"]["1x"]["index"]["writer_ms_per_release_median"] == 10.0
    assert figures["inmemory"]["1x"]["add_one"]["chunks_in_index"] == 306
    assert figures["inmemory"]["4x"]["serve"]["search_1_client"]["p50_ms"] == 70.0
    assert figures["opensearch"]["1x"]["serve"]["dev_set"]["real_found"] == 30
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "figures.json").read_text())["figures"] == figures
