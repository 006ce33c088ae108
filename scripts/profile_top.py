"""`python scripts/profile_top.py …`: where a running service spends its time, from py-spy samples. The code is scripts/benchmarks/profile_top.py."""

import sys

from scripts.benchmarks.profile_top import main

if __name__ == "__main__":
    sys.exit(main())
