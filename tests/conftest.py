"""Shared fixtures. The end-to-end service runs in a subprocess, indexed once per session on the real corpus."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402
from service_process import CORPUS, INDEX_TOKEN, ServiceProcess  # noqa: E402


@pytest.fixture(scope="session")
def corpus_dir():
    if not any(CORPUS.glob("*.txt")):
        pytest.fail(f"The corpus is missing at {CORPUS}: set PRESS_RELEASES_DIR")
    return CORPUS


@pytest.fixture(scope="session")
def indexed_service(tmp_path_factory, corpus_dir):
    """The service on the whole real corpus (extractive mode: no OpenAI key), started once per session."""
    os.environ["PRESSQA_INDEX_TOKEN"] = INDEX_TOKEN
    service = ServiceProcess(tmp_path_factory.mktemp("service-data"), corpus=corpus_dir).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def service_url(indexed_service) -> str:
    """Base URL of the session's service."""
    return indexed_service.url


def pytest_collection_modifyitems(config, items):
    """Deselect (never skip silently) the tests marked `elasticsearch` when no Elasticsearch is configured.

    Elasticsearch cannot run on these machines (Elastic's Maven build lacks the `GET /` and
    `_delete_by_query` modules: docs/scaling.md); .github/workflows/elasticsearch.yml runs them against
    elasticsearch:8.19 with ELASTICSEARCH_URL set. The local cluster suite is tests/stores/opensearch/test_opensearch_cluster.py.
    """
    if os.environ.get("ELASTICSEARCH_URL"):
        return
    deselected = [item for item in items if item.get_closest_marker("elasticsearch")]
    if deselected:
        items[:] = [item for item in items if not item.get_closest_marker("elasticsearch")]
        config.hook.pytest_deselected(items=deselected)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        message = (f"deselected {len(deselected)} Elasticsearch tests: ELASTICSEARCH_URL is not set (they run in "
                   ".github/workflows/elasticsearch.yml; no Elasticsearch can run here, see docs/scaling.md)")
        if reporter:
            reporter.write_line(message, yellow=True)
        else:
            print(message)
