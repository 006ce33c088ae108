#!/usr/bin/env bash
# One command: install (first run) and start the service on http://localhost:1416 with the embedded
# default (in-memory store; extractive answers unless OPENAI_API_KEY is set). When the index is empty,
# it indexes PRESS_RELEASES_DIR (default data/press-releases/) in the background.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pressqa-serve
