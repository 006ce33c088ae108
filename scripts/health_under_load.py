"""`python scripts/health_under_load.py …`: /health's latency and the 503 refusals under concurrent searches. The code is scripts/benchmarks/health_under_load.py."""

import sys

from scripts.benchmarks.health_under_load import main

if __name__ == "__main__":
    sys.exit(main())
