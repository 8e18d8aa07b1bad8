"""``run.py`` (the bootstrap script) finds the venv's programs in the Windows and the POSIX layout."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

RUN_PY = Path(__file__).resolve().parents[1] / "run.py"


@pytest.fixture(scope="module")
def run_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("meddiag_run_script", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines functions only: main() runs under __main__
    return module


@pytest.mark.parametrize(
    ("platform", "python", "ruff"),
    [
        ("win32", Path("Scripts/python.exe"), Path("Scripts/ruff.exe")),
        ("linux", Path("bin/python"), Path("bin/ruff")),
        ("darwin", Path("bin/python"), Path("bin/ruff")),
    ],
)
def test_venv_programs_follow_the_platform_layout(
    run_script: ModuleType, tmp_path: Path, platform: str, python: Path, ruff: Path
) -> None:
    venv = tmp_path / ".venv"
    assert run_script.venv_program(venv, "python", platform) == venv / python
    assert run_script.venv_program(venv, "ruff", platform) == venv / ruff


def test_this_machine_uses_the_venv_python_that_exists(run_script: ModuleType) -> None:
    if run_script.VENV.is_dir():
        assert run_script.PYTHON.exists(), f"{run_script.PYTHON} is not the python of {run_script.VENV}"
