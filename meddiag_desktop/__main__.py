"""``python -m meddiag_desktop``."""

import sys

from meddiag_desktop.cli import main

sys.exit(main())
