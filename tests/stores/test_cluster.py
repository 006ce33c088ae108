"""The service on a real 3-node search cluster, over the real corpus: OpenSearch 2.19 (issue #10) and
Elasticsearch 8.19 (issue #20), the same tests for each engine (the `engine` fixture's parameters).

The clusters are the local ones of `scripts/opensearch_local.sh` (HTTP 9200-9202) and
`scripts/elasticsearch_local.sh` (9220-9222), which `scripts/test.sh` starts before the tests and stops after
them. With CI=true a cluster that does not answer fails these tests with the reason; elsewhere they are
skipped with it (tests/conftest.py deselects the Elasticsearch ones, with the reason, when no Elasticsearch
answers). Per engine, the corpus is indexed once by the indexing job (PRESSQA_STORE=<engine>) into an index
of its own (`press-releases-test-…`, deleted afterwards; on Elasticsearch its shards and replicas come from
the index template the script applied). Measured figures (node loss, replicas behind nginx) are printed and
written to build/<engine>-figures.json.
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
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from haystack import Pipeline
from service_process import CORPUS, INDEX_TOKEN, REPO, ServiceProcess, free_port

from kit.loader import ALLOWED_MODULES, pipeline_spec, room_module, spec_yaml

DEV_SET = Path(os.environ.get("PRESSQA_DEV_SET") or REPO.parent / "shared" / "eval" / "dev.jsonl")
HEADERS = {"Authorization": f"Bearer {INDEX_TOKEN}"}


@dataclass(frozen=True)
class Engine:
    """A local 3-node cluster and the store profile that uses it."""

    name: str            # PRESSQA_STORE, stores/<name>/<name>.yml, scripts/<name>_local.sh
    title: str
    url_variable: str    # the profile's hosts secret
    port: int            # node 0's HTTP port; node n has port + n
    node_prefix: str     # node names os0..os2, es0..es2
    store_class: str     # what /ready names

    @property
    def nodes(self) -> list[str]:
        return [f"http://127.0.0.1:{self.port + n}" for n in range(3)]

    @property
    def node_names(self) -> set[str]:
        return {f"{self.node_prefix}{n}" for n in range(3)}

    @property
    def script(self) -> Path:
        return REPO / "scripts" / f"{self.name}_local.sh"

    @property
    def figures(self) -> Path:
        return REPO / "build" / f"{self.name}-figures.json"

    def health(self, **params) -> dict:
        return httpx.get(self.nodes[0] + "/_cluster/health", params=params, timeout=40).json()

    def node_pid(self, node: str) -> int | None:
        """The process id of a node if this checkout's script started it (its `status` lists it), else None."""
        info = httpx.get(f"{self.nodes[0]}/_nodes/{node}/process", timeout=30).json()["nodes"]
        pid = next(iter(info.values()))["process"]["id"]
        status = subprocess.run(["bash", str(self.script), "status"], cwd=REPO, capture_output=True, text=True).stdout
        return pid if f"{node}: running, pid {pid}" in status.splitlines() else None


ENGINES = {
    "opensearch": Engine("opensearch", "OpenSearch", "OPENSEARCH_URL", int(os.environ.get("OPENSEARCH_LOCAL_PORT", 9200)),
                         "os", "EnvOpenSearchDocumentStore"),
    "elasticsearch": Engine("elasticsearch", "Elasticsearch", "ELASTICSEARCH_URL",
                            int(os.environ.get("ELASTICSEARCH_LOCAL_PORT", 9220)), "es", "EnvElasticsearchDocumentStore"),
}


@pytest.fixture(scope="module", params=[pytest.param("opensearch", marks=pytest.mark.opensearch),
                                        pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def engine(request) -> Engine:
    """Each test runs once per engine; pytest runs all of one engine's tests before the other's."""
    return ENGINES[request.param]


def _record(engine: Engine, name: str, figures: dict) -> None:
    """Print a measured figure and keep it in build/<engine>-figures.json."""
    engine.figures.parent.mkdir(exist_ok=True)
    known = json.loads(engine.figures.read_text()) if engine.figures.exists() else {}
    known[name] = figures
    engine.figures.write_text(json.dumps(known, indent=2))
    print(f"\n{engine.name} {name}: {json.dumps(figures)}")


@pytest.fixture(scope="module")
def cluster(engine) -> str:
    """The local cluster's URLs; a missing cluster fails under CI, and is skipped with the reason elsewhere."""
    try:
        health = engine.health(wait_for_status="green", timeout="60s")
        problem = None if health.get("number_of_nodes") == 3 else f"{health.get('number_of_nodes')} nodes, not 3"
    except (httpx.HTTPError, ValueError) as error:
        problem = f"no answer on {engine.nodes[0]} ({type(error).__name__}: {error})"
    if problem:
        reason = (f"the local {engine.title} cluster is not running: {problem}; "
                  f"start it: bash scripts/{engine.script.name} start")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return ",".join(engine.nodes)


@pytest.fixture(scope="module")
def test_index(engine, cluster, tmp_path_factory):
    """A store profile pointing at an index of this session's own; the index is deleted afterwards."""
    index = f"press-releases-test-{uuid.uuid4().hex[:8]}"
    stores = tmp_path_factory.mktemp("stores")
    shutil.copytree(REPO / "stores", stores, dirs_exist_ok=True)
    profile = stores / engine.name / f"{engine.name}.yml"
    assert profile.read_text().count("index: press-releases\n") == 1
    profile.write_text(profile.read_text().replace("index: press-releases\n", f"index: {index}\n"))
    yield index, stores
    httpx.delete(f"{engine.nodes[0]}/{index}", timeout=60)


@pytest.fixture(scope="module")
def cluster_env(engine, cluster, test_index) -> dict[str, str]:
    return {"PRESSQA_STORE": engine.name, engine.url_variable: cluster, "PRESSQA_STORES_DIR": str(test_index[1])}


@pytest.fixture(scope="module")
def cluster_service(engine, cluster_env, tmp_path_factory, corpus_dir):
    """The service on the cluster, after the whole corpus was indexed into it by the indexing job.

    The job (`pressqa-index`) indexes, as the compose file's `indexer` does; the service does not index at
    start: its search wrapper would start indexing while Hayhooks still loads the index wrapper, and
    Hayhooks' loader iterates sys.modules while the indexing thread imports (a race, seen once as
    "dictionary changed size during iteration": the index pipeline was then not deployed).
    """
    data = tmp_path_factory.mktemp(f"{engine.name}-service")
    env = {**os.environ, **cluster_env, "PRESSQA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "from service.index_cli import main; raise SystemExit(main())", str(corpus_dir)],
                   cwd=REPO, env=env, check=True, timeout=2400)
    _record(engine, "indexing_254_releases", {"seconds": round(time.monotonic() - started, 1)})
    service = ServiceProcess(data, corpus=corpus_dir, PRESSQA_INDEX_AT_START="0", **cluster_env).start(timeout=600)
    yield service
    service.stop()


def _count(engine: Engine, index: str) -> int:
    httpx.post(f"{engine.nodes[0]}/{index}/_refresh", timeout=60)
    return httpx.get(f"{engine.nodes[0]}/{index}/_count", timeout=60).json()["count"]


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


def test_chunk_count_equals_the_inmemory_stores(engine, cluster_service, test_index, inmemory_chunk_count, corpus_dir):
    index = test_index[0]
    assert _count(engine, index) == inmemory_chunk_count
    health = httpx.get(cluster_service.url + "/ready").json()
    assert health["store"] == engine.store_class and health["documents"] == inmemory_chunk_count
    releases = httpx.get(cluster_service.url + "/releases", timeout=60).json()["releases"]
    assert {r["file_path"] for r in releases} == {f.name for f in corpus_dir.glob("*.txt")}
    assert sum(r["chunks"] for r in releases) == inmemory_chunk_count


def test_shards_three_primaries_one_replica_each_over_three_nodes(engine, cluster_service, test_index):
    index = test_index[0]
    shards = httpx.get(f"{engine.nodes[0]}/_cat/shards/{index}", params={"format": "json"}, timeout=30).json()
    assert len(shards) == 6 and {s["state"] for s in shards} == {"STARTED"}
    primaries = {s["shard"]: s["node"] for s in shards if s["prirep"] == "p"}
    replicas = {s["shard"]: s["node"] for s in shards if s["prirep"] == "r"}
    assert sorted(primaries) == sorted(replicas) == ["0", "1", "2"]
    assert all(primaries[n] != replicas[n] for n in primaries)  # a copy never shares its primary's node
    assert {s["node"] for s in shards} == engine.node_names
    assert engine.health(index=index)["status"] == "green"


def test_reindexing_changes_nothing(engine, cluster_env, cluster_service, test_index, corpus_dir, monkeypatch):
    """Re-index 20 releases through the engine's profile in this process: same chunks, same ids."""
    index = test_index[0]
    for name, value in cluster_env.items():
        monkeypatch.setenv(name, value)
    pipeline = Pipeline.loads(spec_yaml(pipeline_spec("index", "index")), allowed_modules=ALLOWED_MODULES)
    store = pipeline.get_component("writer").document_store
    files = sorted(corpus_dir.glob("*.txt"))[:20]
    names = [f.name for f in files]
    before_ids = {d.id for d in store.filter_documents({"field": "meta.file_path", "operator": "in", "value": names})}
    count = _count(engine, index)
    result = pipeline.run({"converter": {"sources": [room_module("index", "indexing").Indexer.with_hash(f) for f in files]}})["writer"]  # as indexed
    assert result["documents_removed"] == 0 and result["documents_written"] == len(before_ids)
    after_ids = {d.id for d in store.filter_documents({"field": "meta.file_path", "operator": "in", "value": names})}
    assert after_ids == before_ids and _count(engine, index) == count


def test_a_changed_release_replaces_its_old_chunks(engine, cluster_service, test_index, corpus_dir):
    index, name = test_index[0], "103.txt"
    original = (corpus_dir / name).read_text(encoding="utf-8")
    old = httpx.get(cluster_service.url + "/releases", timeout=60).json()["releases"]
    old_chunks = next(r["chunks"] for r in old if r["file_path"] == name)
    count = _count(engine, index)
    edited = "EUROGATE update\n\nBonn, May 2, 2025. The campus networks are live in Hamburg, Bremerhaven and Wilhelmshaven."
    try:
        reply = httpx.post(cluster_service.url + "/index/run", json={"texts": [{"name": name, "content": edited}]},
                           headers=HEADERS, timeout=120).json()["result"]
        assert reply["chunks_written"] == 1 and reply["chunks_removed"] == old_chunks
        assert _count(engine, index) == count - old_chunks + 1
        assert httpx.get(f"{cluster_service.url}/releases/{name}").json()["content"].startswith("EUROGATE update")
    finally:
        restored = httpx.post(cluster_service.url + "/index/run", json={"texts": [{"name": name, "content": original}]},
                              headers=HEADERS, timeout=300)
        assert restored.status_code == 200
    assert _count(engine, index) == count


# --- search and answers -----------------------------------------------------------------------------


def test_year_filter_releases_and_answers_work_on_the_cluster(cluster_service):
    url = cluster_service.url
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


@pytest.fixture(scope="session")
def inmemory_dev_report(service_url, tmp_path_factory) -> dict:
    """The in-memory service's dev-set report, once for both engines."""
    assert httpx.get(service_url + "/ready", timeout=30).json()["store"] == "PersistentInMemoryDocumentStore"
    return _evaluate(service_url, tmp_path_factory.mktemp("dev-inmemory") / "inmemory.json")


def test_dev_set_quality_is_that_of_the_inmemory_store(engine, cluster_service, inmemory_dev_report, tmp_path):
    """hit@5 within one question of the in-memory service; the other retrieval metrics reported beside it."""
    assert httpx.get(cluster_service.url + "/ready", timeout=30).json()["store"] == engine.store_class
    memory = inmemory_dev_report
    clustered = _evaluate(cluster_service.url, tmp_path / f"{engine.name}.json")

    def hits(report: dict) -> int:
        return sum(int(q["ours"]["metrics"].get("hit@5") or 0) for q in report["questions"])

    metrics = ("file@1", "passage@1", "passage@5", "hit@5", "MRR")
    figures = {store: {m: report["overall"]["ours"].get(m) for m in metrics} | {"hit@5 questions": hits(report)}
               for store, report in (("inmemory", memory), (engine.name, clustered))}
    figures["questions"] = len(memory["questions"])
    _record(engine, "dev_set_inmemory_vs_cluster", figures)
    assert abs(hits(memory) - hits(clustered)) <= 1, figures


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
        kinds = sorted({s[2] for s in chosen if s[2]})
        return {"requests": len(chosen), "errors": sum(1 for s in chosen if s[2]), "error_kinds": kinds,
                "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
                "p95_ms": round(p95, 1) if p95 else None}


def _wait_status(engine: Engine, status: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            health = httpx.get(engine.nodes[0] + "/_cluster/health", params={"wait_for_status": status, "timeout": "5s"},
                               timeout=15).json()
            if not health.get("timed_out") and health["status"] == status:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"cluster not {status} after {timeout} s")


def test_a_killed_node_costs_no_search_and_no_chunk(engine, cluster_service, test_index):
    index = test_index[0]
    count = _count(engine, index)
    victim = engine.node_pid(f"{engine.node_prefix}2")
    if victim is None:  # e.g. scripts/test.sh found a cluster another checkout started: it could not restart it
        pytest.skip(f"the {engine.title} cluster was not started by this checkout's {engine.script.name}: "
                    "a killed node could not be restarted from here")
    with SearchLoad(cluster_service.url) as load:
        time.sleep(10)
        killed = time.monotonic()
        os.kill(victim, 9)
        to_yellow = _wait_status(engine, "yellow", 120)
        time.sleep(10)  # searches while the node is gone
        restarted = time.monotonic()
        subprocess.run(["bash", str(engine.script), "start"], cwd=REPO, check=True, capture_output=True, timeout=300)
        to_green = _wait_status(engine, "green", 300)
        back = time.monotonic()
        time.sleep(5)
    figures = {
        "before": load.window(0, killed), "node_down": load.window(killed, restarted),
        "restart_to_green": load.window(restarted, back + to_green),
        "seconds_kill_to_yellow": round(to_yellow, 1),
        "seconds_restart_command_to_green": round(back - restarted + to_green, 1),
    }
    _record(engine, "node_killed_under_search_load", figures)
    assert engine.health()["status"] == "green" and _count(engine, index) == count
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
            proxy_set_header Host $host;  # as docker/nginx.conf: the service answers only names it knows (#21 row 9)
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


def test_two_replicas_behind_nginx_share_the_index(engine, cluster_env, cluster_service, test_index, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is missing: bash scripts/setup.sh --test installs Debian's nginx-light")
    env = {**cluster_env, "PRESSQA_INDEX_AT_START": "0"}
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
        _record(engine, "bench_search_one_replica_vs_two_behind_nginx", {
            "one_replica": {k: one.get(k) for k in keys}, "two_replicas_nginx": {k: two.get(k) for k in keys},
            "concurrency": 4, "questions": len(titles), "note": "one run each, same test, shared 2-core machine"})
        assert one["requests"] > 0 and two["requests"] > 0
    finally:
        if process:
            process.terminate()
            process.wait(timeout=20)
        for replica in replicas:
            replica.stop()
        httpx.post(f"{engine.nodes[0]}/{test_index[0]}/_delete_by_query", params={"refresh": "true"},
                   json={"query": {"term": {"file_path": name}}}, timeout=60)
