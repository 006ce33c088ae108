"""`python scripts/soak.py …`: the soak test: steady load for minutes, errors and memory over time. The code is scripts/benchmarks/soak.py."""

import sys

from scripts.benchmarks.soak import main

if __name__ == "__main__":
    sys.exit(main())
