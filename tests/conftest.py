"""Shared fixtures. The end-to-end service runs in a subprocess, indexed once per session on the real corpus."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"  # nothing leaves the machine from a test either (kit/process.py)

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


# The local Elasticsearch cluster of scripts/elasticsearch_local.sh (HTTP 9220-9222 unless moved).
LOCAL_ELASTICSEARCH = [f"http://127.0.0.1:{int(os.environ.get('ELASTICSEARCH_LOCAL_PORT', 9220)) + n}" for n in range(3)]


# Elasticsearch tests that need a module Elastic's integ-test build lacks (name prefix: module, why).
NEEDS_MODULE = {
    "test_update_by_filter": ("reindex", "update_by_filter sends `_update_by_query`, served by the reindex module"),
    "test_get_metadata_field_unique_values_search_term": ("lang-painless", "its search_term is a painless script query"),
}


def _elasticsearch_modules(url: str) -> set[str] | None:
    """The modules the cluster's nodes loaded, or None when nothing answers as Elasticsearch at `url`."""
    import httpx

    try:
        reply = httpx.get(url.split(",")[0].strip() + "/_nodes", params={"filter_path": "nodes.*.modules.name"}, timeout=5)
        nodes = reply.json()["nodes"] if reply.headers.get("x-elastic-product") == "Elasticsearch" else None
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return None if nodes is None else {m["name"] for node in nodes.values() for m in node.get("modules", [])}


def _deselect(config, items, chosen, message: str) -> None:
    """Deselect `chosen` (never skip silently) and print why."""
    if not chosen:
        return
    items[:] = [item for item in items if item not in chosen]
    config.hook.pytest_deselected(items=chosen)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    message = f"deselected {len(chosen)} {message}"
    if reporter:
        reporter.write_line(message, yellow=True)
    else:
        print(message)


def pytest_collection_modifyitems(config, items):
    """Point the `elasticsearch`-marked tests at a real Elasticsearch, or deselect them with the reason printed.

    ELASTICSEARCH_URL names the cluster; unset, the local one of scripts/elasticsearch_local.sh is used when it
    answers (scripts/test.sh starts it). Without either, they are deselected, except under CI=true, where they
    run and fail with the reason. Against the local cluster (Elastic's integ-test build, whose missing `GET /`
    and `_delete_by_query` a test scaffold supplies) the tests that need a module it lacks (NEEDS_MODULE:
    update_by_filter, a painless script query) are deselected with that reason.
    """
    elastic = [item for item in items if item.get_closest_marker("elasticsearch")]
    if not elastic:
        return
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url and _elasticsearch_modules(LOCAL_ELASTICSEARCH[0]) is not None:
        url = os.environ["ELASTICSEARCH_URL"] = ",".join(LOCAL_ELASTICSEARCH)
    modules = _elasticsearch_modules(url) if url else None
    if modules is None:
        if os.environ.get("CI") == "true":
            return  # their fixtures fail, naming what is missing
        where = f"nothing answers as Elasticsearch at ELASTICSEARCH_URL ({url})" if url else (
            f"ELASTICSEARCH_URL is not set and no local cluster answers on {LOCAL_ELASTICSEARCH[0]}")
        _deselect(config, items, elastic, f"Elasticsearch tests: {where}; start one with "
                                          "`bash scripts/elasticsearch_local.sh start`")
        return
    for prefix, (module, why) in NEEDS_MODULE.items():
        if module not in modules:
            chosen = [item for item in elastic if item.name.startswith(prefix)]
            _deselect(config, items, chosen, f"{prefix}* tests: {why}, and this Elasticsearch has no {module} module "
                                             "(Elastic's integ-test build, scripts/elasticsearch_local.sh; Elastic's "
                                             "distribution has it)")
