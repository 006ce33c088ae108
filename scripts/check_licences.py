"""`python scripts/check_licences.py …`: the licence of every installed dependency and of the model: commercial use allowed?. The code is scripts/install/check_licences.py."""

import sys

from scripts.install.check_licences import main

if __name__ == "__main__":
    sys.exit(main())
