"""GUI-level crash test: the real window in a subprocess decides, is SIGKILLed, and the review survives."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from review_helpers import fixture_models, open_demo_series

from meddiag_desktop.review.model import Decision, RejectReason, ReviewStatus
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.main_window import MainWindow

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings

pytestmark = pytest.mark.slow

DRIVER = """
import sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from meddiag_desktop.config import Settings
from meddiag_desktop.review.model import RejectReason
from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.main_window import MainWindow

app = QApplication(sys.argv[:1])
settings = Settings(data_dir=Path({data!r}), config_dir=Path({config!r}), builtin_models_dir=Path({models!r}),
                    inference_threads=1, reviewer_display_name="Dr Crash")
window = MainWindow(settings)
window.show()
review = window.review

def on_scan_finished(snapshot):
    window.series.open(image_series(snapshot)[0].series_instance_uid)

step = {{"decided": False}}

def poll():  # decide once the review is open, report once the store writer has stored the decisions
    controller = review.review
    if controller.saving or controller.state is None:
        return
    if not step["decided"]:
        step["decided"] = True
        controller.accept()
        controller.reject(RejectReason.DUPLICATE, "")
        return
    timer.stop()
    print("DECIDED", controller.state.findings[0].id, controller.state.findings[1].id, flush=True)

timer = QTimer()
timer.timeout.connect(poll)

def on_finished(_outcome):
    timer.start(20)

window.studies.scan_finished.connect(on_scan_finished)
window.series.loaded.connect(lambda _uid: review.actions["run"].trigger())
review.analysis.finished.connect(on_finished)
window.open_path(Path({demo!r}))
app.exec()
"""


def test_sigkill_after_decisions_keeps_them(
    qtbot: QtBot, settings: Settings, tmp_path: Path, demo_folder: Path
) -> None:
    models = fixture_models(tmp_path / "models")
    code = DRIVER.format(data=str(settings.data_dir), config=str(settings.config_dir), models=str(models),
                         demo=str(demo_folder))  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = _read_line(child, "DECIDED", timeout_s=90)
    finally:
        child.kill()  # SIGKILL (TerminateProcess on Windows): no clean shutdown, the decisions must be on disk
        child.wait(timeout=10)
        assert child.stdout is not None
        child.stdout.close()
    _, accepted, rejected = line.split()

    again = MainWindow(replace(settings, builtin_models_dir=models))
    again.show()
    try:
        open_demo_series(qtbot, again, demo_folder)
        state = again.review.review.state
        assert state is not None and state.status is ReviewStatus.OPEN
        assert state.finding(accepted).decision is Decision.ACCEPTED
        rejected_item = state.finding(rejected)
        assert rejected_item.decision is Decision.REJECTED and rejected_item.reason is RejectReason.DUPLICATE
    finally:
        again.close()
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        assert store.verify_audit().ok


def _read_line(child: subprocess.Popen[str], prefix: str, timeout_s: float) -> str:
    assert child.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and child.poll() is not None:
            break
    pytest.fail(f"the app did not report {prefix!r} (exit code {child.poll()})")
