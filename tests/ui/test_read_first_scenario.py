"""Read-first mode on the bundled demo CT (resources/demo only: never skipped), driven by keys and mouse.

The radiologist runs the AI (its result stays hidden), marks a lesion where the AI found one and
one it did not, reveals the AI with one key, decides, signs through the real confirmation dialog,
and the store knows what was found independently, what only the AI found and what the AI missed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication
from review_helpers import fixture_models, open_demo_series, settle, wait_saved
from ui_helpers import drag, to_widget

from meddiag_desktop.config import ReadingMode
from meddiag_desktop.review.audit import Actor
from meddiag_desktop.review.model import Decision, ReviewStatus
from meddiag_desktop.review.reading import Outcome
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.stats import model_stats
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.dialogs import review_dialogs
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.overlay_layers import MASK_LAYER
from meddiag_desktop.ui.viewer.orientation import Plane

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.viewer.slice_view import SliceView

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def demo() -> Path:
    assert any(DEMO.rglob("*")), f"the bundled demo study is missing from {DEMO}"
    return DEMO


@pytest.fixture
def window(qtbot: QtBot, settings: Settings, tmp_path: Path) -> Iterator[MainWindow]:
    models = fixture_models(tmp_path / "models")
    main = MainWindow(replace(settings, builtin_models_dir=models, inference_threads=1, reviewer_display_name="Dr Test",
                              reading_mode=ReadingMode.READ_FIRST))  # fmt: skip
    main.resize(1600, 900)
    main.show()
    qtbot.waitExposed(main)
    main.activateWindow()
    yield main
    main.close()


def _press(qtbot: QtBot, window: MainWindow, key: Qt.Key, modifier: Qt.KeyboardModifier | None = None) -> None:
    axial = window.viewer.views[Plane.AXIAL]
    axial.setFocus()
    qtbot.keyClick(axial, key, modifier or Qt.KeyboardModifier.NoModifier)


def _paint_at(view: SliceView, index: tuple[float, float, float], dx_mm: float) -> None:
    assert view.geometry is not None
    x, y = view.geometry.to_display(index)
    start = to_widget(view, x, y)
    drag(view, start, start + QPoint(max(2, round(dx_mm / view.box.viewPixelSize()[0])), 0))


def _mask_drawn(view: SliceView) -> bool:
    layers = [la for la in view.layers if la.name == MASK_LAYER]
    return bool(layers) and bool(np.asarray(layers[0].item.image).any())


def _inside(finding: object) -> tuple[float, float, float]:
    """A voxel inside the finding's mask (its centroid may fall outside an irregular shape)."""
    voxels = np.argwhere(finding.mask)  # type: ignore[attr-defined]
    z, y, x = voxels[len(voxels) // 2] + np.asarray(finding.bbox[:3])  # type: ignore[attr-defined]
    return (float(z), float(y), float(x))


def _sign_in_dialog(seen: list[str]) -> None:
    """Like the user: read the summary, tick the box, press Sign off."""
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, review_dialogs.SignOffDialog)
    seen.append(dialog.summary.text())
    seen.append(str(dialog.sign_button.isEnabled()))
    dialog.confirm.setChecked(True)
    dialog.sign_button.click()


def test_read_first_on_the_demo(qtbot: QtBot, window: MainWindow, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = window.review
    open_demo_series(qtbot, window, demo)
    assert screen.panel.reading_label.isVisible() and not screen.panel.auto_run.isEnabled()

    # Run AI (Ctrl+I): the result is stored but nothing of it is shown.
    with qtbot.waitSignal(screen.analysis.finished, timeout=60000):
        _press(qtbot, window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    state = screen.review.state
    assert state is not None and state.ai_hidden and state.findings
    ai_ids = [f.id for f in state.findings]
    assert screen.panel.table.rowCount() == 0 and screen.panel.reveal_button.isVisible()
    assert not any(_mask_drawn(v) for v in window.viewer.views.values())
    assert screen.overlays.available_heat() == ()
    _press(qtbot, window, Qt.Key.Key_A)  # accepting an AI finding is impossible: none is listed or selected
    assert all(f.decision is Decision.PENDING for f in screen.review.state.findings)

    # The radiologist's own read: D, paint over the lesion the AI also found, save; D, a second lesion.
    target = state.findings[0].finding
    spot = _inside(target)
    window.viewer.state.set_position(spot)
    _press(qtbot, window, Qt.Key.Key_D)
    _paint_at(window.viewer.views[Plane.AXIAL], spot, 4.0)
    _press(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    _press(qtbot, window, Qt.Key.Key_D)
    _paint_at(window.viewer.views[Plane.CORONAL], (32.0, 300.0, 150.0), 10.0)
    screen.editing.save()
    state = screen.review.state
    assert [f.id for f in state.findings if f.origin == "radiologist"] == ["R1", "R2"]
    assert screen.panel.table.rowCount() == 2 and not screen.panel.sign_button.isEnabled()

    # One action reveals the AI (Ctrl+Shift+R): an audit event with what was found before.
    _press(qtbot, window, Qt.Key.Key_R, CTRL_SHIFT)
    wait_saved(window)
    state = screen.review.state
    assert not state.ai_hidden and screen.panel.table.rowCount() == len(state.findings)
    assert any(_mask_drawn(v) for v in window.viewer.views.values())
    settings = window.studies.settings
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        rows = dict(store.db.execute("SELECT finding_id, outcome FROM reading_outcomes").fetchall())
        matched = store.db.execute("SELECT matched_id FROM reading_outcomes WHERE finding_id = 'R1'").fetchone()[0]
    assert rows["R1"] == Outcome.INDEPENDENT.value and matched == target.id
    assert rows["R2"] == Outcome.AI_MISSED.value
    assert rows[target.id] == Outcome.BOTH.value
    assert {rows[i] for i in ai_ids if i != target.id} <= {Outcome.AI_ONLY.value, Outcome.BOTH.value}

    # Decide the AI's findings (A), sign through the real dialog (asked, summary, explicit tick).
    while screen.review.state.undecided:
        screen.review.select(screen.review.state.undecided[0])
        _press(qtbot, window, Qt.Key.Key_A)
    seen: list[str] = []
    QTimer.singleShot(0, lambda: _sign_in_dialog(seen))
    _press(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_saved(window)
    assert seen and f"Accepted: {len(ai_ids)}" in seen[0] and "Lesions you added: 2" in seen[0]
    assert seen[1] == "False"  # "Sign off" was disabled until the box was ticked
    assert screen.review.state.status is ReviewStatus.SIGNED

    # The monitoring numbers count this read.
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        events = [r[0] for r in store.db.execute("SELECT event FROM audit ORDER BY seq")]
        assert store.verify_audit().ok
        (row,) = model_stats(ReviewService(store, Actor("x")))
    assert events.index("ai_revealed") < events.index("signed_off")
    assert (row.read_first, row.independent, row.ai_missed, row.added) == (1, 1, 1, 2)
    assert row.ai_only == sum(rows[i] == Outcome.AI_ONLY.value for i in ai_ids)
