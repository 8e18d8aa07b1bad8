"""The AI input check in the app: the override prompt, the run it lets through, and a refusal.

The series is the bundled demo CT with one slice left out (a real 10 mm gap; resources/demo only,
never skipped); the refusal uses the demo relabelled as MR (never skipped) and the corpus MR
(skipped without ../shared).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
import pytest
from pydicom.uid import MRImageStorage, generate_uid
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from review_helpers import fixture_models, open_demo_series, settle

from meddiag_desktop.core.ood import CheckStatus, InputCheck, OodIssue, Severity
from meddiag_desktop.review.ood_record import OOD_OVERRIDE_EVENT, run_input_check
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.dialogs.ood_dialog import OodOverrideDialog
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.findings_table import INPUT_COLUMN

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lung_ct_A0001"
REASON = "only series of this patient; checked against the prior study"
GAP = "Uneven slice spacing (usually 5.00 mm): 10.00 mm between slices 33 and 34."


@pytest.fixture
def gap_study(tmp_path: Path) -> Path:
    """The demo with its 31st file left out: the loader reports a real 10 mm gap."""
    folder = tmp_path / "studies" / "gap"
    shutil.copytree(DEMO, folder)
    sorted(folder.glob("*.dcm"))[30].unlink()
    return folder.parent


@pytest.fixture
def window(qtbot: QtBot, settings: Settings, tmp_path: Path) -> Iterator[MainWindow]:
    models = fixture_models(tmp_path / "models")
    main = MainWindow(replace(settings, builtin_models_dir=models, inference_threads=1,
                              reviewer_display_name="Dr Test"))  # fmt: skip
    main.resize(1600, 900)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()


def answer_prompt(action: Callable[[OodOverrideDialog], None]) -> QTimer:
    """Act on the override prompt once the check (in a worker) has put it up; keep the timer alive."""
    timer = QTimer(interval=30)

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, OodOverrideDialog):
            timer.stop()
            action(dialog)

    timer.timeout.connect(poll)
    timer.start()
    return timer


# -- the dialog alone ------------------------------------------------------------------------------


def test_the_prompt_runs_only_with_a_typed_reason(qtbot: QtBot) -> None:
    check = InputCheck("1.2.3", ("lung-nodule-seg@2.0.0",), (OodIssue("kvp", Severity.SOFT, "Tube voltage 100 kVp."),),
                       ("Gantry tilt of 18.5°.",))  # fmt: skip
    dialog = OodOverrideDialog(check)
    qtbot.addWidget(dialog)
    assert "Tube voltage 100 kVp." in dialog.summary.text() and "Gantry tilt of 18.5°." in dialog.summary.text()
    assert not dialog.run_button.isEnabled() and not dialog.run_button.autoDefault()
    qtbot.keyClicks(dialog.reason, "ok")
    assert not dialog.run_button.isEnabled() and "at least 10 characters" in dialog.hint.text()
    qtbot.keyClicks(dialog.reason, " - the only scan; prior study compared")
    assert dialog.run_button.isEnabled() and dialog.reason_text().startswith("ok - the only scan")


# -- in the app ------------------------------------------------------------------------------------


def test_a_gap_asks_why_then_every_finding_shows_the_override(
    qtbot: QtBot, window: MainWindow, settings: Settings, gap_study: Path
) -> None:
    open_demo_series(qtbot, window, gap_study)
    screen = window.review
    seen: dict[str, object] = {}

    def type_reason(dialog: OodOverrideDialog) -> None:
        seen["summary"], seen["enabled"] = dialog.summary.text(), dialog.run_button.isEnabled()
        qtbot.keyClicks(dialog.reason, REASON)
        dialog.run_button.click()

    timer = answer_prompt(type_reason)
    with qtbot.waitSignal(screen.analysis.finished, timeout=60000):
        qtbot.mouseClick(screen.panel.run_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert GAP in str(seen["summary"]) and seen["enabled"] is False
    del timer

    table = screen.panel.table
    assert table.rowCount() > 0
    for row in range(table.rowCount()):
        cell = table.item(row, INPUT_COLUMN)
        assert cell is not None and cell.text() == "⚠ run by override · series ⚠"
        assert REASON in cell.toolTip() and "Dr Test (" in cell.toolTip() and GAP in cell.toolTip()
    banner = screen.panel.input_check_label
    assert banner.isVisible() and REASON in banner.text() and GAP in banner.text()

    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        events = [r[0] for r in store.db.execute("SELECT event FROM audit ORDER BY seq")]
        assert events.index(OOD_OVERRIDE_EVENT) < events.index("ai_run") and store.verify_audit().ok
        assert screen.review.state is not None
        check = run_input_check(store.db, screen.review.state.run_id)
    assert check is not None and check.status is CheckStatus.OVERRIDDEN and check.override is not None
    assert check.override.reason == REASON and len(check.geometry_warnings) == 1 and GAP in check.geometry_warnings[0]


def test_cancelling_the_prompt_runs_nothing_and_records_nothing(
    qtbot: QtBot, window: MainWindow, settings: Settings, gap_study: Path
) -> None:
    open_demo_series(qtbot, window, gap_study)
    screen = window.review
    timer = answer_prompt(lambda dialog: dialog.reject())
    with qtbot.waitSignal(window.notes.notified, timeout=30000, check_params_cb=lambda _l, text: "not run" in text):
        qtbot.mouseClick(screen.panel.run_button, Qt.MouseButton.LeftButton)
    del timer
    assert screen.review.state is None and not screen.analysis.busy
    assert "AI not run: the series is outside the models' validated range." in window.notes.messages()[0]
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        assert store.db.execute("SELECT COUNT(*) FROM ood_overrides").fetchone()[0] == 0
        assert store.db.execute("SELECT COUNT(*) FROM ai_runs").fetchone()[0] == 0


def write_demo_as_mr(folder: Path) -> None:
    """The demo slices relabelled as one MR series (Modality, SOP class, no CT rescale); pixels untouched."""
    folder.mkdir(parents=True)
    series_uid = generate_uid()
    for source in sorted(DEMO.glob("*.dcm")):
        ds = pydicom.dcmread(source)
        ds.Modality, ds.SeriesInstanceUID = "MR", series_uid
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "KVP"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(folder / source.name)


@pytest.mark.parametrize("source", ["demo_as_mr", pytest.param("corpus_mr", marks=pytest.mark.corpus)])
def test_an_mr_is_refused_without_asking(
    qtbot: QtBot, window: MainWindow, settings: Settings, tmp_path: Path, request: pytest.FixtureRequest, source: str
) -> None:
    study = tmp_path / "studies" / "mr"
    if source == "corpus_mr":
        shutil.copytree(request.getfixturevalue("shared_corpus") / "mr_ge_3d_t1_mprage", study)
    else:
        write_demo_as_mr(study)
    open_demo_series(qtbot, window, study.parent)
    screen = window.review
    timer = answer_prompt(lambda dialog: pytest.fail("a hard issue must not offer an override"))
    with qtbot.waitSignal(window.notes.notified, timeout=30000, check_params_cb=lambda _l, t: "Not analysed" in t):
        qtbot.mouseClick(screen.panel.run_button, Qt.MouseButton.LeftButton)
    timer.stop()
    assert "The series is MR; the AI (lung-nodule-seg, lung-lesion-cls) is for CT only." in window.notes.messages()[0]
    assert screen.review.state is None


def test_the_input_column_names_notes_without_asking_for_an_override() -> None:
    """A kernel unlike the training scans runs without a reason, but the column says there is a note."""
    from types import SimpleNamespace

    from meddiag_desktop.ui.review.findings_table import input_text

    ai = SimpleNamespace(origin="ai")
    note = InputCheck("1.2.3", ("lung-nodule-seg@2.0.0",), (OodIssue("kernel", Severity.NOTE, "Kernel 'B70f'."),))
    assert note.status is CheckStatus.IN_RANGE
    assert input_text(ai, note, None) == "in range · note"  # type: ignore[arg-type]
    assert input_text(ai, replace(note, issues=()), None) == "in range"  # type: ignore[arg-type]
