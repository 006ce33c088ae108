"""The service on a real 3-node OpenSearch 2.19 cluster (issue #10), over the real corpus.

The cluster is the local one of `scripts/opensearch_local.sh` (HTTP 9200-9202), which `scripts/test.sh`
starts before the tests and stops after them. With CI=true a cluster that does not answer fails these
tests with the reason; elsewhere they are skipped with it. The corpus is indexed once per session,
through the service itself (PRESSQA_STORE=opensearch, indexing at start), into an index of its own
(`press-releases-test-…`, deleted afterwards). Measured figures (node loss, replicas behind nginx) are
printed and written to build/opensearch-figures.json.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from haystack import Pipeline
from service_process import CORPUS, INDEX_TOKEN, REPO, ServiceProcess, free_port

from kit.loader import ALLOWED_MODULES, pipeline_spec, room_module, spec_yaml

pytestmark = pytest.mark.opensearch

NODES = [f"http://127.0.0.1:{9200 + n}" for n in range(3)]
CLUSTER_SCRIPT = REPO / "scripts" / "opensearch_local.sh"
NODE_DIR = REPO / ".cache" / "opensearch" / "nodes"
FIGURES = REPO / "build" / "opensearch-figures.json"
DEV_SET = Path(os.environ.get("PRESSQA_DEV_SET") or REPO.parent / "shared" / "eval" / "dev.jsonl")
HEADERS = {"Authorization": f"Bearer {INDEX_TOKEN}"}


def _record(name: str, figures: dict) -> None:
    """Print a measured figure and keep it in build/opensearch-figures.json."""
    FIGURES.parent.mkdir(exist_ok=True)
    known = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    known[name] = figures
    FIGURES.write_text(json.dumps(known, indent=2))
    print(f"\n{name}: {json.dumps(figures)}")


def _health(**params) -> dict:
    return httpx.get(NODES[0] + "/_cluster/health", params=params, timeout=params.get("timeout_s", 40)).json()


@pytest.fixture(scope="module")
def cluster() -> str:
    """The local cluster's URLs; a missing cluster fails under CI, and is skipped with the reason elsewhere."""
    try:
        health = httpx.get(NODES[0] + "/_cluster/health", params={"wait_for_status": "green", "timeout": "60s"},
                           timeout=70).json()
        problem = None if health.get("number_of_nodes") == 3 else f"{health.get('number_of_nodes')} nodes, not 3"
    except httpx.HTTPError as error:
        problem = f"no answer on {NODES[0]} ({type(error).__name__}: {error})"
    if problem:
        reason = f"the local OpenSearch cluster is not running: {problem}; start it: bash scripts/opensearch_local.sh start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return ",".join(NODES)


@pytest.fixture(scope="module")
def test_index(cluster, tmp_path_factory):
    """A store profile pointing at an index of this session's own; the index is deleted afterwards."""
    index = f"press-releases-test-{uuid.uuid4().hex[:8]}"
    stores = tmp_path_factory.mktemp("stores")
    shutil.copytree(REPO / "stores", stores, dirs_exist_ok=True)
    profile = stores / "opensearch" / "opensearch.yml"
    profile.write_text(profile.read_text().replace("index: press-releases\n", f"index: {index}\n"))
    yield index, stores
    httpx.delete(f"{NODES[0]}/{index}", timeout=60)


@pytest.fixture(scope="module")
def os_env(cluster, test_index) -> dict[str, str]:
    return {"PRESSQA_STORE": "opensearch", "OPENSEARCH_URL": cluster, "PRESSQA_STORES_DIR": str(test_index[1])}


@pytest.fixture(scope="module")
def os_service(os_env, tmp_path_factory, corpus_dir):
    """The service on OpenSearch, after the whole corpus was indexed into it by the indexing job.

    The job (`pressqa-index`) indexes, as the compose file's `indexer` does; the service does not index at
    start: its search wrapper would start indexing while Hayhooks still loads the index wrapper, and
    Hayhooks' loader iterates sys.modules while the indexing thread imports (a race, seen once as
    "dictionary changed size during iteration": the index pipeline was then not deployed).
    """
    data = tmp_path_factory.mktemp("os-service")
    env = {**os.environ, **os_env, "PRESSQA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "from service.index_cli import main; raise SystemExit(main())", str(corpus_dir)],
                   cwd=REPO, env=env, check=True, timeout=2400)
    _record("indexing_254_releases_into_opensearch", {"seconds": round(time.monotonic() - started, 1)})
    service = ServiceProcess(data, corpus=corpus_dir, PRESSQA_INDEX_AT_START="0", **os_env).start(timeout=600)
    yield service
    service.stop()


def _count(index: str) -> int:
    httpx.post(f"{NODES[0]}/{index}/_refresh", timeout=60)
    return httpx.get(f"{NODES[0]}/{index}/_count", timeout=60).json()["count"]


@pytest.fixture(scope="module")
def inmemory_chunk_count(corpus_dir, tmp_path_factory, monkeypatch_module) -> int:
    """The chunks the in-memory profile stores for the corpus (embedding left out: it does not change the count)."""
    monkeypatch_module.setenv("PRESSQA_DATA_DIR", str(tmp_path_factory.mktemp("inmemory-count")))
    spec = pipeline_spec("index", "index", "inmemory")
    del spec["components"]["embedder"]
    spec["connections"] = [c for c in spec["connections"] if not c["sender"].startswith("embedder")]
    spec["connections"] = [{**c, "receiver": "writer.documents"} if c["receiver"] == "embedder.documents" else c
                           for c in spec["connections"]]
    pipeline = Pipeline.loads(spec_yaml(spec), allowed_modules=ALLOWED_MODULES)
    pipeline.run({"converter": {"sources": sorted(corpus_dir.glob("*.txt"))}})
    return pipeline.get_component("writer").document_store.count_documents()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


# --- index ------------------------------------------------------------------------------------------


def test_chunk_count_equals_the_inmemory_stores(os_service, test_index, inmemory_chunk_count, corpus_dir):
    index = test_index[0]
    assert _count(index) == inmemory_chunk_count
    health = httpx.get(os_service.url + "/ready").json()
    assert health["store"] == "EnvOpenSearchDocumentStore" and health["documents"] == inmemory_chunk_count
    releases = httpx.get(os_service.url + "/releases", timeout=60).json()["releases"]
    assert {r["file_path"] for r in releases} == {f.name for f in corpus_dir.glob("*.txt")}
    assert sum(r["chunks"] for r in releases) == inmemory_chunk_count


def test_shards_three_primaries_one_replica_each_over_three_nodes(os_service, test_index):
    index = test_index[0]
    shards = httpx.get(f"{NODES[0]}/_cat/shards/{index}", params={"format": "json"}, timeout=30).json()
    assert len(shards) == 6 and {s["state"] for s in shards} == {"STARTED"}
    primaries = {s["shard"]: s["node"] for s in shards if s["prirep"] == "p"}
    replicas = {s["shard"]: s["node"] for s in shards if s["prirep"] == "r"}
    assert sorted(primaries) == sorted(replicas) == ["0", "1", "2"]
    assert all(primaries[n] != replicas[n] for n in primaries)  # a copy never shares its primary's node
    assert {s["node"] for s in shards} == {"os0", "os1", "os2"}
    assert _health(index=index)["status"] == "green"


def test_reindexing_changes_nothing(os_env, os_service, test_index, corpus_dir, monkeypatch):
    """Re-index 20 releases through the OpenSearch profile in this process: same chunks, same ids."""
    index = test_index[0]
    for name, value in os_env.items():
        monkeypatch.setenv(name, value)
    pipeline = Pipeline.loads(spec_yaml(pipeline_spec("index", "index")), allowed_modules=ALLOWED_MODULES)
    store = pipeline.get_component("writer").document_store
    files = sorted(corpus_dir.glob("*.txt"))[:20]
    names = [f.name for f in files]
    before_ids = {d.id for d in store.filter_documents({"field": "meta.file_path", "operator": "in", "value": names})}
    count = _count(index)
    result = pipeline.run({"converter": {"sources": [room_module("index", "indexing").Indexer.with_hash(f) for f in files]}})["writer"]  # as indexed
    assert result["documents_removed"] == 0 and result["documents_written"] == len(before_ids)
    after_ids = {d.id for d in store.filter_documents({"field": "meta.file_path", "operator": "in", "value": names})}
    assert after_ids == before_ids and _count(index) == count


def test_a_changed_release_replaces_its_old_chunks(os_service, test_index, corpus_dir):
    index, name = test_index[0], "103.txt"
    original = (corpus_dir / name).read_text(encoding="utf-8")
    old = httpx.get(os_service.url + "/releases", timeout=60).json()["releases"]
    old_chunks = next(r["chunks"] for r in old if r["file_path"] == name)
    count = _count(index)
    edited = "EUROGATE update\n\nBonn, May 2, 2025. The campus networks are live in Hamburg, Bremerhaven and Wilhelmshaven."
    try:
        reply = httpx.post(os_service.url + "/index/run", json={"texts": [{"name": name, "content": edited}]},
                           headers=HEADERS, timeout=120).json()["result"]
        assert reply["chunks_written"] == 1 and reply["chunks_removed"] == old_chunks
        assert _count(index) == count - old_chunks + 1
        assert httpx.get(f"{os_service.url}/releases/{name}").json()["content"].startswith("EUROGATE update")
    finally:
        restored = httpx.post(os_service.url + "/index/run", json={"texts": [{"name": name, "content": original}]},
                              headers=HEADERS, timeout=300)
        assert restored.status_code == 200
    assert _count(index) == count


# --- search and answers -----------------------------------------------------------------------------


def test_year_filter_releases_and_answers_work_on_opensearch(os_service):
    url = os_service.url
    question = "At which ports does Telekom build 5G campus networks for EUROGATE?"
    found = httpx.post(url + "/search/run", json={"query": question, "top_k": 5}, timeout=60).json()["result"]["documents"]
    assert found[0]["meta"]["file_path"] == "103.txt" and all(d.get("embedding") is None for d in found)
    year = found[0]["meta"]["year"]
    for other in (year - 1, year + 1):
        filters = {"field": "meta.year", "operator": "==", "value": other}
        filtered = httpx.post(url + "/search/run", json={"query": question, "top_k": 5, "filters": filters},
                              timeout=60).json()["result"]["documents"]
        assert filtered and all(d["meta"]["year"] == other for d in filtered)
    release = httpx.get(url + "/releases/103.txt").json()
    assert "EUROGATE" in release["content"] and release["year"] == year
    answer = httpx.post(url + "/ask/run", json={"query": question}, timeout=120).json()["result"]
    assert answer["documents"][0]["meta"]["file_path"] == "103.txt" and answer["answer"]
    with httpx.stream("POST", url + "/ask/stream", json={"query": question}, timeout=120) as r:
        assert r.status_code == 200
        events = [line.split(": ", 1)[1] for line in r.iter_lines() if line.startswith("event: ")]
    assert events[0] == "sources" and events[-1] == "done" and "delta" in events


def _evaluate(url: str, out: Path) -> dict:
    subprocess.run([sys.executable, "scripts/evaluate.py", "--url", url, "--no-baseline", "--questions", str(DEV_SET),
                    "--out", str(out)], cwd=REPO, check=True, capture_output=True, text=True, timeout=1200)
    return json.loads(out.read_text())


def test_dev_set_quality_is_that_of_the_inmemory_store(os_service, service_url, tmp_path):
    """hit@5 within one question of the in-memory service; the other retrieval metrics reported beside it."""
    stores = {url: httpx.get(url + "/ready", timeout=30).json()["store"] for url in (service_url, os_service.url)}
    assert list(stores.values()) == ["PersistentInMemoryDocumentStore", "EnvOpenSearchDocumentStore"]
    memory = _evaluate(service_url, tmp_path / "inmemory.json")
    opensearch = _evaluate(os_service.url, tmp_path / "opensearch.json")

    def hits(report: dict) -> int:
        return sum(int(q["ours"]["metrics"].get("hit@5") or 0) for q in report["questions"])

    metrics = ("file@1", "passage@1", "passage@5", "hit@5", "MRR")
    figures = {store: {m: report["overall"]["ours"].get(m) for m in metrics} | {"hit@5 questions": hits(report)}
               for store, report in (("inmemory", memory), ("opensearch", opensearch))}
    figures["questions"] = len(memory["questions"])
    _record("dev_set_inmemory_vs_opensearch", figures)
    assert abs(hits(memory) - hits(opensearch)) <= 1, figures


# --- a node dies ------------------------------------------------------------------------------------


class SearchLoad:
    """`clients` threads sending searches (dev-set questions, in turn) until stopped; keeps latency and errors."""

    def __init__(self, url: str, clients: int = 2) -> None:
        self.url, self.clients = url, clients
        self.questions = [json.loads(line)["question"] for line in DEV_SET.read_text().splitlines() if line.strip()]
        self.samples: list[tuple[float, float, str | None]] = []  # (start, ms, error)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, offset: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = offset
            while not self._stop.is_set():
                question = self.questions[i % len(self.questions)]
                i += self.clients
                start = time.monotonic()
                try:
                    reply = client.post(self.url + "/search/run", json={"query": question, "top_k": 5})
                    error = None if reply.status_code == 200 and reply.json()["result"]["documents"] else f"HTTP {reply.status_code}"
                except httpx.HTTPError as e:
                    error = type(e).__name__
                self.samples.append((start, (time.monotonic() - start) * 1000, error))

    def __enter__(self) -> "SearchLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def window(self, start: float, end: float) -> dict:
        chosen = [s for s in self.samples if start <= s[0] < end]
        latencies = sorted(ms for _, ms, error in chosen if error is None)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None
        return {"requests": len(chosen), "errors": sum(1 for s in chosen if s[2]),
                "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
                "p95_ms": round(p95, 1) if p95 else None}


def _wait_status(status: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            health = httpx.get(NODES[0] + "/_cluster/health", params={"wait_for_status": status, "timeout": "5s"},
                               timeout=15).json()
            if not health.get("timed_out") and health["status"] == status:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"cluster not {status} after {timeout} s")


def test_a_killed_node_costs_no_search_and_no_chunk(os_service, test_index):
    index = test_index[0]
    count = _count(index)
    victim = int((NODE_DIR / "os2" / "opensearch.pid").read_text())
    with SearchLoad(os_service.url) as load:
        time.sleep(10)
        killed = time.monotonic()
        os.kill(victim, 9)
        to_yellow = _wait_status("yellow", 120)
        time.sleep(10)  # searches while the node is gone
        restarted = time.monotonic()
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "start"], cwd=REPO, check=True, capture_output=True, timeout=300)
        to_green = _wait_status("green", 300)
        back = time.monotonic()
        time.sleep(5)
    figures = {
        "before": load.window(0, killed), "node_down": load.window(killed, restarted),
        "restart_to_green": load.window(restarted, back + to_green),
        "seconds_kill_to_yellow": round(to_yellow, 1),
        "seconds_restart_command_to_green": round(back - restarted + to_green, 1),
    }
    _record("node_killed_under_search_load", figures)
    assert _health()["status"] == "green" and _count(index) == count
    assert figures["node_down"]["requests"] > 0 and figures["node_down"]["errors"] == 0, figures


# --- service replicas behind nginx ------------------------------------------------------------------

NGINX_CONF = """# Local variant of docker/nginx.conf: two service replicas on loopback ports instead of Docker's DNS.
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream api {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 20m;
        location / {{
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


def _bench(url: str, questions: Path, count: int, out: Path) -> dict:
    """scripts/bench.py on searches, each question once (`--requests` = the number of questions)."""
    subprocess.run([sys.executable, "scripts/bench.py", "--url", url, "--targets", "search", "--concurrency", "4",
                    "--requests", str(count), "--questions", str(questions), "--out", str(out)],
                   cwd=REPO, check=True, capture_output=True, text=True, timeout=300)
    return json.loads(out.read_text())


def test_two_replicas_behind_nginx_share_the_index(os_env, os_service, test_index, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is missing: bash scripts/setup.sh --test installs Debian's nginx-light")
    env = {**os_env, "PRESSQA_INDEX_AT_START": "0"}
    replicas = [ServiceProcess(tmp_path / f"replica-{i}", corpus=None, **env) for i in range(2)]
    process = None
    name = f"replica-test-{uuid.uuid4().hex[:6]}.txt"
    try:
        for replica in replicas:
            replica.start(timeout=600, until_indexed=False)
        prefix, port = tmp_path / "nginx", free_port()
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / sub).mkdir(parents=True)
        servers = "\n".join(f"        server 127.0.0.1:{r.port};" for r in replicas)
        (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, servers=servers, port=port))
        process = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")])
        lb = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                if httpx.get(lb + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)

        text = ("Telekom tests quantum-safe links to Lummerland\n\nBonn, April 1, 2025. Deutsche Telekom tests "
                "quantum-safe encrypted fibre links between Bonn and the island of Lummerland.")
        indexed = httpx.post(replicas[0].url + "/index/run", json={"texts": [{"name": name, "content": text}]},
                             headers=HEADERS, timeout=120)
        assert indexed.status_code == 200, indexed.text
        question = {"query": "quantum-safe fibre links to Lummerland", "top_k": 3}
        via_other = httpx.post(replicas[1].url + "/search/run", json=question, timeout=60).json()["result"]["documents"]
        assert via_other and via_other[0]["meta"]["file_path"] == name
        via_lb = [httpx.post(lb + "/search/run", json=question, timeout=60).json()["result"]["documents"][0]
                  for _ in range(4)]
        assert {d["meta"]["file_path"] for d in via_lb} == {name}

        # Questions that do not repeat within a run: the release titles, phrased as questions.
        titles = [r["title"] for r in httpx.get(lb + "/releases", timeout=60).json()["releases"] if r["title"]]
        questions = tmp_path / "title-questions.jsonl"
        questions.write_text("".join(json.dumps({"id": f"t{i}", "type": "title", "question": f"What did Telekom say about: {t}?"}) + "\n"
                                     for i, t in enumerate(titles)))
        one = _bench(replicas[0].url, questions, len(titles), tmp_path / "bench-one.json")["results"]["search"]
        two = _bench(lb, questions, len(titles), tmp_path / "bench-two.json")["results"]["search"]
        keys = ("requests", "errors", "throughput_rps", "latency_p50_ms", "latency_p95_ms")
        _record("bench_search_one_replica_vs_two_behind_nginx", {
            "one_replica": {k: one.get(k) for k in keys}, "two_replicas_nginx": {k: two.get(k) for k in keys},
            "concurrency": 4, "questions": len(titles), "note": "one run each, same test, shared 2-core machine"})
        assert one["requests"] > 0 and two["requests"] > 0
    finally:
        if process:
            process.terminate()
            process.wait(timeout=20)
        for replica in replicas:
            replica.stop()
        httpx.post(f"{NODES[0]}/{test_index[0]}/_delete_by_query", params={"refresh": "true"},
                   json={"query": {"term": {"file_path": name}}}, timeout=60)
