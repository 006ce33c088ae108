"""`python scripts/bench_growth.py …`: how cost grows: the service on 1x, 4x and 16x the corpus, embedded and on OpenSearch, measured and drawn (issue #23). The code is scripts/benchmarks/growth/."""

import sys

from scripts.benchmarks.growth.run import main

if __name__ == "__main__":
    sys.exit(main())
