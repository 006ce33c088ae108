"""`python scripts/bench.py …`: the load benchmark: requests per second and latency of search, ask and stream under parallel clients. The code is scripts/benchmarks/bench.py."""

import sys

from scripts.benchmarks.bench import main

if __name__ == "__main__":
    sys.exit(main())
