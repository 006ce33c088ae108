"""The growth benchmark's curves and figures: `results.json` drawn into docs/scaling-growth.png and summed up in
docs/scaling-growth.json (what docs/scaling.md quotes, with the persistence formats' and the cluster breakdown's
JSON when the cache folder holds them; the per-question lists and per-batch lines stay in the cache's
results.json).

    python -m scripts.benchmarks.growth.report [RESULTS.json ...]    # default: .cache/growth/results.json

Several results files (e.g. the embedded run and a cluster run kept in another cache folder) are read as one:
a step found in more than one comes from the last file that has it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import median
from typing import Any

from scripts.measure_common import REPO_ROOT

DOCS = REPO_ROOT / "docs"
PNG = DOCS / "scaling-growth.png"
SUMMARY = DOCS / "scaling-growth.json"
STORES = {"inmemory": ("embedded store", "tab:blue"), "opensearch": ("OpenSearch, 3 nodes", "tab:orange")}


def load(paths: list[Path]) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    meta: list[Any] = []
    for path in paths:
        data = json.loads(path.read_text())
        steps.update(data["steps"])
        meta.append(data.get("meta"))
    return {"steps": steps, "meta": meta}


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """Per store and size: the figures docs/scaling.md quotes."""
    out: dict[str, Any] = {}
    for name, step in sorted(data["steps"].items()):
        store, size, kind = name.split("/")
        entry = out.setdefault(store, {}).setdefault(size, {})
        if kind == "index":
            batches = step.get("batches") or []
            per_release = [b["seconds"] / b["files"] for b in batches if b.get("files") and not b.get("paused")]
            entry["index"] = {k: step.get(k) for k in ("releases", "chunks", "seconds", "seconds_all", "size_on_disk_bytes",
                                                       "made_from", "made_by", "partial")}
            if per_release:
                entry["index"]["seconds_per_release_median"] = round(median(per_release), 3)
                entry["index"]["seconds_per_release_last_5_batches"] = round(median(per_release[-5:]), 3)
            writer = [b["stages_ms"]["writer"] / b["files"] for b in batches if b.get("stages_ms") and b.get("files")]
            if writer:
                entry["index"]["writer_ms_per_release_median"] = round(median(writer), 1)
        elif kind == "add_one":
            entry["add_one"] = {k: v for k, v in step.items() if k != "runs"}
            entry["add_one"]["chunks_in_index"] = step["runs"][0].get("documents") if step.get("runs") else None
        elif kind == "serve":
            entry["serve"] = {
                "chunks": step.get("chunks"),
                "start_to_first_answer_s": step["start_to_first_answer_s"],
                "memory_per_worker_mib": step["memory_after_load_mib"]["per_worker"],
                "memory_all_processes_mib": step["memory_after_load_mib"]["all_processes"],
                **{f"{target}_{load}": {k: step[f"{target}_{load}"].get(k) for k in ("p50_ms", "p95_ms", "throughput_rps", "errors")}
                   for target in ("search", "ask") for load in ("1_client", "10_clients") if f"{target}_{load}" in step},
                "search_stages_p50_ms": step["search_1_client"].get("stages_p50_ms"),
                "dev_set": {k: step["dev_set"][k] for k in ("questions", "passage@5", "real_passage@5", "real_found")},
            }
        entry["finished"] = max(entry.get("finished", ""), step.get("finished", ""))
    return out


def _chunks(sizes: dict[str, Any], size: str) -> int | None:
    entry = sizes[size]
    return (entry.get("serve") or {}).get("chunks") or (entry.get("index") or {}).get("chunks")


def draw(data: dict[str, Any], figures: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    (ax_index, ax_search), (ax_add, ax_start) = axes
    for store, (label, colour) in STORES.items():
        steps = {k: v for k, v in data["steps"].items() if k.startswith(store + "/")}
        # indexing: seconds per release of each batch against the chunks already in the index
        xs, ys, ws = [], [], []
        for name in sorted((k for k in steps if k.endswith("/index")), key=lambda k: int(k.split("/")[1][:-1])):
            for batch in steps[name].get("batches") or []:
                if batch.get("files") and not batch.get("paused"):
                    xs.append(batch["documents"])
                    ys.append(batch["seconds"] / batch["files"])
        if xs:
            ax_index.scatter(xs, ys, s=8, color=colour, label=f"{label}: whole pipeline")
        for name in steps:
            for batch in steps[name].get("batches") or [] if name.endswith("/index") else []:
                if batch.get("stages_ms") and batch.get("files"):
                    ws.append((batch["documents"], batch["stages_ms"]["writer"] / batch["files"] / 1000))
        if ws:
            ax_index.scatter(*zip(*ws), s=8, marker="x", color=colour, alpha=0.6, label=f"{label}: writer only")
        sizes = figures.get(store, {})
        order = sorted(sizes, key=lambda s: int(s[:-1]))
        served = [s for s in order if "serve" in sizes[s]]
        if served:
            chunks = [_chunks(sizes, s) for s in served]
            for key, style in (("p50_ms", "-o"), ("p95_ms", ":o")):
                ax_search.plot(chunks, [sizes[s]["serve"]["search_1_client"][key] for s in served], style, color=colour,
                               label=f"{label}: search {key[:3]}, 1 client")
            ax_start.plot(chunks, [sizes[s]["serve"]["start_to_first_answer_s"] for s in served], "-o", color=colour,
                          label=f"{label}: start to first answer (s)")
            ax_start.plot(chunks, [max(sizes[s]["serve"]["memory_per_worker_mib"]) / 100 for s in served], "--s",
                          color=colour, label=f"{label}: memory per worker (100 MiB)")
            for s, x in zip(served, chunks):
                ax_search.annotate(s, (x, sizes[s]["serve"]["search_1_client"]["p50_ms"]), fontsize=8)
        added = [s for s in order if "add_one" in sizes[s]]
        if added:
            chunks = [sizes[s]["add_one"].get("chunks_in_index") or _chunks(sizes, s) for s in added]
            ax_add.plot(chunks, [sizes[s]["add_one"]["seconds_median"] for s in added], "-o", color=colour,
                        label=f"{label}: whole pipeline")
            if all("write_ms_median" in sizes[s]["add_one"] for s in added):
                ax_add.plot(chunks, [sizes[s]["add_one"]["write_ms_median"] / 1000 for s in added], "--s", color=colour,
                            label=f"{label}: file write (persist)")
            writer = [sizes[s]["add_one"].get("writer_ms_median") for s in added]
            if all(w is not None for w in writer):
                ax_add.plot(chunks, [w / 1000 for w in writer], ":^", color=colour, label=f"{label}: writer component")
    ax_index.set(title="Indexing: seconds per release, per batch of 32", xlabel="chunks in the index", ylabel="s / release")
    ax_search.set(title="Search latency, one client", xlabel="chunks in the index", ylabel="ms")
    ax_add.set(title="One release added to the full index (median of 5)", xlabel="chunks in the index", ylabel="s")
    ax_add.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax_start.set(title="Start to first answer; memory per worker", xlabel="chunks in the index")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle("How cost grows (scripts/bench_growth.py; shared 2-core machine, timings noisy)", fontsize=11)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=90)
    plt.close(fig)


def write(*results: Path) -> dict[str, Any]:
    data = load(list(results))
    figures = summary(data)
    out: dict[str, Any] = {"runs": data["meta"], "figures": figures}
    for name, key in (("persistence-formats.json", "persistence_formats"), ("breakdown.json", "cluster_breakdown")):
        found = [r.parent / name for r in results if (r.parent / name).exists()]  # scripts/persistence_formats.py, cluster_breakdown.py --out
        if found:
            out[key] = json.loads(found[-1].read_text())
    loads = [json.loads(line) for r in results if (r.parent / "load.jsonl").exists()
             for line in (r.parent / "load.jsonl").read_text().splitlines() if line.strip()]  # index_job load
    if loads:
        out["store_load"] = loads
    SUMMARY.write_text(json.dumps(out, indent=1) + "\n")
    draw(data, figures, PNG)
    print(f"curves in {PNG}, figures in {SUMMARY}")
    return figures


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    write(*([Path(a) for a in args] or [REPO_ROOT / ".cache" / "growth" / "results.json"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
