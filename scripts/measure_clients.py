"""`python scripts/measure_clients.py …`: time to an answer through each client (REST, chat, MCP). The code is scripts/benchmarks/measure_clients.py."""

import sys

from scripts.benchmarks.measure_clients import main

if __name__ == "__main__":
    sys.exit(main())
