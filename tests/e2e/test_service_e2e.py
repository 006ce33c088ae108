"""End-to-end: the real service, indexed on the whole corpus from ../shared, called over HTTP (what no one room
owns: bad input on every route, the operator routes that are gone). Each room's own end-to-end tests are in
tests/pipelines/<room>/."""

import httpx
import pytest
from service_process import REPO

pytestmark = pytest.mark.e2e


def _post(url: str, path: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, **kw)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/ask/run", {"query": ""}),
        ("/ask/run", {"query": "   \n "}),
        ("/ask/run", {"query": "why " * 1000}),
        ("/search/run", {"query": "fiber", "top_k": 0}),
        ("/search/run", {"query": "fiber", "top_k": 10_000}),
        ("/search/run", {"query": "fiber", "top_k": "many"}),
        ("/search/run", {"query": 42}),
        ("/search/run", {"query": "fiber", "filters": {"field": "meta.year", "operator": "~", "value": 1}}),
        ("/search/run", {"query": "fiber", "filters": {"operator": "AND", "conditions": "no"}}),
        ("/ask/stream", {"query": ""}),
    ],
)
def test_bad_input_gets_a_clear_4xx(service_url, path, body):
    reply = _post(service_url, path, body)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["detail"]


def test_pipelines_cannot_be_deployed_or_undeployed_over_http(service_url):
    assert _post(service_url, "/undeploy/search", {}).status_code in (404, 405)
    assert _post(service_url, "/deploy-yaml", {"name": "x", "source_code": "components: {}"}).status_code in (404, 405)
    assert (REPO / "pipelines" / "search" / "search.yml").exists()
    assert _post(service_url, "/search/run", {"query": "fiber"}).status_code == 200
