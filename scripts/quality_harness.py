"""`python scripts/quality_harness.py …`: search.yml and extract.yml in process over the persisted index, scored on an eval set. The code is scripts/evaluation/quality_harness.py."""

import sys

from scripts.evaluation.quality_harness import main

if __name__ == "__main__":
    sys.exit(main())
