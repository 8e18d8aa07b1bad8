"""A regular wheel, installed into a fresh venv, ships the models and the demo and analyses the demo.

The fresh venv holds only the wheel; its dependencies come from this venv through a ``.pth`` line
(lines of a ``.pth`` add folders but do not run that folder's own ``.pth`` files, so the editable
install of the source tree stays out). Everything runs from a temporary folder, not the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from meddiag_desktop.inference.manifest import load_manifest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "meddiag_desktop", "models", "resources")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _build_wheel(tmp: Path) -> Path:
    """From a copy of the sources: setuptools reuses a stale build/ folder in the checkout."""
    source = tmp / "source"
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(src, source / name)
    offline = ("--quiet", "--no-deps", "--no-build-isolation", "--no-index")
    _run(sys.executable, "-m", "pip", "wheel", *offline, "-w", tmp / "dist", source, cwd=tmp)
    [wheel] = (tmp / "dist").glob("meddiag_desktop-*.whl")
    return wheel


def _venv_program(venv: Path, name: str) -> Path:
    if sys.platform == "win32":
        return venv / "Scripts" / f"{name}.exe"
    return venv / "bin" / name


def _install_in_fresh_venv(wheel: Path, venv: Path) -> Path:
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv.parent)
    python = _venv_program(venv, "python")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel,
         cwd=venv.parent)  # fmt: skip
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv.parent)
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib.stdout.strip()) / "dev-dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(venv, its python) with the freshly built wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    return venv, _install_in_fresh_venv(_build_wheel(tmp), venv)


def _shipped_folders(python: Path, cwd: Path) -> tuple[Path, Path]:
    """(models, demo) as the installed app locates them."""
    code = "from meddiag_desktop.config import demo_dir, shipped_models_dir as m; print(m()); print(demo_dir())"
    models, demo = _run(python, "-c", code, cwd=cwd).stdout.split("\n")[:2]
    return Path(models), Path(demo)


def test_the_wheel_locates_its_models_and_demo_inside_the_venv(installed: tuple[Path, Path], tmp_path: Path) -> None:
    venv, python = installed
    models, demo = _shipped_folders(python, tmp_path)
    assert models.is_relative_to(venv) and demo.is_relative_to(venv)
    assert {p.parent.name for p in models.glob("*/manifest.json")} >= {"lung-lesion-cls", "lung-nodule-seg"}
    assert len(list(demo.glob("*/*.dcm"))) == 64


def test_the_installed_app_analyses_the_shipped_demo_with_verified_models(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    venv, python = installed
    models, demo = _shipped_folders(python, tmp_path)
    app = _venv_program(venv, "meddiag-desktop")
    _run(app, "analyze", demo, "--threads", "2", "--json", tmp_path / "result.json", cwd=tmp_path)
    provenance = json.loads((tmp_path / "result.json").read_text())["provenance"]["models"]
    for model in provenance:
        manifest = load_manifest(models / model["id"])
        assert (model["source"], model["sha256"]) == ("builtin", manifest.files)
    assert {m["id"] for m in provenance} == {"lung-nodule-seg", "lung-lesion-cls"}
