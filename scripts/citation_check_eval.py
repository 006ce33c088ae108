"""`python scripts/citation_check_eval.py …`: how many wrong citations of the LLM stand-in the citation check catches. The code is scripts/evaluation/citation_check_eval.py."""

import sys

from scripts.evaluation.citation_check_eval import main

if __name__ == "__main__":
    sys.exit(main())
