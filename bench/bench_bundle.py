"""Size and start-up time of the frozen app, against the same commands run from the venv in the same run.

Run after ``python3 run.py bundle``: ``.venv/bin/python bench/bench_bundle.py [--runs 5]``.
Each command runs from a fresh temporary folder with fresh user folders; the median of the runs is
printed with its ratio to the venv's (the peer: the same code, not frozen).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "meddiag-desktop"
FROZEN = BUNDLE / ("meddiag-desktop.exe" if sys.platform == "win32" else "meddiag-desktop")
VENV_APP = (sys.executable, "-m", "meddiag_desktop")
FROZEN_DEMO = BUNDLE / "_internal" / "meddiag_desktop_resources" / "demo"
SOURCE_DEMO = ROOT / "resources" / "demo"


def folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def timed(command: list[str]) -> float:
    """Wall time of one run, in fresh user folders; raises if the command fails."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env |= {f"MEDDIAG_{k}_DIR": str(Path(tmp) / k.lower()) for k in ("DATA", "CONFIG", "LOG")}
        env |= {"QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        started = time.perf_counter()
        subprocess.run(command, cwd=tmp, env=env, check=True, capture_output=True)
        return time.perf_counter() - started


def median_time(command: list[str], runs: int) -> float:
    return statistics.median(timed(command) for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    if not FROZEN.is_file():
        print(f"no bundle at {BUNDLE}: run `python3 run.py bundle` first", file=sys.stderr)
        return 2
    print(f"bundle {BUNDLE}: {folder_size_mb(BUNDLE):.0f} MB on disk "
          f"({folder_size_mb(BUNDLE / '_internal' / 'SimpleITK'):.0f} MB of it SimpleITK)")  # fmt: skip
    cases = {
        "--version (process start)": (["--version"], ["--version"]),
        "scan demo (headless, imports pydicom)": (["scan", str(FROZEN_DEMO)], ["scan", str(SOURCE_DEMO)]),
        "GUI: demo on screen, screenshot, quit": (
            [str(FROZEN_DEMO), "--offscreen", "--screenshot", "shot.png"],
            [str(SOURCE_DEMO), "--offscreen", "--screenshot", "shot.png"],
        ),
    }
    print(f"{'median of ' + str(runs) + ' runs':40} {'frozen s':>9} {'venv s':>9} {'frozen/venv':>12}")
    for name, (frozen_args, venv_args) in cases.items():
        frozen = median_time([str(FROZEN), *frozen_args], runs)
        venv = median_time([*VENV_APP, *venv_args], runs)
        print(f"{name:40} {frozen:9.2f} {venv:9.2f} {frozen / venv:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
