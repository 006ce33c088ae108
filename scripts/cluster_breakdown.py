"""`python scripts/cluster_breakdown.py INDEX …`: where one search's time goes on the cluster path (engine, round trip, client, retriever, pipeline; 1 vs 3 shards), one client. The code is scripts/benchmarks/cluster_breakdown.py."""

import sys

from scripts.benchmarks.cluster_breakdown import main

if __name__ == "__main__":
    sys.exit(main())
