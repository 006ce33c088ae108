"""How cost grows (issue #23): the same service on 1x, 4x and 16x the corpus, embedded and on the cluster.

    python scripts/bench_growth.py                                  # 1x, 4x, 16x; embedded and OpenSearch
    python scripts/bench_growth.py --stores inmemory --factors 1 2 --releases 8 --seconds 3   # a small run

For every store and size: the corpus (the real releases plus rewritten copies, `corpus.py`), the index
(time, time per release as the index grows, chunks, size on disk), one new release added to the full index
(five times, a different release each time; removed again after), and the service on it (`serve.py`: start
to first answer, memory per worker, search and extractive ask for one client and for 10 concurrent clients,
dev-set passage@5). Results go to `<cache>/results.json` step by step: a run that is stopped resumes where
it was (a finished step is not run again; `--redo STEP` runs it anew, e.g. `--redo serve`), and indexing
itself resumes with the releases not yet indexed. `--docs` draws the curves (`report.py`) into docs/.

How the indexes are made, so the figures say what they are:
- embedded store: the 1x index is made from an empty one; the 4x index is a copy of the 1x index into which
  the 762 other releases are indexed, the 16x index likewise from the 4x one. "Indexing all" of a size is the
  sum of its chain; the time per release is drawn against the size of the index it went into.
- OpenSearch (`press-releases-growth-<n>x`, `--shards` primaries, 1 replica; deleted by `--cleanup`): each size
  from the embedded index's chunks of that size when it exists (the same chunks, their vectors not computed
  again: embedding costs the same on either store), else through the indexing pipeline. One release added
  goes through the whole pipeline on both stores.

The machine is shared: timings taken while other work runs compare within one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import httpx

from scripts.benchmarks.growth import serve
from scripts.benchmarks.growth.corpus import Rewriter, build_corpus, lowercase_vocabulary, rare_words
from scripts.measure_common import DEFAULT_QUESTIONS, REPO_ROOT, load_questions, repo_path

DEFAULT_CACHE = REPO_ROOT / ".cache" / "growth"
DEFAULT_CORPUS = "../shared/telekom-press-releases"
OPENSEARCH_URLS = "http://127.0.0.1:9200,http://127.0.0.1:9201,http://127.0.0.1:9202"
NEW_RELEASES = ("103.txt", "7.txt", "42.txt", "200.txt", "150.txt")  # rewritten as copies no corpus holds
NEW_COPY = 90  # copy numbers 90.. are never part of a corpus of up to 89x
STEPS = ("index", "add_one", "serve")


class Results:
    """`results.json`: one entry per finished step, written after each step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {"steps": {}}

    def done(self, step: str) -> bool:
        return step in self.data["steps"]

    def get(self, step: str) -> dict[str, Any]:
        return self.data["steps"][step]

    def put(self, step: str, value: dict[str, Any]) -> None:
        self.data["steps"][step] = {**value, "finished": datetime.now(UTC).isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".part")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)


class Growth:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cache: Path = args.cache
        self.results = Results(self.cache / "results.json")
        self.corpus = repo_path(args.corpus)
        self.dev_items = load_questions(args.questions)

    # --- helpers ---------------------------------------------------------------------------------

    def step(self, name: str) -> bool:
        """Whether `name` must run now (not finished, or asked for again with --redo)."""
        redo = any(name == r or name.endswith("/" + r) for r in self.args.redo)
        return redo or not self.results.done(name)

    def source(self) -> Path:
        """The real releases (all, or the first --releases of them, for a small run)."""
        if not self.args.releases:
            return self.corpus
        folder = self.cache / f"source-{self.args.releases}"
        build_corpus_subset(self.corpus, folder, self.args.releases)
        return folder

    def corpus_dir(self, factor: int) -> Path:
        return self.cache / "corpora" / f"{factor}x"

    def job(self, mode: list[str], env: dict[str, str], log_name: Path) -> None:
        """Run index_job in its own process; its progress bar shows here."""
        command = [sys.executable, "-m", "scripts.benchmarks.growth.index_job", *mode]
        full_env = {**os.environ, **env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        full_env.pop("OPENAI_API_KEY", None)
        subprocess.run(command, cwd=REPO_ROOT, env=full_env, check=True)

    def new_releases(self) -> list[Path]:
        """Releases no corpus holds (rewritten copies numbered from NEW_COPY), for `add_one`."""
        folder = self.cache / "new-releases"
        folder.mkdir(parents=True, exist_ok=True)
        source = self.source()
        names = [n for n in NEW_RELEASES if (source / n).exists()] or sorted(p.name for p in source.glob("*.txt"))[:5]
        texts = [p.read_text(encoding="utf-8") for p in source.glob("*.txt")]
        vocabulary, rare = lowercase_vocabulary(texts), rare_words(texts)
        made = []
        for k, name in enumerate(names):
            target = folder / f"new-{NEW_COPY + k}-{name}"
            target.write_text(Rewriter(NEW_COPY + k, vocabulary, rare).rewrite((source / name).read_text(encoding="utf-8")), encoding="utf-8")
            made.append(target)
        return made

    # --- stores ----------------------------------------------------------------------------------

    def env(self, store: str, factor: int) -> dict[str, str]:
        if store == "inmemory":
            return {"PRESSQA_STORE": "inmemory", "PRESSQA_DATA_DIR": str(self.data_dir(factor))}
        return {"PRESSQA_STORE": "opensearch", "OPENSEARCH_URL": self.args.opensearch_url,
                "PRESSQA_STORES_DIR": str(self.stores_dir(factor)), "PRESSQA_DATA_DIR": str(self.cache / "opensearch" / f"{factor}x" / "data")}

    def data_dir(self, factor: int) -> Path:
        return self.cache / "inmemory" / f"{factor}x" / "data"

    def index_file(self, factor: int) -> Path:
        return self.data_dir(factor) / "index" / "press-releases.sqlite"

    def os_index(self, factor: int) -> str:
        return f"press-releases-growth-{factor}x" + (f"-{self.args.releases}r" if self.args.releases else "")

    def stores_dir(self, factor: int) -> Path:
        """A copy of stores/ whose OpenSearch profile names this size's index and the shard count."""
        folder = self.cache / "opensearch" / f"{factor}x" / "stores"
        shutil.copytree(REPO_ROOT / "stores", folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        profile = folder / "opensearch" / "opensearch.yml"
        text = (REPO_ROOT / "stores" / "opensearch" / "opensearch.yml").read_text()
        text = text.replace("    index: press-releases\n", f"    index: {self.os_index(factor)}\n")
        text = _set_setting(text, "number_of_shards", self.args.shards)
        profile.write_text(text)
        return folder

    def os_get(self, path: str) -> Any:
        url = self.args.opensearch_url.split(",")[0]
        return httpx.get(f"{url}/{path}", timeout=60).raise_for_status().json()

    # --- steps -------------------------------------------------------------------------------------

    def corpora(self) -> None:
        source = self.source()
        for factor in self.args.factors:
            files = build_corpus(source, self.corpus_dir(factor), factor)
            print(f"corpus {factor}x: {len(files)} releases in {self.corpus_dir(factor)}")

    def index(self, store: str, factor: int, previous: int | None) -> None:
        name = f"{store}/{factor}x/index"
        if not self.step(name):
            return
        folder = self.cache / store / f"{factor}x"
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "index.jsonl"
        entry: dict[str, Any] = {"releases": len(list(self.corpus_dir(factor).glob("*.txt")))}
        if store == "inmemory":
            if not self.index_file(factor).exists() and previous is not None:
                from stores.inmemory.index_file import IndexFile

                self.index_file(factor).parent.mkdir(parents=True, exist_ok=True)
                IndexFile(self.index_file(previous)).copy_to(self.index_file(factor))
            if previous is not None:
                entry["made_from"] = f"the {previous}x index"
            self.job(["index", str(self.corpus_dir(factor)), "--log", str(log)], self.env(store, factor), log)
            from stores.inmemory.index_file import IndexFile

            entry["size_on_disk_bytes"] = IndexFile(self.index_file(factor)).size_on_disk()
        elif not self.index_file(factor).exists():
            self.job(["index", str(self.corpus_dir(factor)), "--log", str(log)], self.env(store, factor), log)
            entry["made_by"] = "the indexing pipeline"
        else:
            self.job(["copy-from", str(self.index_file(factor)), "--log", str(log)], self.env(store, factor), log)
            entry["made_by"] = "the embedded index's chunks, written in batches of 500 (not embedded again)"
        if store == "opensearch":
            httpx.post(f"{self.args.opensearch_url.split(',')[0]}/{self.os_index(factor)}/_refresh", timeout=60)
            stats = self.os_get(f"_cat/indices/{self.os_index(factor)}?format=json&bytes=b")[0]
            entry["size_on_disk_bytes"] = int(stats["store.size"])
            entry["primary_size_bytes"] = int(stats["pri.store.size"])
            entry["shards"] = {"primaries": int(stats["pri"]), "replicas": int(stats["rep"])}
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        entry["seconds"] = round(sum(line["seconds"] for line in lines), 1)
        entry["chunks"] = lines[-1]["documents"] if lines else None
        # a batch marked "paused" by hand in the log (its job was stopped while other work measured) is not drawn
        entry["batches"] = [{"documents": line["documents"], "files": line.get("files"), "chunks": line.get("chunks"),
                             "seconds": line["seconds"], **({"paused": line["paused"]} if "paused" in line else {})}
                            for line in lines]
        if previous is not None and store == "inmemory":
            entry["seconds_all"] = round(entry["seconds"] + self.results.get(f"{store}/{previous}x/index")["seconds_all"], 1)
        else:
            entry["seconds_all"] = entry["seconds"]
        self.results.put(name, entry)
        print(f"{name}: {json.dumps({k: v for k, v in entry.items() if k != 'batches'})}")

    def add_one(self, store: str, factor: int) -> None:
        name = f"{store}/{factor}x/add_one"
        if not self.step(name):
            return
        log = self.cache / store / f"{factor}x" / "add-one.jsonl"
        log.unlink(missing_ok=True)
        self.job(["add-one", *map(str, self.new_releases()), "--log", str(log)], self.env(store, factor), log)
        runs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        entry = {"runs": runs, "seconds_median": median(r["seconds"] for r in runs),
                 "writer_ms_median": median(r["stages_ms"].get("writer", 0.0) for r in runs),
                 "embedder_ms_median": median(r["stages_ms"].get("embedder", 0.0) for r in runs)}
        for part in ("write_ms", "apply_ms"):
            if all(part in r for r in runs):
                entry[f"{part}_median"] = median(r[part] for r in runs)
        self.results.put(name, entry)
        print(f"{name}: {json.dumps({k: v for k, v in entry.items() if k != 'runs'})}")

    def serve(self, store: str, factor: int) -> None:
        name = f"{store}/{factor}x/serve"
        if not self.step(name):
            return
        env = {**self.env(store, factor), "PRESSQA_WORKERS": str(self.args.workers)}
        log = self.cache / store / f"{factor}x" / "service.log"
        entry = serve.measure(env, log, self.dev_items, self.args.seconds, self.args.clients, self.args.single)
        entry["workers"] = self.args.workers
        self.results.put(name, entry)
        print(f"{name}: start {entry['start_to_first_answer_s']} s, search p50 {entry['search_1_client']['p50_ms']:.0f} ms (1 client), "
              f"real passage@5 {entry['dev_set']['real_found']}/{entry['dev_set']['questions']}, memory {entry['memory_after_load_mib']}")

    def cleanup(self) -> None:
        url = self.args.opensearch_url.split(",")[0]
        for factor in self.args.factors:
            httpx.delete(f"{url}/{self.os_index(factor)}", timeout=60)
            print(f"deleted the OpenSearch index {self.os_index(factor)} (if it existed)")

    def run(self) -> None:
        self.results.data["meta"] = {"factors": self.args.factors, "stores": self.args.stores, "releases": self.args.releases or "all",
                                     "workers": self.args.workers, "clients": self.args.clients, "seconds": self.args.seconds,
                                     "single_client_requests": self.args.single, "opensearch_shards": self.args.shards,
                                     "cores": os.cpu_count(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
        self.corpora()
        for store in self.args.stores:
            previous = None
            for factor in sorted(self.args.factors):
                for step in STEPS:
                    if step in self.args.steps:
                        getattr(self, step)(store, factor, previous) if step == "index" else getattr(self, step)(store, factor)
                previous = factor
        if self.args.cleanup:
            self.cleanup()


def build_corpus_subset(source: Path, folder: Path, count: int) -> None:
    """The first `count` releases of `source` (natural order), copied into `folder`."""
    from scripts.benchmarks.growth.index_job import natural

    folder.mkdir(parents=True, exist_ok=True)
    chosen = sorted(source.glob("*.txt"), key=natural)[:count]
    for path in chosen:
        target = folder / path.name
        if not target.exists():
            shutil.copyfile(path, target)


def _set_setting(profile: str, key: str, value: int) -> str:
    lines = profile.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip().startswith(f"{key}:"):
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f"{indent}{key}: {value}\n"
            return "".join(lines)
    raise ValueError(f"no {key} in the OpenSearch profile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16], help="corpus sizes, times the releases")
    parser.add_argument("--stores", nargs="+", default=["inmemory", "opensearch"], choices=["inmemory", "opensearch"])
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="the real releases")
    parser.add_argument("--releases", type=int, default=0, help="use only the first N real releases (a small run)")
    parser.add_argument("--questions", default=DEFAULT_QUESTIONS, help="the dev set (questions for load and passage@5)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpora, indexes, logs and results.json")
    parser.add_argument("--workers", type=int, default=2, help="PRESSQA_WORKERS of each service")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per target with concurrent clients")
    parser.add_argument("--single", type=int, default=40, help="requests per target with one client")
    parser.add_argument("--shards", type=int, default=1, help="primary shards of the OpenSearch indexes")
    parser.add_argument("--opensearch-url", default=os.environ.get("OPENSEARCH_URL", OPENSEARCH_URLS))
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS, help="which steps to run (each store and size)")
    parser.add_argument("--redo", nargs="*", default=[], help="steps to run again (e.g. serve, inmemory/16x/add_one)")
    parser.add_argument("--cleanup", action="store_true", help="delete the OpenSearch indexes at the end")
    parser.add_argument("--docs", action="store_true", help="then draw the curves and write the figures into docs/")
    args = parser.parse_args(argv)
    args.cache = args.cache.resolve()
    started = time.monotonic()
    Growth(args).run()
    if args.docs:
        from scripts.benchmarks.growth import report

        report.write(args.cache / "results.json")
    print(f"done in {time.monotonic() - started:.0f} s; results in {args.cache / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
