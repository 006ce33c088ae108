"""Start the service with 1, then 2 (…) worker processes on an existing index and measure each the same way:
seconds from start to the first answered search, search throughput under `scripts/bench.py`, and the
resident memory of the supervisor and all workers after that load.

    python scripts/measure_workers.py --data-dir data --workers 1 2 --seconds 20

The index must exist in `--data-dir` (e.g. `pressqa-index` first); start-up indexing is turned off so
only serving is measured. Results are printed and written as JSON (`--out`).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from scripts.measure_common import REPO_ROOT as REPO, free_port, service_readiness


def measure(workers: int, data_dir: Path, seconds: float, concurrency: int) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PRESSQA_WORKERS": str(workers), "PRESSQA_DATA_DIR": str(data_dir), "PRESSQA_INDEX_AT_START": "0",
           "HAYHOOKS_HOST": "127.0.0.1", "HAYHOOKS_PORT": str(port), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("OPENAI_API_KEY", None)
    log = (data_dir / f"measure-workers-{workers}.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", "from service.app import main; main()"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"service exited with {process.returncode}; see {log.name}")
            try:
                reply = httpx.post(f"{url}/search/run", json={"query": "5G campus network ports", "top_k": 3}, timeout=5)
                if reply.status_code == 200 and reply.json()["result"]["documents"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        first_answer = time.monotonic() - started
        answered = set()  # wait until every worker answers (each loads the index on its own)
        deadline = time.monotonic() + 120
        while len(answered) < workers and time.monotonic() < deadline:
            ready = service_readiness(url)
            answered.add(ready.get("worker") or ready.get("pid"))  # "pid" before issue #21
        all_answering = time.monotonic() - started
        out = data_dir / f"bench-workers-{workers}.json"
        subprocess.run([sys.executable, str(REPO / "scripts" / "bench.py"), "--url", url, "--targets", "search",
                        "--seconds", str(seconds), "--concurrency", str(concurrency), "--out", str(out)], cwd=REPO, check=True)
        bench = json.loads(out.read_text())
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        rss = {p.pid: p.memory_info().rss for p in tree}
        return {"workers": workers, "start_to_first_answer_s": round(first_answer, 1), "start_to_all_workers_s": round(all_answering, 1),
                "bench": bench, "rss_mib": {str(k): round(v / 2**20) for k, v in rss.items()}, "rss_total_mib": round(sum(rss.values()) / 2**20)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "data", help="holds index/press-releases.json")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=20.0, help="bench.py duration per run")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--out", default="measure-workers.json")
    args = parser.parse_args()
    results = [measure(n, args.data_dir.resolve(), args.seconds, args.concurrency) for n in args.workers]
    for r in results:
        print(f"{r['workers']} worker(s): first answer {r['start_to_first_answer_s']} s after start, all workers {r['start_to_all_workers_s']} s; "
              f"RSS total {r['rss_total_mib']} MiB {r['rss_mib']}")
    Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
