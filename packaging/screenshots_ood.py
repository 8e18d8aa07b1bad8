"""Screenshot of the AI input check for the README: the real app under Xvfb on the demo lung CT with a gap.

Run: ``.venv/bin/python packaging/screenshots_ood.py`` (starts Xvfb itself; ``--models DIR`` /
``--fixture-models`` as in ``screenshots.py``). The demo study is copied with its 31st slice left
out, so the loader reports a real 10 mm gap. Run AI then asks why the AI should run anyway; the
reason is typed like a user would. Writes ``docs/screenshots/ood_override.png``: the window after
the run (the findings panel's "Input" column and the override banner) with the prompt, grabbed
as it was shown before the run, laid over the images in its lower left.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import OUT, ROOT, _models_dir, _settle, run_ai, run_under_xvfb, shoot

DISPLAY = ":94"
REASON = "Only CT of this patient; the 10 mm gap is below the tumour. Findings checked against the PET/CT."


def outer() -> int:
    return run_under_xvfb(__file__, ["--inner", *sys.argv[1:]], DISPLAY)


def inner() -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings

    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "studies" / "chest-ct-gap"
        shutil.copytree(ROOT / "resources" / "demo" / "lung_ct_A0001", study)
        sorted(study.glob("*.dcm"))[30].unlink()
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config",
                            builtin_models_dir=_models_dir(Path(tmp)), reviewer_display_name="Dr Demo")  # fmt: skip
        return shoot(settings, study.parent, Path(tmp) / "window.png", lambda win: _shot(app, win))


def _shot(app: Any, win: Any) -> None:
    from PySide6.QtCore import Qt

    from meddiag_desktop.ui.dialogs import ood_dialog

    win.view_actions["preset1"].trigger()  # lung window
    win.view_actions["privacy"].trigger()
    win.browser_dock.hide()
    win.resizeDocks([win.review_dock], [900], Qt.Orientation.Horizontal)  # room for the findings' "Input" column
    prompt: list[Any] = []

    def answer(parent: Any, check: Any) -> str:
        """The real dialog, shown and typed into, grabbed, then answered."""
        dialog = ood_dialog.OodOverrideDialog(check, parent)
        dialog.show()
        dialog.reason.setPlainText(REASON)
        for _ in range(5):
            _settle(app)
        prompt.append(dialog.grab())
        dialog.run_button.click()
        return dialog.reason_text()

    ood_dialog.ask_override = answer  # type: ignore[assignment]
    screen = win.review
    run_ai(win, 600_000)
    state = screen.review.state
    print(f"{len(state.findings) if state else 0} findings; input check: {screen.review.input_check.status.value}")
    if state is not None and state.findings:
        screen.review.select(state.findings[0].id)
    for _ in range(8):
        _settle(app)
    _compose(win.grab(), prompt[0] if prompt else None).save(str(OUT / "ood_override.png"))


def _compose(window: Any, dialog: Any) -> Any:
    """The window with the prompt drawn over the images (lower left), framed; the findings panel stays clear."""
    from PySide6.QtGui import QColor, QPainter, QPen

    if dialog is None:
        return window
    out = window.copy()
    painter = QPainter(out)
    x, y = 24, out.height() - dialog.height() - 150
    painter.drawPixmap(x, y, dialog)
    painter.setPen(QPen(QColor(230, 126, 34), 3))
    painter.drawRect(x - 2, y - 2, dialog.width() + 3, dialog.height() + 3)
    painter.end()
    return out


if __name__ == "__main__":
    sys.exit(inner() if "--inner" in sys.argv else outer())
