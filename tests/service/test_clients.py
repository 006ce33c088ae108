"""People's tools against the running service on the whole real corpus (issue #15 items 1 and 2):
the official `openai` client on /v1/chat/completions (model "ask"), the official `mcp` client on /mcp.

Most tests use the session's extractive service (`indexed_service`). The LLM tests use a second service on
a copy of its index, with a read token, answering through the LLM STAND-IN (scripts/llm_standin.py, a fake
OpenAI-compatible server, not a real LLM) on a fixed port, where each test starts the stand-in it needs.
"""

import asyncio
import json
import re
import shutil

import httpx
import jsonschema
import openai
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from service_process import REPO, ServiceProcess, free_port, running_standin

pytestmark = pytest.mark.e2e

DEV_SET = REPO.parent / "shared" / "eval" / "dev.jsonl"
EUROGATE = "At which ports is Deutsche Telekom building 5G campus networks for container terminal operator EUROGATE?"
READ_TOKEN = "test-read-token"
STANDIN_QUICK = ("--ttft", "0.1", "--tokens-per-second", "200", "--tokens", "40")
CITATION = re.compile(r"\[(\d+)\]")
SOURCE_LINE = re.compile(r"^- \[(\d+)\] (.+) — (\d+\.txt)(?:, (\d{4}(?:-\d\d){0,2}))?$")


def dev_questions(kind: str) -> list[dict]:
    questions = [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]
    return [q for q in questions if q["type"] == kind and q["gold_files"]]


def gold_files(question: dict) -> set[str]:
    return {name.rsplit("/", 1)[-1] for name in question["gold_files"]}


def chat_client(url: str, api_key: str = "no-key-needed") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0, timeout=60)


def ask_chat(client: openai.OpenAI, question: str):
    return client.chat.completions.create(model="ask", messages=[{"role": "user", "content": question}])


def ask_chat_streamed(client: openai.OpenAI, question: str) -> list:
    stream = client.chat.completions.create(model="ask", stream=True, messages=[{"role": "user", "content": question}])
    return list(stream)


def streamed_text(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def source_lines(text: str) -> list[re.Match]:
    """The lines of the message's source list, parsed; asserts the list's heading is there."""
    head, _, tail = text.rpartition("\n\n**Sources**\n")
    assert head, f"no source list in:\n{text}"
    matches = [SOURCE_LINE.match(line) for line in tail.splitlines()]
    assert all(matches), f"malformed source lines:\n{tail}"
    return matches


def check_sources_match_citations(text: str, sources: list[dict]) -> str:
    """The answer part of `text`; its [n] are exactly the listed sources, in the text and in `sources`."""
    answer = text.split("\n\n**Sources**\n")[0].split("\n\n> **Note:**")[0]
    cited = sorted({int(n) for n in CITATION.findall(answer)})
    assert cited, f"the answer cites nothing: {answer}"
    assert [s["number"] for s in sources] == cited
    lines = source_lines(text)
    assert [int(m[1]) for m in lines] == cited
    for line, source in zip(lines, sources, strict=True):
        assert line[3] == source["file"] and line[2] == source["title"]
        assert line[4] == source["date"]
        assert source["passage"] and source["release_path"] == f"/releases/{source['file']}"
    return answer


# --- the OpenAI-compatible endpoint, extractive service ------------------------------------------------------


def test_models_offers_only_the_chat_model(service_url):
    assert [m.id for m in chat_client(service_url).models.list()] == ["ask"]
    assert [m["id"] for m in httpx.get(f"{service_url}/models").json()["data"]] == ["ask"]


def test_chat_answer_lists_the_sources_it_cites(service_url):
    completion = ask_chat(chat_client(service_url), EUROGATE)
    text = completion.choices[0].message.content
    extra = completion.model_extra
    answer = check_sources_match_citations(text, extra["sources"])
    assert "103.txt" in {s["file"] for s in extra["sources"]}  # the dev set's gold release
    assert "Wilhelmshaven" in answer
    assert extra["mode"] == "extractive" and extra["warning"] is None and "**Note:**" not in text
    assert extra["answerable"] is True and extra["answerability"] > 0.5
    assert extra["timings_ms"]["total"] > 0


def test_streamed_chat_gives_the_same_text_and_sources(service_url):
    client = chat_client(service_url)
    whole = ask_chat(client, EUROGATE)
    chunks = ask_chat_streamed(client, EUROGATE)
    assert streamed_text(chunks) == whole.choices[0].message.content  # extractive answers are deterministic
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c for c in chunks if c.choices[0].finish_reason] == [last]
    assert last.model_extra["sources"] == whole.model_extra["sources"]
    assert last.model_extra["mode"] == "extractive" and last.model_extra["warning"] is None
    # Open WebUI source events, one per retrieved source, numbered as the [n] cite them, before any text
    events = [c.model_extra["event"] for c in chunks if "event" in (c.model_extra or {})]
    assert [e["type"] for e in events] == ["source"] * 5
    assert [e["data"]["source"]["id"] for e in events] == ["1", "2", "3", "4", "5"]
    names = [e["data"]["metadata"][0]["name"] for e in events]
    assert len(set(names)) == 5 and all(name.startswith(f"[{i}] ") for i, name in enumerate(names, 1))
    assert all(e["data"]["document"][0] for e in events)
    first_text = next(i for i, c in enumerate(chunks) if c.choices[0].delta.content)
    assert first_text == len(events)


def test_chat_without_a_user_question_is_a_clear_422(service_url):
    client = chat_client(service_url)
    with pytest.raises(openai.UnprocessableEntityError) as no_question:
        client.chat.completions.create(model="ask", messages=[{"role": "system", "content": "Be brief."}])
    assert no_question.value.body["detail"] == "No user message to answer."
    with pytest.raises(openai.UnprocessableEntityError) as empty:
        ask_chat(client, "   ")
    assert "empty" in empty.value.body["detail"]
    with pytest.raises(openai.APIStatusError) as not_a_chat_model:
        client.chat.completions.create(model="search", messages=[{"role": "user", "content": "5G"}])
    assert not_a_chat_model.value.status_code == 501


# --- the OpenAI-compatible endpoint through the LLM stand-in (a fake LLM), with a read token ----------------------


@pytest.fixture(scope="module")
def llm_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def llm_service(indexed_service, corpus_dir, tmp_path_factory, llm_port):
    """A second service on a copy of the session's full index, answering through the LLM at `llm_port`."""
    data_dir = tmp_path_factory.mktemp("clients-llm")
    shutil.copytree(indexed_service.data_dir, data_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.log"))
    service = ServiceProcess(
        data_dir, corpus=corpus_dir,
        OPENAI_API_KEY="test-standin-key", OPENAI_BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        PRESSQA_LLM_MODEL="llm-standin", PRESSQA_ANSWER_TIMEOUT="6", PRESSQA_READ_TOKEN=READ_TOKEN,
    ).start(timeout=300)
    yield service
    service.stop()


def test_llm_answer_lists_its_sources_without_a_note(llm_service, llm_port):
    client = chat_client(llm_service.url, READ_TOKEN)
    with running_standin(*STANDIN_QUICK, port=llm_port):
        completion = ask_chat(client, EUROGATE)
        chunks = ask_chat_streamed(client, EUROGATE)
    for text, extra in ((completion.choices[0].message.content, completion.model_extra),
                        (streamed_text(chunks), chunks[-1].model_extra)):
        assert extra["mode"] == "llm" and extra["warning"] is None and "**Note:**" not in text
        check_sources_match_citations(text, extra["sources"])
        assert "103.txt" in {s["file"] for s in extra["sources"]}


def test_fallback_to_the_extractive_answer_shows_a_note(llm_service, llm_port):
    client = chat_client(llm_service.url, READ_TOKEN)
    with running_standin(*STANDIN_QUICK, "--fault", "500", port=llm_port):
        completion = ask_chat(client, EUROGATE)
        chunks = ask_chat_streamed(client, EUROGATE)
    for text, extra in ((completion.choices[0].message.content, completion.model_extra),
                        (streamed_text(chunks), chunks[-1].model_extra)):
        assert extra["mode"] == "extractive"
        assert extra["warning"].startswith("No generated answer: the language model failed")
        assert f"\n\n> **Note:** {extra['warning']}\n\n**Sources**\n" in text
        answer = check_sources_match_citations(text, extra["sources"])
        assert "Wilhelmshaven" in answer


def test_chat_needs_the_read_token_when_one_is_set(llm_service):
    for client in (chat_client(llm_service.url, "wrong-token"), chat_client(llm_service.url)):
        with pytest.raises(openai.AuthenticationError):
            ask_chat(client, EUROGATE)


# --- MCP ---------------------------------------------------------------------------------------------------------


async def _mcp(url: str, calls: list[tuple[str, dict]], token: str | None = None) -> tuple[list, list]:
    """The tool list and the results of `calls`, over one streamable-HTTP MCP session."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (httpx.AsyncClient(headers=headers, timeout=60) as http,
                streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
                ClientSession(read, write) as session):
        await session.initialize()
        tools = (await session.list_tools()).tools
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return tools, results


def leaf_errors(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaf_errors(inner)]
    return [error]


def mcp(url: str, *calls: tuple[str, dict], token: str | None = None) -> tuple[list, list]:
    return asyncio.run(_mcp(url, list(calls), token))


def output_schema(tools: list, name: str) -> dict:
    return next(tool.outputSchema for tool in tools if tool.name == name)


def test_mcp_lists_two_typed_read_only_tools(service_url):
    tools, _ = mcp(service_url)
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == {"search_press_releases", "ask_press_releases"}
    assert by_name["search_press_releases"].inputSchema["required"] == ["query"]
    assert by_name["ask_press_releases"].inputSchema["required"] == ["question"]
    for tool in tools:
        assert tool.description and tool.annotations.readOnlyHint is True
        for name, spec in tool.inputSchema["properties"].items():
            assert spec.get("description"), f"{tool.name}.{name} has no description"
            assert "type" in spec or "anyOf" in spec
        assert tool.outputSchema["type"] == "object"
    assert by_name["ask_press_releases"].inputSchema["properties"]["top_k"]["maximum"] == 20


def test_mcp_search_finds_the_gold_release_of_dev_questions(service_url):
    questions = dev_questions("fact")[:4]
    calls = [("search_press_releases", {"query": q["question"], "top_k": 5}) for q in questions]
    tools, results = mcp(service_url, *calls)
    for question, result in zip(questions, results, strict=True):
        assert not result.isError, result.content
        passages = result.structuredContent["passages"]
        assert [p["rank"] for p in passages] == [1, 2, 3, 4, 5]
        assert gold_files(question) & {p["file"] for p in passages}, question["question"]
        assert all(p["title"] and p["passage"] and p["file"].endswith(".txt") for p in passages)
        assert json.loads(result.content[0].text) == result.structuredContent  # text form for older clients
        jsonschema.validate(result.structuredContent, output_schema(tools, "search_press_releases"))


def test_mcp_ask_answers_with_cited_sources(service_url):
    question = next(q for q in dev_questions("fact") if gold_files(q) == {"103.txt"})
    tools, (result,) = mcp(service_url, ("ask_press_releases", {"question": question["question"]}))
    assert not result.isError, result.content
    jsonschema.validate(result.structuredContent, output_schema(tools, "ask_press_releases"))
    reply = result.structuredContent
    cited = sorted({int(n) for n in CITATION.findall(reply["answer"])})
    assert cited and [s["number"] for s in reply["sources"]] == cited
    assert "103.txt" in {s["file"] for s in reply["sources"]}
    assert all(fact in reply["answer"] for fact in question["key_facts"])
    assert reply["mode"] == "extractive" and reply["warning"] is None
    assert reply["answerable"] is True and 0.5 <= reply["answerability"] <= 1


def test_mcp_year_filter_and_bad_input(service_url):
    _, (by_year, empty, too_many, unknown) = mcp(
        service_url,
        ("search_press_releases", {"query": "5G network expansion", "year": 2023, "top_k": 10}),
        ("ask_press_releases", {"question": "   "}),
        ("search_press_releases", {"query": "5G", "top_k": 99}),
        ("delete_everything", {}),
    )
    assert not by_year.isError and by_year.structuredContent["passages"]
    assert {p["year"] for p in by_year.structuredContent["passages"]} == {2023}
    assert empty.isError and "empty" in empty.content[0].text
    assert too_many.isError and "top_k: Input should be less than or equal to 20" in too_many.content[0].text
    assert unknown.isError


def test_mcp_needs_the_read_token_when_one_is_set(llm_service):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "test", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for bad in ({}, {"Authorization": "Bearer wrong-token"}):
        reply = httpx.post(f"{llm_service.url}/mcp", json=initialize, headers={**headers, **bad})
        assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    with pytest.raises(BaseExceptionGroup) as refused:  # the MCP client's task group wraps the HTTP error
        mcp(llm_service.url)
    assert [e.response.status_code for e in leaf_errors(refused.value) if isinstance(e, httpx.HTTPStatusError)] == [401]
    tools, _ = mcp(llm_service.url, token=READ_TOKEN)
    assert len(tools) == 2
