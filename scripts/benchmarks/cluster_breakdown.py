"""Where one search's time goes on the cluster path, with one client (issue #23): engine, round trip, client,
Haystack's retriever, the pipeline, and how the shard count changes it.

    OPENSEARCH_URL=http://127.0.0.1:9200,http://127.0.0.1:9201,http://127.0.0.1:9202 \\
      python scripts/cluster_breakdown.py .cache/growth/inmemory/1x/data/index/press-releases.sqlite --shards 1 3

For each shard count it makes an index of the chunks of INDEX (an embedded index file: the same chunks and
vectors; `press-releases-breakdown-s<n>`, 1 replica, made once and kept until `--cleanup`), then sends the
dev questions (each a distinct variant per round: nothing repeats) and times, per question, each layer of
one BM25 and one k-NN search as search.yml's retrievers send them:

- `took`: the engine's own time (OpenSearch's `took`: the coordinating node's query and fetch over the shards);
- `http`: a raw POST of the same body on a kept-alive connection (httpx): round trip, HTTP and JSON;
- `client`: the same through opensearch-py, the client the store uses;
- `retriever`: Haystack's retriever component (`run`), which adds the request's preparation and the hits
  made into Documents;
- `pipeline`: search.yml whole on this store (query embedding, both retrievers, fusion, ranking), run as
  Hayhooks runs it before this change (`run`: one component after the other) and with `run_async`
  (independent branches together: the two retrievers at once), the stages as the reply's `timings_ms`.

Prints the medians and 95th percentiles and writes them as JSON (`--out`). One client, so the engine is idle
but for it; the machine may not be (the figures say what they were measured on).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from scripts.benchmarks.bench import question_variants
from scripts.measure_common import DEFAULT_QUESTIONS, REPO_ROOT, load_questions, percentile

DEFAULT_URLS = "http://127.0.0.1:9200,http://127.0.0.1:9201,http://127.0.0.1:9202"


def _stores_dir(folder: Path, index: str, shards: int) -> Path:
    """A copy of stores/ whose OpenSearch profile names `index` with `shards` primaries."""
    target = folder / f"stores-{index}"
    shutil.copytree(REPO_ROOT / "stores", target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    profile = target / "opensearch" / "opensearch.yml"
    text = profile.read_text().replace("    index: press-releases\n", f"    index: {index}\n")
    profile.write_text("\n".join(f"      number_of_shards: {shards}" if line.strip().startswith("number_of_shards:") else line
                                 for line in text.splitlines()) + "\n")
    return target


def _ms(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def _summary(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def measure(index_file: Path, shards: int, questions: list[str], url: str, folder: Path) -> dict[str, Any]:
    from haystack.document_stores.types import DuplicatePolicy

    from kit.loader import load_pipeline, pipeline_spec, run_timed
    from kit.timings import collect_timings
    from stores.inmemory.index_file import IndexFile
    from stores.opensearch.opensearch_store import EnvOpenSearchBM25Retriever, EnvOpenSearchDocumentStore, EnvOpenSearchEmbeddingRetriever

    index = f"press-releases-breakdown-s{shards}"
    os.environ["PRESSQA_STORE"] = "opensearch"
    os.environ["PRESSQA_STORES_DIR"] = str(_stores_dir(folder, index, shards))
    spec = pipeline_spec("search", "search")["components"]
    store = EnvOpenSearchDocumentStore.from_dict(json.loads(json.dumps(spec["bm25_retriever"]["init_parameters"]["document_store"])))
    documents = IndexFile(index_file).read().haystack_documents()
    if store.count_documents() != len(documents):
        print(f"writing {len(documents)} chunks into {index} ({shards} primaries)", flush=True)
        for start in range(0, len(documents), 500):
            store.write_documents(documents[start : start + 500], policy=DuplicatePolicy.OVERWRITE)
        httpx.post(f"{url}/{index}/_refresh", timeout=60)
    bm25 = EnvOpenSearchBM25Retriever(document_store=store, top_k=30, fuzziness=0)
    knn = EnvOpenSearchEmbeddingRetriever(document_store=store, top_k=30, efficient_filtering=True)
    pipeline = load_pipeline("search", "search")
    pipeline.warm_up()
    embedder = pipeline.pipeline.get_component("query_embedder")

    times: dict[str, list[float]] = {}
    stages: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    loop = asyncio.new_event_loop()
    with httpx.Client(base_url=url, timeout=60) as http:
        for number, question in enumerate(questions):
            embed_ms, embedded = _ms(lambda q=question: embedder.run(text=q)["embedding"])
            bodies = {
                "bm25": store._prepare_bm25_search_request(query=question, filters=None, fuzziness=0, top_k=30,
                                                            all_terms_must_match=False, custom_query=None),
                "knn": store._prepare_embedding_search_request(query_embedding=embedded, filters=None, top_k=30,
                                                                custom_query=None, efficient_filtering=True),
            }
            for kind, body in bodies.items():
                ms, reply = _ms(lambda b=body: http.post(f"/{index}/_search", params={"preference": store._preference}, json=b).json())
                if number:  # the first question warms connections and caches up
                    add(f"{kind} took", reply["took"])
                    add(f"{kind} http", ms)
                ms, _ = _ms(lambda b=body: store._client.search(index=index, body=b, preference=store._preference))
                if number:
                    add(f"{kind} client", ms)
            ms_bm25, _ = _ms(lambda q=question: bm25.run(query=q))
            ms_knn, _ = _ms(lambda e=embedded: knn.run(query_embedding=e))
            if number:
                add("bm25 retriever", ms_bm25)
                add("knn retriever", ms_knn)
                add("query embedding", embed_ms)
            variant = f"{question} (pipeline)"
            with collect_timings() as timings:
                ms, _ = _ms(lambda v=variant: run_timed(pipeline, "total", query=v, top_k=5, filters=None))
            if number:
                add("pipeline run", ms)
                for stage, value in timings.items():
                    stages.setdefault(f"run: {stage}", []).append(value)
            variant = f"{question} (async)"
            with collect_timings() as timings:
                ms, _ = _ms(lambda v=variant: loop.run_until_complete(pipeline.run_async(query=v, top_k=5, filters=None)))
            if number:
                add("pipeline run_async", ms)
                for stage, value in timings.items():
                    stages.setdefault(f"run_async: {stage}", []).append(value)
    loop.close()
    return {"index": index, "shards": shards, "chunks": len(documents), "questions": len(questions) - 1,
            "ms": {name: _summary(values) for name, values in times.items()},
            "stages_ms": {name: _summary(values) for name, values in sorted(stages.items())}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index_file", type=Path, help="an embedded index (press-releases.sqlite): the chunks to search")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--rounds", type=int, default=2, help="variants of each dev question")
    parser.add_argument("--questions", default=DEFAULT_QUESTIONS)
    parser.add_argument("--opensearch-url", default=os.environ.get("OPENSEARCH_URL", DEFAULT_URLS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cleanup", action="store_true", help="delete the indexes this tool made, then stop")
    args = parser.parse_args(argv)
    url = args.opensearch_url.split(",")[0]
    if args.cleanup:
        for shards in args.shards:
            httpx.delete(f"{url}/press-releases-breakdown-s{shards}", timeout=60)
        return 0
    os.environ["OPENSEARCH_URL"] = args.opensearch_url
    base = [item["question"] for item in load_questions(args.questions)]
    variants = question_variants(base)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for shards in args.shards:
            questions = [next(variants) for _ in range(len(base) * args.rounds)]
            results.append(measure(args.index_file, shards, questions, url, Path(folder)))
    names = sorted({name for r in results for name in r["ms"]} | {name for r in results for name in r["stages_ms"]})
    print("\n| ms, p50 / p95 | " + " | ".join(f"{r['shards']} shard(s)" for r in results) + " |")
    print("| --- |" + " --- |" * len(results))
    for name in names:
        cells = []
        for r in results:
            value = r["ms"].get(name) or r["stages_ms"].get(name)
            cells.append("-" if not value else f"{value['p50']:.1f} / {value['p95']:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
