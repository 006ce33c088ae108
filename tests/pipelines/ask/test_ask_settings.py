"""The ask room's settings from the environment reach generate.yml through Haystack's deserialization callback
(pipelines/ask/answering.py), not by finding the LLM among the built components afterwards."""

import pytest

from kit.loader import room_module


@pytest.fixture
def answering(monkeypatch, tmp_path):
    monkeypatch.setenv("PRESSQA_DATA_DIR", str(tmp_path))  # an empty index of its own
    monkeypatch.setenv("OPENAI_API_KEY", "stand-in")  # never called: the tests only build the pipelines
    return room_module("ask", "answering")


def test_the_llm_model_and_a_timeout_capped_at_the_answer_deadline_come_from_the_environment(answering, monkeypatch):
    monkeypatch.setenv("PRESSQA_LLM_MODEL", "gpt-test-model")
    monkeypatch.setenv("PRESSQA_ANSWER_TIMEOUT", "3")
    answerer = answering.Answerer()
    llm = answerer.generate.pipeline.get_component(answering.LLM_COMPONENT)
    assert (answerer.mode, answerer.llm_model, llm.model) == ("llm", "gpt-test-model", "gpt-test-model")
    assert llm.timeout == 3.0  # generate.yml says 20 s: the client never outlasts the answer it serves
    assert answerer.generate.pipeline.get_component("citation_check").model != "gpt-test-model"  # only the llm


def test_without_an_override_the_yaml_model_and_timeout_stand(answering, monkeypatch):
    monkeypatch.delenv("PRESSQA_LLM_MODEL", raising=False)
    monkeypatch.setenv("PRESSQA_ANSWER_TIMEOUT", "60")
    answerer = answering.Answerer()
    llm = answerer.generate.pipeline.get_component(answering.LLM_COMPONENT)
    assert (answerer.llm_model, llm.model, llm.timeout) == ("gpt-4.1-mini", "gpt-4.1-mini", 20.0)
