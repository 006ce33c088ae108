"""`python scripts/persistence_formats.py INDEX …`: four ways to persist the embedded index (a JSON file rewritten whole, an append-only log, segment files, SQLite), measured against each other on the same chunks. The code is scripts/benchmarks/persistence_formats.py."""

import sys

from scripts.benchmarks.persistence_formats import main

if __name__ == "__main__":
    sys.exit(main())
