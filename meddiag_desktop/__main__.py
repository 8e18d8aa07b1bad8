"""``python -m meddiag_desktop``, and the entry script of the frozen app (packaging/meddiag-desktop.spec)."""

import multiprocessing
import sys

# Guarded: decoder worker processes (forkserver or spawn) re-import the main module.
if __name__ == "__main__":
    # A frozen app starts its decoder and forkserver processes by running this executable again;
    # freeze_support() turns such a start into that process (and exits) before any app code runs.
    multiprocessing.freeze_support()
    from meddiag_desktop.cli import main

    sys.exit(main())
