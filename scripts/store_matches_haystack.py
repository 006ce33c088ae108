"""`python scripts/store_matches_haystack.py …`: the embedded store's scores and order against Haystack's InMemoryDocumentStore. The code is scripts/benchmarks/store_matches_haystack.py."""

import sys

from scripts.benchmarks.store_matches_haystack import main

if __name__ == "__main__":
    sys.exit(main())
