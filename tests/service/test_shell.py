"""The app shell at start-up: a room that fails to deploy stops the service, naming it."""

import pytest
from hardening_support import service_on_copy


def test_a_pipeline_that_fails_to_deploy_makes_start_up_fail(tmp_path):
    data = tmp_path / "data"
    service = service_on_copy(data, corpus=None, PRESSQA_WORKERS="1")
    wrapper = data / "pipelines" / "ask" / "pipeline_wrapper.py"
    wrapper.write_text(wrapper.read_text() + "\nthis is not python\n")
    try:
        with pytest.raises(RuntimeError, match="service exited"):
            service.start(timeout=300, until_indexed=False)
    finally:
        service.stop()  # when it did start (the defect), never leave it running
    log = service.log_tail(400)
    assert "Pipelines failed to deploy: ask" in log
