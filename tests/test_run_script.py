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


def _fake_shell(monkeypatch: pytest.MonkeyPatch, run_script: ModuleType, failing: str) -> list[str]:
    """Record each command `run.py` would run; the one whose text contains ``failing`` exits 1."""
    calls: list[str] = []

    def sh(*args: object, check: bool = True, env: dict[str, str] | None = None) -> int:
        calls.append(" ".join(str(a) for a in args))
        return 1 if failing and failing in calls[-1] else 0

    monkeypatch.setattr(run_script, "sh", sh)
    monkeypatch.setattr(run_script, "ensure_venv", lambda extra: calls.append(f"ensure_venv {extra}"))
    return calls


def test_the_test_command_builds_and_smokes_the_bundle_after_the_suite(
    run_script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_shell(monkeypatch, run_script, failing="")
    assert run_script.test() == 0
    suite = next(i for i, c in enumerate(calls) if c.endswith("pytest -q -p no:cacheprovider"))
    build = next(i for i, c in enumerate(calls) if "PyInstaller" in c and "meddiag-desktop.spec" in c)
    smoke = next(i for i, c in enumerate(calls) if "test_bundle_smoke.py" in c)
    assert suite < build < smoke
    assert "bundle" in calls[0]


@pytest.mark.parametrize("failing", ["PyInstaller", "test_bundle_smoke.py"])
def test_a_failed_bundle_build_or_smoke_fails_the_test_command(
    run_script: ModuleType, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    _fake_shell(monkeypatch, run_script, failing)
    assert run_script.test() == 1
    assert run_script.bundle() == 1
