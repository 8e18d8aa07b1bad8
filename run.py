#!/usr/bin/env python3
"""Bootstrap with nothing but python3: `python3 run.py demo`, `python3 run.py test` or `python3 run.py bundle`.

Creates ./.venv, installs the project (and the dev extra for tests), installs the Debian
packages the tests need when they are missing, then opens the demo or runs every check.
`bundle` builds the one-folder app dist/meddiag-desktop/ with PyInstaller and smoke-tests it;
`test` does the same after the test suite.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"


def venv_bin_dir(venv: Path, platform: str = sys.platform) -> Path:
    """Where a venv keeps its programs: ``Scripts`` on Windows, ``bin`` everywhere else."""
    return venv / ("Scripts" if platform == "win32" else "bin")


def venv_program(venv: Path, name: str, platform: str = sys.platform) -> Path:
    """A program of the venv (``python``, ``ruff``, ...), with ``.exe`` on Windows."""
    return venv_bin_dir(venv, platform) / (f"{name}.exe" if platform == "win32" else name)


PYTHON = venv_program(VENV, "python")
DEMO = ROOT / "resources" / "demo"
BUNDLE = ROOT / "dist" / "meddiag-desktop"


def sh(*args: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=check, env=env).returncode


def ensure_venv(extra: str) -> None:
    if not PYTHON.exists():
        sh(sys.executable, "-m", "venv", VENV)
    stamp = VENV / f".installed-{extra or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extra}]" if extra else "."
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--editable", target)
    stamp.write_text(digest)


def local_torch_wheel() -> Path | None:
    """The CPU build of torch on this machine's disk, if any (a registry torch is a multi-GB CUDA build)."""
    for folder in (Path("/opt/wheels"), *(Path(p) for p in os.environ.get("PIP_FIND_LINKS", "").split() if p)):
        found = sorted(folder.glob("torch-2.13.0+cpu-*.whl")) if folder.is_dir() else []
        if found:
            return found[-1]
    return None


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def demo() -> int:
    ensure_venv("")
    app = [PYTHON, "-m", "meddiag_desktop"]
    if has_display():
        return sh(*app, DEMO, check=False)
    shot = ROOT / "demo-screenshot.png"
    print("No display here: opening the app offscreen on the demo study and saving a screenshot.")
    code = sh(*app, DEMO, "--offscreen", "--screenshot", shot, check=False)
    if code == 0:
        print(f"Screenshot of the app on the demo study: {shot}")
    print("Headless summary of the demo study:")
    return sh(*app, "scan", DEMO, check=False) or code


def build_and_check_bundle() -> int:
    """PyInstaller one-folder app in dist/meddiag-desktop/ (packaging/meddiag-desktop.spec), then its smoke tests."""
    started = time.monotonic()
    spec = ROOT / "packaging" / "meddiag-desktop.spec"
    work = ROOT / "build" / "pyinstaller"
    pyinstaller = (PYTHON, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN")
    code = sh(*pyinstaller, "--distpath", BUNDLE.parent, "--workpath", work, spec, check=False)
    if code == 0:
        env = {**os.environ, "MEDDIAG_BUNDLE": str(BUNDLE), "QT_QPA_PLATFORM": "offscreen"}
        smoke = ROOT / "tests" / "packaging" / "test_bundle_smoke.py"
        code = sh(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", smoke, check=False, env=env)
    state = "built and checked" if code == 0 else "FAILED"
    print(f"bundle {BUNDLE}: {state} in {time.monotonic() - started:.0f} s", flush=True)
    return code


def bundle() -> int:
    ensure_venv("dev,bundle")
    if sys.platform.startswith("linux"):
        sh("bash", ROOT / "packaging" / "ensure_system_packages.sh", check=False)
    return build_and_check_bundle()


def test() -> int:
    wheel = local_torch_wheel()
    ensure_venv("dev,training,bundle" if wheel else "dev,bundle")
    if wheel is None:
        print("No local CPU torch wheel: the training tests will skip (torch is a training extra only).")
    if sys.platform.startswith("linux"):  # Debian packages; elsewhere the wheels must do
        sh("bash", ROOT / "packaging" / "ensure_system_packages.sh", check=False)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    checks = [
        (
            venv_program(VENV, "ruff"),
            "check",
            *[p for p in ("meddiag_desktop", "tests", "bench", "training", "run.py") if (ROOT / p).exists()],
        ),
        (venv_program(VENV, "mypy"), "--strict", "meddiag_desktop"),
        (venv_program(VENV, "lint-imports"),),
    ]
    failed = [c[0].name for c in checks if sh(*c, check=False, env=env) != 0]
    code = sh(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", check=False, env=env)
    if code == 5:
        print("pytest collected no tests")
    if build_and_check_bundle() != 0:
        failed.append("bundle")
    if failed:
        print("failed checks:", ", ".join(failed))
    return 1 if failed or code != 0 else 0


def main() -> int:
    commands = {"demo": demo, "test": test, "bundle": bundle}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]]()


if __name__ == "__main__":
    sys.exit(main())
