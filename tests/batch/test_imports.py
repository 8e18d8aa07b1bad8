"""The interactive app never loads dask.distributed; the batch code reaches it only when a batch runs."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import sys
import meddiag_desktop.app, meddiag_desktop.ui.main_window
from meddiag_desktop import cli
cli._command_parser().parse_args(["batch", "x", "--workers", "2"])
import meddiag_desktop.batch.run, meddiag_desktop.batch.console, meddiag_desktop.batch.validate
print(sorted(m for m in sys.modules if m.split(".")[0] in ("distributed", "dask")))
"""


def test_the_app_and_the_command_line_do_not_import_distributed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", **os.environ},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
