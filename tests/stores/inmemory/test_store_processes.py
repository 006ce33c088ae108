"""The embedded store under several processes and faults (issue #13 item 2; issue #12 rows 5, 6, 7, 12).

Real processes, real kills (SIGKILL), a real full disk (a small tmpfs; skipped where it cannot be mounted).
Services index a tiny corpus of real releases so each test stays within seconds of embedding.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from haystack import Document
from haystack.document_stores.types import DuplicatePolicy

from hardening_support import service_on_copy, tiny_corpus

from components.source_replacing_writer import SourceReplacingWriter
from stores.inmemory.index_file import IndexFile
from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore, forget_index
from service_process import INDEX_TOKEN, REPO

AUTH = {"Authorization": f"Bearer {INDEX_TOKEN}"}
VISIBLE_WITHIN_SECONDS = 2.0  # the bound pipelines/index/workers.py states for a write to reach every worker
NEW_RELEASE = {
    "name": "9001.txt",
    "content": "Telekom opens a quokka observatory in Wuppertal\n\nBonn, 1 December 2026. The quokka observatory "
    "watches marsupials with 5G cameras and is open to schools.",
}


def _chunk(name: str, text: str, emb: list[float] | None = None) -> Document:
    return Document(content=text, meta={"file_path": name}, embedding=emb or [1.0, 0.0])


def _run_python(code: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


# --- component level: processes sharing one index file -------------------------------------------------

def test_a_writer_never_loses_another_process_write(tmp_path):
    """Process B loaded the index before process A wrote to it; B's write keeps A's document."""
    env = {"PRESSQA_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    store = PersistentInMemoryDocumentStore(index="lost-write", persist_path=str(tmp_path / "i.sqlite"))
    store.write_documents([_chunk("base.txt", "base")])
    forget_index("lost-write")
    # B: load now, wait for A, then write (its memory is one version behind the file)
    b = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from haystack import Document
        from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore
        s = PersistentInMemoryDocumentStore(index="lost-write", persist_path={str(tmp_path / 'i.sqlite')!r})
        print("loaded", flush=True)
        while not Path({str(tmp_path / 'a-done')!r}).exists():
            time.sleep(0.01)
        s.write_documents([Document(content="from b", meta={{"file_path": "b.txt"}}, embedding=[0.0, 1.0])])
    """)], cwd=REPO, env={**os.environ, **env, "PRESSQA_RELOAD_POLL_SECONDS": "3600"}, stdout=subprocess.PIPE, text=True)
    assert b.stdout.readline().strip() == "loaded"
    a = _run_python(f"""
        from haystack import Document
        from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore
        s = PersistentInMemoryDocumentStore(index="lost-write", persist_path={str(tmp_path / 'i.sqlite')!r})
        s.write_documents([Document(content="from a", meta={{"file_path": "a.txt"}}, embedding=[0.0, 1.0])])
    """, env)
    assert a.returncode == 0, a.stderr
    (tmp_path / "a-done").touch()
    assert b.wait(timeout=60) == 0
    stored = IndexFile(tmp_path / "i.sqlite").read()
    assert sorted(d.document.content for d in stored.documents) == ["base", "from a", "from b"]
    assert stored.version == 3


def test_a_reader_process_picks_up_a_new_version_without_blocking_searches(tmp_path):
    path = str(tmp_path / "r.sqlite")
    reader = PersistentInMemoryDocumentStore(index="reader", persist_path=path)
    assert reader.count_documents() == 0
    writer = _run_python(f"""
        from haystack import Document
        from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore
        s = PersistentInMemoryDocumentStore(index="reader", persist_path={path!r})
        s.write_documents([Document(content=f"doc {{i}}", meta={{"file_path": f"{{i}}.txt"}}, embedding=[1.0, 0.0]) for i in range(50)])
    """, {"PYTHONPATH": str(REPO)})
    assert writer.returncode == 0, writer.stderr
    written = time.monotonic()
    while reader.count_documents() != 50:
        assert time.monotonic() - written < VISIBLE_WITHIN_SECONDS, "the reader did not load the new version in time"
        assert isinstance(reader.bm25_retrieval("doc", top_k=1), list)  # searches keep being answered meanwhile
        time.sleep(0.01)
    assert reader.version == 1
    assert len(reader.bm25_retrieval("doc", top_k=5)) == 5
    forget_index("reader")


def test_a_writer_killed_mid_write_leaves_the_version_before(tmp_path):
    """SIGKILL while a large change is being written into the file (its rows already spilling into the
    write-ahead log): the next process serves the version before, whole, and writes on."""
    path = tmp_path / "w.sqlite"
    code = f"""
        import os, signal
        from haystack import Document
        import stores.inmemory.index_file as index_file
        from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore
        store = PersistentInMemoryDocumentStore(index="kill-write", persist_path={str(path)!r})
        store.write_documents([Document(content=f"base {{i}}", meta={{"file_path": "base.txt"}}, embedding=[0.5] * 384) for i in range(10)])
        rows, body = [], index_file._body
        def body_then_kill(document):
            rows.append(1)
            if len(rows) == 2500:  # 2,500 rows of 3 KB vectors: SQLite's 2 MB page cache has spilt to the log
                os.kill(os.getpid(), signal.SIGKILL)
            return body(document)
        index_file._body = body_then_kill
        store.write_documents([Document(content=f"new {{i}}", meta={{"file_path": "new.txt"}}, embedding=[0.25] * 384) for i in range(3000)])
    """
    result = _run_python(code, {"PYTHONPATH": str(REPO)})
    assert result.returncode == -signal.SIGKILL, result.stderr
    log = path.with_name(path.name + "-wal")
    assert log.exists() and log.stat().st_size > 2**20, "the kill did not land while the change was being written"
    store = PersistentInMemoryDocumentStore(index="kill-write", persist_path=str(path))
    try:
        assert store.version == 1 and store.count_documents() == 10
        assert {d.meta["file_path"] for d in store.filter_documents()} == {"base.txt"}
        assert not store.problems
        store.write_documents([_chunk("after.txt", "written after the crash")])
        assert IndexFile(path).read().version == 2 and store.count_documents() == 11
    finally:
        forget_index("kill-write")


def test_replacing_a_release_is_one_version_for_readers(tmp_path):
    """While a release's 7 chunks are replaced by 7 new ones, a reader sees 7 chunks, never 14 (or 0)."""
    store = PersistentInMemoryDocumentStore(index="atomic-readers", persist_path=str(tmp_path / "a.sqlite"))
    writer = SourceReplacingWriter(document_store=store)
    versions = [[_chunk("10.txt", f"version {v} part {i}") for i in range(7)] for v in range(30)]
    writer.run(documents=versions[0])
    seen: set[int] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(len(store.filter_documents({"field": "meta.file_path", "operator": "==", "value": "10.txt"})))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for chunks in versions[1:]:
            result = writer.run(documents=chunks)
            assert (result["documents_written"], result["documents_removed"], result["releases"]) == (7, 7, {"10.txt": "replaced"})
    finally:
        done.set()
        reader.join()
    assert seen == {7}
    forget_index("atomic-readers")


def test_kill_between_a_release_write_and_its_delete_keeps_one_version(tmp_path):
    """SIGKILL at the moment the writer would delete the outdated chunks: after the crash the file holds
    exactly one version of the release (today: old and new chunks both, 14 instead of 7)."""
    path = str(tmp_path / "k.sqlite")
    code = f"""
        import os, signal
        from haystack import Document
        from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore
        from components.source_replacing_writer import SourceReplacingWriter
        store = PersistentInMemoryDocumentStore(index="kill-replace", persist_path={path!r})
        writer = SourceReplacingWriter(document_store=store)
        chunks = lambda v: [Document(content=f"{{v}} part {{i}}", meta={{"file_path": "10.txt"}}, embedding=[1.0, 0.0]) for i in range(7)]
        writer.run(documents=chunks("old"))
        # the process dies exactly between writing the new chunks and deleting the old ones
        store.delete_documents = lambda ids: os.kill(os.getpid(), signal.SIGKILL)
        writer.run(documents=chunks("new"))
    """
    result = _run_python(code, {"PYTHONPATH": str(REPO)})
    assert result.returncode == -signal.SIGKILL, result.stderr
    stored = IndexFile(Path(path)).read()
    contents = sorted(d.document.content for d in stored.documents)
    assert len(contents) == 7 and {c.split()[0] for c in contents} == {"old"}, contents


# --- service level --------------------------------------------------------------------------------------

def test_a_release_indexed_over_rest_is_found_through_every_worker(tmp_path):
    """Two worker processes: a release posted to one is searchable through both within the bound, and
    /ready in each reports the new index version."""
    service = service_on_copy(tmp_path / "data", corpus=tiny_corpus(tmp_path / "corpus"), PRESSQA_WORKERS="2").start(timeout=300)
    try:
        versions = _versions_by_worker(service.url, 2)
        assert len(set(versions.values())) == 1, versions  # both serve the same index
        before = next(iter(versions.values()))
        reply = httpx.post(f"{service.url}/index/run", json={"texts": [NEW_RELEASE]}, headers=AUTH, timeout=300)
        assert reply.status_code == 200, reply.text
        # The reply comes once every worker serves the write (or after the bound): from then on, every
        # answer of every worker has it.
        replied = time.monotonic()
        answers: dict[str, list] = {}
        while len(answers) < 2 or min(len(a) for a in answers.values()) < 3:
            health = httpx.get(f"{service.url}/ready", timeout=10).json()
            hits = httpx.post(f"{service.url}/search/run", json={"query": "quokka observatory Wuppertal", "top_k": 1}, timeout=30).json()
            top = hits["result"]["documents"][0]["meta"]["file_path"] if hits["result"]["documents"] else None
            answers.setdefault(health["worker"], []).append((health["index"]["version"], top))
            assert time.monotonic() - replied < 60, f"only workers {sorted(answers)} answered"
        print(f"answers after the reply, per worker: {answers}")
        assert all(version > before and top == "9001.txt" for a in answers.values() for version, top in a), answers
    finally:
        service.stop()


def _versions_by_worker(url: str, workers: int, timeout: float = 60) -> dict[str, int]:
    """Poll /ready until each of `workers` worker processes has answered; worker id -> index version."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        health = httpx.get(f"{url}/ready", timeout=10).json()
        seen[health["worker"]] = health["index"]["version"]
        assert time.monotonic() < deadline, f"only workers {sorted(seen)} answered"
    return seen


def test_a_truncated_index_file_is_moved_aside_and_reported(tmp_path):
    data = tmp_path / "data"
    corpus = tiny_corpus(tmp_path / "corpus")
    service = service_on_copy(data, corpus=corpus, PRESSQA_WORKERS="1").start(timeout=300)
    try:
        assert httpx.post(f"{service.url}/index/run", json={"texts": [NEW_RELEASE]}, headers=AUTH, timeout=300).status_code == 200
    finally:
        service.stop()
    index_file = data / "index" / "press-releases.sqlite"
    IndexFile(index_file).checkpoint()  # a stopped worker may leave its write-ahead log: fold it in, so the cut hits data
    whole = index_file.read_bytes()
    index_file.write_bytes(whole[: len(whole) // 2])

    restarted = service_on_copy(data, corpus=corpus, PRESSQA_WORKERS="1").start(timeout=300)
    try:
        health = httpx.get(f"{restarted.url}/ready").json()
        aside = IndexFile(index_file).quarantined()
        assert len(aside) == 1 and aside[0].read_bytes() == whole[: len(whole) // 2]  # kept, untouched
        assert health["status"] == "degraded"
        # the readiness view names the file, not the server's folder; the log (the operator's) has the whole path
        assert any(aside[0].name in problem for problem in health["index"]["problems"]), health
        assert not any(str(data) in problem for problem in health["index"]["problems"]), health
        assert "INDEX FILE UNREADABLE" in restarted.log_tail(400) and str(aside[0]) in restarted.log_tail(400)
        # the corpus is indexed again; every pipeline is deployed
        assert health["index"]["complete"] and health["documents"] > 0
        assert set(httpx.get(f"{restarted.url}/status").json()["pipelines"]) >= {"ask", "index", "search"}
        assert httpx.post(f"{restarted.url}/ask/run", json={"query": "EUROGATE ports"}, timeout=60).status_code == 200
    finally:
        restarted.stop()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs (root only; skipped elsewhere), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_saving_changes_nothing_and_says_why(tmp_path, small_disk):
    data = tmp_path / "data"
    service = service_on_copy(data, corpus=tiny_corpus(tmp_path / "corpus"), PRESSQA_WORKERS="1",
                              PRESSQA_DATA_DIR=str(small_disk)).start(timeout=300)
    try:
        url = service.url
        before = httpx.get(f"{url}/ready").json()
        index_file = IndexFile(small_disk / "index" / "press-releases.sqlite")
        # fill the disk: what is left is less than the index file needs
        filler = small_disk / "filler"
        with filler.open("wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:  # ENOSPC: full
                pass
        saved = index_file.read()
        reply = httpx.post(f"{url}/index/run", json={"texts": [NEW_RELEASE]}, headers=AUTH, timeout=300)
        assert reply.status_code == 507, reply.text
        assert "disk is full" in reply.json()["detail"] and "unchanged" in reply.json()["detail"]
        files = httpx.post(f"{url}/index/files", files=[("files", ("9002.txt", NEW_RELEASE["content"].encode()))], headers=AUTH, timeout=300)
        assert files.status_code == 507, files.text
        after = httpx.get(f"{url}/ready").json()
        assert after["documents"] == before["documents"] and after["index"]["version"] == before["index"]["version"]
        hits = httpx.post(f"{url}/search/run", json={"query": "quokka observatory Wuppertal", "top_k": 3}).json()["result"]["documents"]
        assert all(d["meta"]["file_path"] not in ("9001.txt", "9002.txt") for d in hits)
        now = index_file.read()
        assert (now.stamp, now.haystack_documents()) == (saved.stamp, saved.haystack_documents())
        # room again: the same request succeeds
        filler.unlink()
        assert httpx.post(f"{url}/index/run", json={"texts": [NEW_RELEASE]}, headers=AUTH, timeout=300).status_code == 200
        assert httpx.get(f"{url}/ready").json()["documents"] > before["documents"]
    finally:
        service.stop()
