#!/usr/bin/env bash
# One command: install what the tests need and run them all (unit, end-to-end over the real corpus,
# browser). The corpus comes from PRESS_RELEASES_DIR (default ../shared/telekom-press-releases).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export PRESS_RELEASES_DIR=${PRESS_RELEASES_DIR:-$(cd .. && pwd)/shared/telekom-press-releases}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
