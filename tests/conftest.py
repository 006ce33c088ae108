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
