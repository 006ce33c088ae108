"""Store profiles (issue #11 item 2): one YAML per pipeline, one small file per store, merged at load.

The in-memory profile reproduces the pipelines as they were before the split (taken from git), each
profile changes only the store components, secrets stay variable names, and Hayhooks never sees the
profiles as pipelines.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from haystack import Pipeline
from service_process import REPO

from kit import loader
from kit.loader import ALLOWED_MODULES, STORES, pipeline_spec, spec_yaml

# The last commit with the store blocks inside index.yml / search.yml (before the profiles).
BEFORE_PROFILES = "3e779b6"
# The components a profile sets: the store's users (the period reads the newest year from the store).
STORE_COMPONENTS = {"index": {"writer"}, "search": {"bm25_retriever", "embedding_retriever", "period"}}
URLS = "http://os-a.example:9200,http://os-b.example:9200"
# Modules moved since that commit (issue #24: each store in its own folder), as the old YAML names them.
MOVED = {"components.persistent_store.": "stores.inmemory.persistent_store.",
         # issue #23: the index file is SQLite now (a JSON index at the old path is imported once)
         "index/press-releases.json": "index/press-releases.sqlite"}


@pytest.fixture
def store_env(monkeypatch):
    """Cluster URLs in the environment: loading resolves them, nothing connects."""
    monkeypatch.setenv("OPENSEARCH_URL", URLS)
    monkeypatch.setenv("ELASTICSEARCH_URL", URLS)


def _before(folder: str) -> dict:
    shown = subprocess.run(["git", "show", f"{BEFORE_PROFILES}:pipelines/{folder}/{folder}.yml"],
                           cwd=REPO, capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.fail(f"git history needed for the comparison (commit {BEFORE_PROFILES}): {shown.stderr.strip()}")
    # Only the store components: the others may name classes renamed since (the ranker split in two, issue #11).
    text = shown.stdout
    for old, new in MOVED.items():
        text = text.replace(old, new)
    spec = yaml.safe_load(text)
    spec["components"] = {n: c for n, c in spec["components"].items() if n in STORE_COMPONENTS[folder]}
    spec["connections"] = []
    return Pipeline.from_dict(spec, allowed_modules=ALLOWED_MODULES).to_dict()


@pytest.mark.parametrize("folder", ["index", "search"])
def test_inmemory_profile_reproduces_the_pipeline_before_the_split(folder):
    before = _before(folder)
    now = Pipeline.loads(spec_yaml(pipeline_spec(folder, folder, "inmemory")), allowed_modules=ALLOWED_MODULES).to_dict()
    # the store blocks moved into the profile unchanged (components added since, e.g. the period, are new)
    for name in STORE_COMPONENTS[folder] & before["components"].keys():
        assert now["components"][name] == before["components"][name], name


EMBEDDER = {"index": "embedder", "search": "query_embedder"}


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("folder", ["index", "search"])
def test_each_profile_changes_only_the_store_components(folder, store, store_env):
    written = yaml.safe_load((REPO / "pipelines" / folder / f"{folder}.yml").read_text(encoding="utf-8"))
    merged = pipeline_spec(folder, folder, store)
    assert {k: v for k, v in merged.items() if k != "components"} == {k: v for k, v in written.items() if k != "components"}
    changed = {name for name, c in merged["components"].items() if c != written["components"][name]}
    # the store components, and the embedder, which gets its model from profiles/embedding.yml
    assert changed == STORE_COMPONENTS[folder] | {EMBEDDER[folder]}
    pipeline = Pipeline.loads(spec_yaml(merged), allowed_modules=ALLOWED_MODULES)
    stores = [c.document_store for _, c in pipeline.walk() if getattr(c, "document_store", None) is not None]  # period_on_evidence has none
    assert len(stores) == len(STORE_COMPONENTS[folder])
    dumped = pipeline.dumps()
    assert "os-a.example" not in dumped
    Pipeline.loads(dumped, allowed_modules=ALLOWED_MODULES)  # round trip


def test_opensearch_profile_asks_for_three_shards_one_replica_and_lucene_hnsw(store_env):
    pipeline = Pipeline.loads(spec_yaml(pipeline_spec("index", "index", "opensearch")), allowed_modules=ALLOWED_MODULES)
    store = pipeline.get_component("writer").document_store
    assert store._hosts == URLS.split(",")
    assert (store._settings["number_of_shards"], store._settings["number_of_replicas"]) == (3, 1)
    embedding = store._mappings["properties"]["embedding"]
    assert embedding["dimension"] == 384 and embedding["method"]["engine"] == "lucene"  # no native libraries here
    assert "OPENSEARCH_URL" in pipeline.dumps()


def test_unknown_store_is_refused(monkeypatch):
    monkeypatch.setenv("PRESSQA_STORE", "solr")
    with pytest.raises(ValueError, match="inmemory, elasticsearch, opensearch"):
        pipeline_spec("search", "search")


def test_profiles_live_outside_the_folder_hayhooks_deploys(monkeypatch):
    """Hayhooks deploys every folder and top-level YAML of its pipelines folder: no profile may be there."""
    monkeypatch.delenv("PRESSQA_STORES_DIR", raising=False)
    monkeypatch.delenv("HAYHOOKS_PIPELINES_DIR", raising=False)
    pipelines, stores = loader.pipelines_dir(), loader.stores_dir()
    assert not stores.is_relative_to(pipelines)
    assert {p.stem for p in stores.glob("*/*.yml")} == set(STORES)
    assert {p.name for p in pipelines.iterdir() if p.is_dir() and p.name != "__pycache__"} == {"ask", "index", "search"}
    assert not list(Path(pipelines).glob("*.y*ml"))


def test_the_embedding_profile_gives_both_pipelines_one_model_and_yields_to_a_pipeline_setting(tmp_path, monkeypatch):
    index = pipeline_spec("index", "index", "inmemory")["components"]["embedder"]["init_parameters"]
    search = pipeline_spec("search", "search", "inmemory")["components"]["query_embedder"]["init_parameters"]
    shared = ("model", "backend", "normalize_embeddings", "tokenizer_kwargs")
    assert {k: index[k] for k in shared} == {k: search[k] for k in shared}
    assert index["model_kwargs"]["file_name"] == search["model_kwargs"]["file_name"]
    # each pipeline keeps its own thread count beside the shared model file
    assert (index["model_kwargs"]["intra_op_num_threads"], search["model_kwargs"]["intra_op_num_threads"]) == (0, 1)
    # a pipeline's own setting wins over the shared one (scripts/compare_backends.py relies on it)
    copy = tmp_path / "pipelines"
    shutil.copytree(REPO / "pipelines", copy)
    path = copy / "search" / "search.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["components"]["query_embedder"]["init_parameters"]["backend"] = "torch"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("HAYHOOKS_PIPELINES_DIR", str(copy))
    assert pipeline_spec("search", "search", "inmemory")["components"]["query_embedder"]["init_parameters"]["backend"] == "torch"
