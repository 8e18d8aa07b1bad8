"""Existing results in the whole window: listed in the browser, toggled as outlines, SR rows that jump.

Generated objects on the bundled demo CT (never skipped) and the real NSCLC structure set (skipped
without ../shared). Pixels are read from the rendered view (``QWidget.grab``), as a user sees them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from meddiag_desktop.core.export_model import ObjectKind as ExportKind
from meddiag_desktop.io.export import export_results
from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.controllers import results_controller
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.results.results_panel import SOP_ROLE
from meddiag_desktop.ui.viewer.orientation import Plane
from tests.export_helpers import DemoSeries, demo_series, request
from tests.results_helpers import TUMOUR, rle_1bit_copy, study_folder, write_rtstruct, write_seg

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtCore import QModelIndex
    from PySide6.QtWidgets import QTreeWidgetItem
    from pytestqt.qtbot import QtBot


TIMEOUT = 60000
OTHER_FRAME = "1.2.826.0.1.3680043.8.498.4242"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSeries:
    return demo_series(tmp_path_factory.mktemp("demo-index"))


def _scan(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(window.results.listed, timeout=TIMEOUT):
        window.open_path(folder)
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=TIMEOUT)


def _double_click(qtbot: QtBot, window: MainWindow, index: QModelIndex) -> None:
    window.strips.expand(window.browser_dock)  # an open series puts the browser on its strip
    window.browser.scrollTo(index)
    rect = window.browser.visualRect(index)
    point = QPoint(rect.left() + 30, rect.center().y())  # a wide first column reaches past the viewport
    left = Qt.MouseButton.LeftButton
    qtbot.mouseClick(window.browser.viewport(), left, pos=point)  # Qt 6 needs the first press
    qtbot.mouseDClick(window.browser.viewport(), left, pos=point)


def _open_ct(qtbot: QtBot, window: MainWindow) -> None:
    uid = image_series(window.studies.snapshot)[0].series_instance_uid
    with qtbot.waitSignal(window.series.loaded, timeout=TIMEOUT):
        _double_click(qtbot, window, window.browser.series_index(uid))
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=TIMEOUT)


def _rendered(window: MainWindow, plane: Plane = Plane.AXIAL) -> np.ndarray:
    """What the view shows, as an (h, w, 3) RGB array."""
    image = window.viewer.views[plane].grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return data.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


def _coloured(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels are within ``tolerance`` of ``rgb`` (the CT itself is grey: r == g == b)."""
    return int((np.abs(pixels.astype(int) - np.asarray(rgb)).max(axis=-1) <= tolerance).sum())


def _child(window: MainWindow, sop: str, name: str) -> QTreeWidgetItem:
    top = window.results_panel.object_item(sop)
    assert top is not None
    children = [top.child(i) for i in range(top.childCount())]
    return next(c for c in children if c is not None and c.text(0) == name)


def _press_space_on(qtbot: QtBot, window: MainWindow, item: QTreeWidgetItem) -> None:
    """Tick or untick a checklist entry from the keyboard, as a user would."""
    checklist = window.results_panel.checklist
    checklist.setCurrentItem(item)
    checklist.setFocus()
    qtbot.keyClick(checklist, Qt.Key.Key_Space)


def _sop_of(window: MainWindow, kind: str) -> str:
    return next(sop for sop, e in window.results.entries.items() if e.summary.kind.value == kind)


@pytest.fixture
def worker_threads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for every header read and every rasterisation, whether it ran on the GUI thread."""
    on_gui: list[bool] = []

    def spy(fn: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            on_gui.append(threading.current_thread() is threading.main_thread())
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(results_controller, "load_overlay", spy(results_controller.load_overlay))
    monkeypatch.setattr(results_controller, "result_entry", spy(results_controller.result_entry))
    return on_gui


def test_seg_and_rtstruct_are_listed_and_their_outlines_toggle_on_screen(
    qtbot: QtBot, window: MainWindow, demo: DemoSeries, tmp_path: Path, worker_threads: list[bool]
) -> None:
    seg = write_seg(tmp_path / "seg.dcm", demo.volume, {"Nodule 1": TUMOUR})
    rt = write_rtstruct(tmp_path / "rs.dcm", demo.volume)
    _scan(qtbot, window, study_folder(tmp_path / "study", seg, rt))
    seg_sop, rt_sop = _sop_of(window, "SEG"), _sop_of(window, "RTSTRUCT")
    seg_row = window.browser.result_index(seg_sop).data()
    rt_row = window.browser.result_index(rt_sop).data()
    assert seg_row.startswith("SEG: Reference nodules (1 segment)\n    on series #")
    assert rt_row.startswith("RTSTRUCT: Planning contours (4 structures)\n    on series #")
    assert "not in the scanned folders" not in rt_row
    _open_ct(qtbot, window)
    assert window.results_panel.ticked(rt_sop) == frozenset()  # listed, nothing drawn until asked
    window.viewer.state.set_position((32.0, 285.0, 157.0))  # a slice through the tumour box
    qtbot.wait(50)
    before = _rendered(window)
    assert _coloured(before, (255, 0, 0)) == 0
    with qtbot.waitSignal(window.results.overlay_shown, timeout=TIMEOUT):
        _press_space_on(qtbot, window, _child(window, rt_sop, "GTV-1"))
    qtbot.wait(50)
    shown = _rendered(window)
    assert _coloured(shown, (255, 0, 0)) > 20  # the GTV's red dashed outline
    assert (np.abs(shown.astype(int) - before).max(axis=-1) > 60).sum() > 20
    assert _coloured(shown, (0, 0, 255)) == 0  # "Lung R" was not ticked
    _press_space_on(qtbot, window, _child(window, rt_sop, "GTV-1"))
    qtbot.waitUntil(lambda: _coloured(_rendered(window), (255, 0, 0)) == 0, timeout=5000)
    top = window.results_panel.object_item(seg_sop)
    assert top is not None
    with qtbot.waitSignal(window.results.overlay_shown, timeout=TIMEOUT):
        _press_space_on(qtbot, window, top)  # the whole SEG
    qtbot.waitUntil(lambda: _coloured(_rendered(window), (255, 0, 255)) > 20, timeout=5000)
    window.viewer.state.set_position((10.0, 285.0, 157.0))  # a slice the SEG does not reach
    qtbot.waitUntil(lambda: _coloured(_rendered(window), (255, 0, 255)) == 0, timeout=5000)
    assert len(worker_threads) == 4 and not any(worker_threads)  # 2 headers + 2 rasterisations, all in workers


def test_undecodable_seg_and_another_frame_of_reference_get_plain_messages(
    qtbot: QtBot, window: MainWindow, demo: DemoSeries, tmp_path: Path
) -> None:
    seg = write_seg(tmp_path / "seg.dcm", demo.volume, {"Nodule 1": TUMOUR})
    rle = rle_1bit_copy(seg, tmp_path / "liver_like_rle.dcm")
    moved = write_rtstruct(tmp_path / "moved.dcm", demo.volume, frame=OTHER_FRAME)
    _scan(qtbot, window, study_folder(tmp_path / "study", rle, moved))
    messages = "\n".join(window.notes.messages())
    assert "liver_like_rle.dcm (segmentation “Reference nodules”): its pixel data is stored as 1-bit frames " \
           "compressed with RLE, which this app cannot decode" in messages  # fmt: skip
    assert "moved.dcm (structure set “Planning contours”): it was drawn on another frame of reference" in messages
    rle_sop, rt_sop = _sop_of(window, "SEG"), _sop_of(window, "RTSTRUCT")
    warning = window.browser.result_index(rle_sop).siblingAtColumn(4)
    assert warning.data() == "⚠ cannot be shown"
    _open_ct(qtbot, window)
    for sop in (rle_sop, rt_sop):
        top = window.results_panel.object_item(sop)
        assert top is not None and top.text(0).endswith("cannot be shown")
        assert not top.flags() & Qt.ItemFlag.ItemIsUserCheckable
    count = len(window.notes.messages())
    _double_click(qtbot, window, window.browser.result_index(rle_sop))
    assert len(window.notes.messages()) == count + 1 and "cannot decode" in window.notes.messages()[0]
    assert window.results.overlays.overlays == {}  # nothing drawn, nothing crashed


def test_clicking_an_sr_measurement_goes_to_its_segment(
    qtbot: QtBot, window: MainWindow, demo: DemoSeries, tmp_path: Path
) -> None:
    exported = export_results(demo.index, demo.volume, request(demo.volume), tmp_path / "export")
    seg, sr = Path(exported.of_kind(ExportKind.SEG).path), Path(exported.of_kind(ExportKind.SR).path)
    _scan(qtbot, window, study_folder(tmp_path / "study", seg, sr))
    with qtbot.waitSignal(window.results.reports_shown, timeout=TIMEOUT):
        _open_ct(qtbot, window)
    table = window.results_panel.measurements
    texts = [table.item(r, 0).text() if table.item(r, 0) else "" for r in range(table.rowCount())]
    row = next(r for r, t in enumerate(texts) if t.startswith("Lesion F1 · Neoplasm"))
    assert "→ segment 1" in texts[row]
    assert table.item(row + 2, 0).text().strip() == "Long Axis" and table.item(row + 2, 1).text() == "44 mm"
    seg_sop = _sop_of(window, "SEG")
    rect = table.visualItemRect(table.item(row + 1, 0))
    with qtbot.waitSignal(window.results.overlay_shown, timeout=TIMEOUT):
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: abs(window.viewer.state.position[0] - 46.0) < 0.6, timeout=5000)
    assert window.viewer.state.position == pytest.approx((46.0, 300.0, 150.0), abs=0.6)  # the F1 sphere's centre
    assert window.results_panel.ticked(seg_sop) == frozenset({1})
    assert window.viewer.views[Plane.AXIAL].slice_index == 46


@pytest.mark.corpus
def test_nsclc_structure_set_double_click_opens_its_ct_with_the_tumour_outlined(
    qtbot: QtBot, window: MainWindow, shared_corpus: Path
) -> None:
    _scan(qtbot, window, shared_corpus / "nsclc_radiomics" / "LUNG1-001")
    sop = _sop_of(window, "RTSTRUCT")
    assert window.browser.result_index(sop).data().startswith("RTSTRUCT: RCCT020209 (17 structures)\n    on series")
    with qtbot.waitSignal(window.results.overlay_shown, timeout=TIMEOUT):
        _double_click(qtbot, window, window.browser.result_index(sop))
    ticked = {_child(window, sop, n).data(0, SOP_ROLE) and n for n in ("GTV-1", "Lung L", "Lung R", "Patient")
              if _child(window, sop, n).checkState(0) == Qt.CheckState.Checked}  # fmt: skip
    assert ticked == {"GTV-1", "Lung L", "Lung R"}  # lesions and organs; not the body outline
    centre = window.results.overlays.centroid(sop, 2)
    assert centre is not None
    window.viewer.state.set_position(centre)
    qtbot.waitUntil(lambda: _coloured(_rendered(window), (64, 64, 255)) > 20, timeout=5000)


@pytest.mark.corpus
def test_highdicom_report_row_goes_to_its_image_region(qtbot: QtBot, window: MainWindow, shared_corpus: Path) -> None:
    _scan(qtbot, window, shared_corpus / "seg_sr_highdicom")
    ct = next(s for s in image_series(window.studies.snapshot) if s.modality == "CT")
    reports, loaded = window.results.reports_shown, window.series.loaded
    with qtbot.waitSignal(reports, timeout=TIMEOUT), qtbot.waitSignal(loaded, timeout=TIMEOUT):
        _double_click(qtbot, window, window.browser.series_index(ct.series_instance_uid))
    table = window.results_panel.measurements
    texts = [table.item(r, 0).text() if table.item(r, 0) else "" for r in range(table.rowCount())]
    row = next(r for r, t in enumerate(texts) if t.startswith("LungNodule0001 · Nodule · Lung"))
    assert texts[row].endswith("→ image region")
    table.cellClicked.emit(row, 0)
    assert window.viewer.state.position == pytest.approx((0.0, 54.5, 44.5))  # the circle's centre pixel
