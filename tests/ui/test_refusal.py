"""After the AI is refused on a series, the AI panel says why and Run AI stays off for that series.

Issue 11 ("Review flow"). The bundled demo CT (never skipped), and a copy of it relabelled as MR
(another series of the same study): the MR is refused outright (a hard issue); the CT, with a
fixture model whose accepted pixel spacing leaves it out of range, asks for an override reason,
which the radiologist declines.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pydicom
import pytest
from pydicom.uid import MRImageStorage, generate_uid
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from review_helpers import base_manifest, fixture_models, open_demo_series, write_model

from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.dialogs.ood_dialog import OodOverrideDialog
from meddiag_desktop.ui.main_window import MainWindow

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings

WRONG_MODALITY = "The series is MR; the AI (lung-nodule-seg, lung-lesion-cls) is for CT only."


def out_of_range_models(root: Path, **seg_changes: Any) -> Path:
    seg = base_manifest("lung-nodule-seg", "segmentation")
    seg["input"].update({"spacing_mm": [5.0, 3.0, 3.0], "patch_size": [16, 64, 64], "overlap": 0.0})
    seg.update(seg_changes)
    write_model(root, "lung-nodule-seg", "segmentation", seg)
    write_model(root, "lung-lesion-cls", "classification")
    return root


@pytest.fixture
def two_series(tmp_path: Path, demo_folder: Path) -> Path:
    """The demo and a copy of it relabelled as an MR series of the same study (pixels untouched)."""
    folder = tmp_path / "studies"
    copy, uid = folder / "mr", generate_uid()
    copy.mkdir(parents=True)
    for source in sorted(demo_folder.rglob("*.dcm")):
        ds = pydicom.dcmread(source)
        ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "MR", uid, 99
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "KVP"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(copy / source.name)
        (folder / "demo").mkdir(exist_ok=True)
        (folder / "demo" / source.name).write_bytes(source.read_bytes())
    return folder


def _window(qtbot: QtBot, settings: Settings, models: Path) -> MainWindow:
    main = MainWindow(replace(settings, builtin_models_dir=models, inference_threads=1))
    main.resize(1600, 900)
    main.show()
    qtbot.waitExposed(main)
    return main


@pytest.fixture
def windows(qtbot: QtBot) -> Iterator[list[MainWindow]]:
    opened: list[MainWindow] = []
    yield opened
    for window in opened:
        window.close()


def _press_run(qtbot: QtBot, window: MainWindow, done: Callable[[], bool]) -> None:
    window.review.panel.run_button.click()
    qtbot.waitUntil(lambda: done() and not window.review.analysis.busy, timeout=30000)


def _show(qtbot: QtBot, window: MainWindow, uid: str) -> None:
    with qtbot.waitSignal(window.series.loaded, timeout=30000):
        window.series.open(uid)
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)


def test_a_refused_series_says_why_and_keeps_run_ai_off_until_another_series_is_shown(
    qtbot: QtBot, settings: Settings, tmp_path: Path, two_series: Path, windows: list[MainWindow]
) -> None:
    window = _window(qtbot, settings, fixture_models(tmp_path / "models"))
    windows.append(window)
    ct = open_demo_series(qtbot, window, two_series)
    first = next(s.series_instance_uid for s in image_series(window.studies.snapshot) if s.modality == "MR")
    _show(qtbot, window, first)
    screen, panel = window.review, window.review.panel
    assert panel.run_button.isEnabled()
    _press_run(qtbot, window, lambda: bool(screen.analysis.refusal(first)))

    assert WRONG_MODALITY in panel.status.text() and "Run AI is off until another series is shown" in (
        panel.status.text()
    )
    assert "press Run AI" not in panel.status.text()
    assert not panel.run_button.isEnabled() and WRONG_MODALITY in panel.run_button.toolTip()
    assert any(WRONG_MODALITY in m for m in window.notes.shown_messages())
    window.review_actions["run"].trigger()  # the key cannot start it either; it says why
    assert not screen.analysis.busy and screen.review.state is None
    assert WRONG_MODALITY in window.notes.shown_messages()[0]

    _show(qtbot, window, ct)
    assert panel.run_button.isEnabled() and WRONG_MODALITY not in panel.status.text()
    assert not any(WRONG_MODALITY in m for m in window.notes.shown_messages())  # the messages stay with their series
    assert any(WRONG_MODALITY in m for m in window.notes.messages())
    _show(qtbot, window, first)
    assert any(WRONG_MODALITY in m for m in window.notes.shown_messages())
    assert panel.run_button.isEnabled()  # shown anew: the check runs again when asked


def test_declining_an_override_says_why_and_keeps_run_ai_off(
    qtbot: QtBot, settings: Settings, tmp_path: Path, two_series: Path, windows: list[MainWindow]
) -> None:
    ranges = {"slice_thickness_mm": [1.0, 10.0], "pixel_spacing_mm": [0.1, 0.2], "kvp": None}
    window = _window(qtbot, settings, out_of_range_models(tmp_path / "models", acceptable_ranges=ranges))
    windows.append(window)
    first = open_demo_series(qtbot, window, two_series)
    screen, panel = window.review, window.review.panel
    timer = QTimer(interval=30)

    def decline() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, OodOverrideDialog):
            timer.stop()
            dialog.reject()

    timer.timeout.connect(decline)
    timer.start()
    _press_run(qtbot, window, lambda: bool(screen.analysis.refusal(first)))
    timer.stop()
    assert "outside the range the AI was validated for" in panel.status.text()
    assert "no reason was given" in panel.status.text() and not panel.run_button.isEnabled()
    assert screen.review.state is None
    assert window.notes.shown_messages()[0].endswith("AI not run: the series is outside the models' validated range.")
