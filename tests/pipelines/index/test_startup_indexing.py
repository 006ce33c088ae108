"""Start-up indexing (pipelines/index/indexing.py) under a kill -9: the next start indexes only what is missing,
and a release changed on disk is indexed again."""

import signal
import time

import httpx
from hardening_support import service_on_copy, tiny_corpus
from service_process import CORPUS


def test_start_up_indexing_resumes_after_a_kill(tmp_path):
    """kill -9 after the first batch of start-up indexing is saved: the next start indexes only what is
    missing, and /ready says the index is incomplete until it is done."""
    names = tuple(p.name for p in sorted(CORPUS.glob("*.txt"))[:36])  # one batch of 32, then 4
    corpus = tiny_corpus(tmp_path / "corpus", names)
    data = tmp_path / "data"
    service = service_on_copy(data, corpus=corpus, PRESSQA_WORKERS="1").start(timeout=300, until_indexed=False)
    try:
        deadline = time.monotonic() + 600
        while True:
            health = httpx.get(f"{service.url}/ready", timeout=10).json()
            if health["documents"] > 0:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        service.process.send_signal(signal.SIGKILL)
        service.process.wait(timeout=30)
    finally:
        service.stop()
    assert health["indexing"]["running"] and not health["index"]["complete"], health
    assert health["index"]["missing"] == 4

    restarted = service_on_copy(data, corpus=corpus, PRESSQA_WORKERS="1").start(timeout=300)
    try:
        health = httpx.get(f"{restarted.url}/ready").json()
        assert health["indexing"]["files_total"] == 4, health  # resumed: only the 4 missing releases
        assert health["index"] == {**health["index"], "complete": True, "missing": 0, "changed": 0}
        releases = {r["file_path"] for r in httpx.get(f"{restarted.url}/releases").json()["releases"]}
        assert releases == set(names)
    finally:
        restarted.stop()

    # a release changed on disk is re-indexed at the next start (and only it)
    (corpus / names[0]).write_text((corpus / names[0]).read_text() + "\n\nCorrection: the quokka date moved.")
    again = service_on_copy(data, corpus=corpus, PRESSQA_WORKERS="1").start(timeout=300)
    try:
        health = httpx.get(f"{again.url}/ready").json()
        assert health["indexing"]["files_total"] == 1 and health["index"]["complete"], health
        assert "quokka date moved" in httpx.get(f"{again.url}/releases/{names[0]}").json()["content"]
    finally:
        again.stop()
