"""Helpers for the review tests: fixture models (tiny ONNX graphs) and opening the demo series."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))

from inference_fixtures import base_manifest, chest_volume, write_model

from meddiag_desktop.ui.browser.snapshot import image_series

__all__ = ["chest_volume", "fixture_models", "open_demo_series", "settle", "wait_saved", "write_model"]

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
    settle(qtbot, window)  # a stored review of the series is restored by the store writer
    return uid


def settle(qtbot: QtBot, window: MainWindow, timeout: int = 30000) -> None:
    """Wait until the review store writer has stored (and the GUI shown) every queued review action."""
    qtbot.waitUntil(lambda: window.review.review.saving == 0, timeout=timeout)


def wait_saved(window: MainWindow, timeout_s: float = 30.0) -> None:
    """``settle`` for helpers without a qtbot: run the event loop until the writer has reported every action."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while window.review.review.saving and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.005)
    assert not window.review.review.saving, "review actions are still waiting for the review store"
