"""`python scripts/measure_workers.py …`: throughput and memory of the service with 1 and 2 worker processes. The code is scripts/benchmarks/measure_workers.py."""

import sys

from scripts.benchmarks.measure_workers import main

if __name__ == "__main__":
    sys.exit(main())
