#!/usr/bin/env bash
# One command: install (first run) and start the service on http://localhost:1416 with the embedded
# default (in-memory store; extractive answers unless OPENAI_API_KEY is set), PRESSQA_WORKERS worker
# processes (default: one per core) on one index. It indexes in the background what is missing or
# changed in PRESS_RELEASES_DIR (default data/press-releases/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pressqa-serve
