"""`python scripts/llm_standin.py …`: the LLM STAND-IN: an OpenAI-compatible server with a fixed schedule (not a real LLM). The code is scripts/benchmarks/llm_standin.py."""

import sys

from scripts.benchmarks.llm_standin import main

if __name__ == "__main__":
    sys.exit(main())
