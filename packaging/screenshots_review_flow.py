"""Screenshot of the review flow (issue 11): the findings panel after an undo and a mask edit.

Run: ``.venv/bin/python packaging/screenshots_review_flow.py`` (starts Xvfb itself; ``--models DIR`` /
``--fixture-models`` as in ``screenshots.py``). Writes to docs/screenshots/:
- ``review_undo_edit.png``: the AI review panel after accepting F1, rejecting F2 and undoing that
  rejection (Ctrl+Z), then editing F3's mask: F3 reads "accepted, edited", its measurements are the
  new mask's and its class says "not recomputed after edit"
- ``review_undo_edit_window.png``: the whole window at 1600x900
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import OUT, ROOT, _models_dir, _raise_dock, _settle, demo_folder, run_ai, run_under_xvfb, shoot

DISPLAY = ":95"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings

    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config",
                            builtin_models_dir=_models_dir(Path(tmp)), reviewer_display_name="Dr Demo")  # fmt: skip
        return shoot(settings, demo_folder(), OUT / "review_undo_edit_window.png", lambda win: _scene(app, win))


def _wait_saved(app: Any, win: Any) -> None:
    while win.review.review.saving:
        _settle(app)
    _settle(app)


def _scene(app: Any, win: Any) -> None:
    from PySide6.QtCore import Qt

    from meddiag_desktop.review.model import RejectReason

    win.view_actions["preset1"].trigger()  # lung window
    win.view_actions["privacy"].trigger()
    run_ai(win, 300_000)
    _wait_saved(app, win)
    review = win.review.review
    ids = [f.id for f in review.state.findings]
    review.select(ids[0])
    review.accept()
    review.select(ids[1])
    review.reject(RejectReason.ARTEFACT, "")
    _wait_saved(app, win)
    win.review.actions["undo"].trigger()  # Ctrl+Z: the rejection of F2 is taken back
    _wait_saved(app, win)
    _edit(app, win, ids[2])
    win.browser_dock.hide()
    _raise_dock(win, "AI review")
    win.resizeDocks([win.review_dock], [780], Qt.Orientation.Horizontal)  # every column of the findings table
    for _ in range(5):
        _settle(app)
    win.review.panel.grab().save(str(OUT / "review_undo_edit.png"))
    print(f"saved {OUT / 'review_undo_edit.png'}; notes: {win.notes.messages()[:3]}")


def _edit(app: Any, win: Any, finding_id: str) -> None:
    """Grow the finding's mask with one brush dab on its centre slice, then save it (Ctrl+Enter)."""
    review = win.review.review
    review.select(finding_id)
    win.review.actions["edit"].trigger()
    editor = win.review.editing.editor
    centre = review.state.finding(finding_id).finding.centroid_index
    z = round(centre[0])
    editor.stroke(0, z, (z, centre[1] + 3.0, centre[2] + 3.0), 6.0, False, True)
    editor.end_stroke()
    win.review.actions["save_mask"].trigger()
    _wait_saved(app, win)


if __name__ == "__main__":
    if "--inner" in sys.argv:
        sys.exit(main())
    sys.exit(run_under_xvfb(__file__, ["--inner", *sys.argv[1:]], DISPLAY))
