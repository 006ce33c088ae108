"""`python scripts/compare_backends.py …`: the ONNX and PyTorch embedding backends side by side: retrieval and speed. The code is scripts/benchmarks/compare_backends.py."""

import sys

from scripts.benchmarks.compare_backends import main

if __name__ == "__main__":
    sys.exit(main())
