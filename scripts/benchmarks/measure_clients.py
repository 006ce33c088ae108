"""What the client paths cost over REST: the dev questions, one at a time, through REST, MCP and the chat endpoint.

Each dev question is asked once per path, the paths in turn (a question repeats across paths, never
within one): `POST /search/run` vs the MCP tool `search_press_releases`; `POST /ask/run` vs
`POST /v1/chat/completions` (official `openai` client) vs the MCP tool `ask_press_releases` (official
`mcp` client, one session). Prints the median latency per path in ms. Against a running service:

    .venv/bin/python scripts/measure_clients.py --url http://localhost:1416 [--token READ_TOKEN]
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx
import openai
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

DEV_SET = Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev.jsonl"


async def measure(url: str, token: str | None, questions: list[str]) -> dict[str, list[float]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    chat = openai.OpenAI(base_url=f"{url}/v1", api_key=token or "none", max_retries=0, timeout=60)
    seconds: dict[str, list[float]] = {p: [] for p in ("search REST", "search MCP", "ask REST", "ask chat", "ask MCP")}

    async def timed(path: str, call) -> None:
        started = time.perf_counter()
        await call()
        seconds[path].append(time.perf_counter() - started)

    async def rest(route: str, body: dict) -> None:
        (await http.post(f"{url}{route}", json=body)).raise_for_status()

    async def tool(name: str, arguments: dict) -> None:
        result = await session.call_tool(name, arguments)
        if result.isError:
            raise RuntimeError(result.content)

    def chat_completion(question: str) -> None:
        chat.chat.completions.create(model="ask", messages=[{"role": "user", "content": question}])

    async with (httpx.AsyncClient(headers=headers, timeout=60) as http,
                streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
                ClientSession(read, write) as session):
        await session.initialize()
        for question in questions:
            await timed("search REST", lambda: rest("/search/run", {"query": question, "top_k": 5}))
            await timed("search MCP", lambda: tool("search_press_releases", {"query": question, "top_k": 5}))
            await timed("ask REST", lambda: rest("/ask/run", {"query": question}))
            await timed("ask chat", lambda: asyncio.to_thread(chat_completion, question))
            await timed("ask MCP", lambda: tool("ask_press_releases", {"question": question}))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:1416", help="the service (default: %(default)s)")
    parser.add_argument("--token", default=None, help="the read token, when the service has one")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text().splitlines() if line.strip()]
    seconds = asyncio.run(measure(args.url.rstrip("/"), args.token, questions))
    print(f"{len(questions)} dev questions, one at a time; median ms per path:")
    for path, values in seconds.items():
        print(f"  {path:12} {statistics.median(values) * 1000:7.0f}")


if __name__ == "__main__":
    main()
