"""Helpers for the review tests: fixture models (tiny ONNX graphs) and opening the demo series."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))

from inference_fixtures import base_manifest, chest_volume, write_model

from meddiag_desktop.ui.browser.snapshot import image_series

__all__ = ["chest_volume", "fixture_models", "open_demo_series", "write_model"]

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from meddiag_desktop.ui.main_window import MainWindow


def fixture_models(root: Path) -> Path:
    """Segmentation + classification fixtures, coarse enough to run on the demo CT in ~2 s."""
    seg = base_manifest("lung-nodule-seg", "segmentation")
    seg["input"].update({"spacing_mm": [5.0, 3.0, 3.0], "patch_size": [16, 64, 64], "overlap": 0.0})
    seg["postprocess"]["min_volume_ml"] = 0.1  # the lung region hugs the lungs closely
    write_model(root, "lung-nodule-seg", "segmentation", seg)
    write_model(root, "lung-lesion-cls", "classification")
    return root


def open_demo_series(qtbot: QtBot, window: MainWindow, folder: Path) -> str:
    with qtbot.waitSignal(window.studies.scan_finished, timeout=30000):
        window.open_path(folder)
    uid = image_series(window.studies.snapshot)[0].series_instance_uid
    with qtbot.waitSignal(window.series.loaded, timeout=30000):
        window.series.open(uid)
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)
    return uid
