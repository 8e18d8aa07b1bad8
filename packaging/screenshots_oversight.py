"""Screenshots of the oversight features for the README: the real app under X on the demo lung CT.

Run inside an X server (e.g. ``Xvfb :98 -screen 0 1680x1000x24 &`` then
``DISPLAY=:98 QT_QPA_PLATFORM=xcb .venv/bin/python packaging/screenshots_oversight.py``;
``--models DIR`` / ``--fixture-models`` as in ``screenshots.py``). Writes to docs/screenshots/:
- ``signoff_summary.png``: the sign-off dialog (summary, signer's display name and OS account, the
  confirmation box that enables "Sign off")
- ``history_panel.png``: after Run AI on the signed review (an amendment with a new run, read first,
  revealed), the Review history dock with the signed version 1 opened read-only
- ``statistics.png``: AI review ▸ AI statistics… on this store
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import OUT, ROOT, _models_dir, _raise_dock, _settle, demo_folder, run_ai, shoot


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings

    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "studies" / "chest-ct"
        shutil.copytree(demo_folder(), study)
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config",
                            builtin_models_dir=_models_dir(Path(tmp)), reviewer_display_name="Dr Demo")  # fmt: skip
        return shoot(settings, study.parent, Path(tmp) / "window.png", lambda win: _shots(app, win))


def _decide(win: Any) -> None:
    """Accept every AI finding but the last, which is rejected as an artefact."""
    from meddiag_desktop.review.model import RejectReason

    review = win.review.review
    while review.state is not None and len(review.state.undecided) > 1:
        review.select(review.state.undecided[0])
        review.accept()
    if review.state is not None and review.state.undecided:
        review.select(review.state.undecided[0])
        review.reject(RejectReason.ARTEFACT, "")


def _shots(app: Any, win: Any) -> None:
    from meddiag_desktop.config import ReadingMode
    from meddiag_desktop.review.model import SignOffSummary
    from meddiag_desktop.ui.dialogs import review_dialogs

    win.view_actions["preset1"].trigger()  # lung window
    win.view_actions["privacy"].trigger()
    win.browser_dock.hide()
    screen = win.review
    run_ai(win, 600_000)
    _decide(win)
    state, actor = screen.review.state, screen.review.actor
    print(f"v1: {len(state.findings)} findings")

    dialog = review_dialogs.SignOffDialog(SignOffSummary.of(state), state.version, actor.os_user,
                                          actor.display_name, win)  # fmt: skip
    dialog.show()
    dialog.confirm.setChecked(True)
    for _ in range(5):
        _settle(app)
    dialog.grab().save(str(OUT / "signoff_summary.png"))
    dialog.close()
    review_dialogs.confirm_sign_off = lambda *_args: True  # type: ignore[assignment]
    screen.actions["sign"].trigger()

    # Run AI on the signed review: asked first, an amendment (v2) with the new run, read first.
    win.reading_actions[ReadingMode.READ_FIRST].trigger()
    review_dialogs.ask_amend_for_run = lambda *_args: "second read with the prior study"  # type: ignore[assignment]
    run_ai(win, 600_000)
    hidden = screen.review.state
    own = hidden.findings[0].finding
    screen.review.add(replace(own, id="R1", origin="radiologist", class_probabilities={}))
    screen.actions["reveal"].trigger()
    _decide(win)
    screen.actions["sign"].trigger()
    win.reading_actions[ReadingMode.CONCURRENT].trigger()

    history = screen.oversight.history
    history.select_version(1)
    history.open_button.click()
    history.select_version(1)
    _raise_dock(win, "Review history")
    win.resizeDocks([win.history_dock], [760], _horizontal())
    for _ in range(8):
        _settle(app)
    win.grab().save(str(OUT / "history_panel.png"))
    history.current_button.click()

    screen.actions["stats"].trigger()
    _wait_idle_signal(screen.oversight.stats.ready, 120_000)
    stats = screen.oversight.stats_dialog
    stats.resize(1560, 300)
    for _ in range(8):
        _settle(app)
    stats.grab().save(str(OUT / "statistics.png"))
    stats.close()


def _wait_idle_signal(signal: Any, timeout_ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(lambda *_args: loop.quit())
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def _horizontal() -> Any:
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


if __name__ == "__main__":
    sys.exit(main())
