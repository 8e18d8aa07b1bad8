"""``python -m meddiag_desktop``."""

import sys

from meddiag_desktop.cli import main

# Guarded: decoder worker processes (forkserver or spawn) re-import the main module.
if __name__ == "__main__":
    sys.exit(main())
