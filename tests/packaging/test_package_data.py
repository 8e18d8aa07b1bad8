"""The models and the demo are package data, located with importlib.resources, and the package list is complete."""

from __future__ import annotations

import importlib.resources
import logging
import tomllib
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest
from setuptools import find_packages

from meddiag_desktop import config
from meddiag_desktop.config import MODELS_PACKAGE, RESOURCES_PACKAGE, Settings, demo_dir, shipped_models_dir
from meddiag_desktop.inference.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_models_and_demo_are_found_through_their_packages() -> None:
    assert shipped_models_dir() == Path(str(importlib.resources.files(MODELS_PACKAGE)))
    assert demo_dir() == Path(str(importlib.resources.files(RESOURCES_PACKAGE))) / "demo"
    assert Settings().builtin_models_dir == shipped_models_dir()
    assert len(list(demo_dir().glob("*/*.dcm"))) == 64


def test_every_shipped_model_passes_its_sha256_check() -> None:
    registry = ModelRegistry(shipped_models_dir())
    entries = registry.list_models()
    assert {e.model_id for e in entries} >= {"lung-nodule-seg", "lung-lesion-cls"}
    for entry in entries:
        assert registry.verify(entry.model_id).source == "builtin"


def test_an_uninstalled_source_checkout_falls_back_to_its_own_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(package: str) -> None:
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(importlib.resources, "files", not_installed)
    assert shipped_models_dir() == config.PROJECT_ROOT / "models"
    assert demo_dir() == config.PROJECT_ROOT / "resources" / "demo"


def test_data_that_is_not_a_folder_on_disk_is_not_used_and_said_in_the_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A zipped install (or a bundle built without the package) gives no folder for onnxruntime to read."""
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("meddiag_desktop_models/lung-nodule-seg/manifest.json", "{}")
    monkeypatch.setattr(importlib.resources, "files", lambda package: zipfile.Path(archive, f"{package}/"))
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "not-installed")
    with caplog.at_level(logging.ERROR, logger="meddiag_desktop.config"):
        assert shipped_models_dir() == tmp_path / "not-installed" / "models"
    assert "models are not a folder on disk" in caplog.text


def test_the_package_list_names_every_package_of_the_app() -> None:
    """`packages` is explicit (find cannot rename models/): a new sub-package must be added there."""
    expected = set(find_packages(str(REPO), include=["meddiag_desktop", "meddiag_desktop.*"]))
    assert set(SETUPTOOLS["packages"]) == expected | {MODELS_PACKAGE, RESOURCES_PACKAGE}
    assert SETUPTOOLS["package-dir"] == {MODELS_PACKAGE: "models", RESOURCES_PACKAGE: "resources"}


@pytest.mark.parametrize(("package", "folder"), [(MODELS_PACKAGE, "models"), (RESOURCES_PACKAGE, "resources")])
def test_package_data_globs_cover_every_shipped_file(package: str, folder: str) -> None:
    globs = SETUPTOOLS["package-data"][package]
    root = REPO / folder
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and _is_data(p)]
    assert files
    missed = [f for f in files if not any(fnmatch(f, g) and f.count("/") == g.count("/") for g in globs)]
    assert not missed, f"not shipped in a wheel or bundle: {missed}"


def _is_data(path: Path) -> bool:
    return "__pycache__" not in path.parts and path.suffix not in (".py", ".pyc")
