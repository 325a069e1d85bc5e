"""``python -m cpesim``: see `cpesim.cli`."""

import sys

from cpesim.cli import main

if __name__ == "__main__":
    sys.exit(main())
