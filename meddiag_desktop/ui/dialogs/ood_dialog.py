"""The AI input check's override prompt: what is outside the validated range, and a typed reason.

"Run AI anyway" stays disabled until a real reason is typed (``core.ood.reason_problem``);
Enter alone never runs. The reason is kept in the audit log, with the run, beside every
finding of the run and in every export.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout

from meddiag_desktop.core.ood import reason_problem

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from meddiag_desktop.core.ood import InputCheck

WARNING_STYLE = "background:#5a3a00; color:#ffe2b0; padding:6px; border-radius:3px;"


class OodOverrideDialog(QDialog):
    """Lists the soft issues (and the series' geometry warnings) and asks why the AI should run anyway."""

    def __init__(self, check: InputCheck, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("AI input check: outside the validated range")
        self.summary = QLabel(_summary_html(check))
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(WARNING_STYLE)
        self.reason = QPlainTextEdit()
        self.reason.setPlaceholderText("Why should the AI run on this series anyway? e.g. 'only series of the "
                                       "patient; findings checked against the prior study'")  # fmt: skip
        self.reason.setTabChangesFocus(True)
        self.reason.setFixedHeight(72)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.run_button = self.buttons.addButton("Run AI anyway", QDialogButtonBox.ButtonRole.AcceptRole)
        self.run_button.setAutoDefault(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(self._on_reason_text_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("<b>Reason</b> (kept in the audit log, with the run and beside every finding):"))
        layout.addWidget(self.reason)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self.resize(620, 0)
        self._on_reason_text_changed()

    def reason_text(self) -> str:
        return self.reason.toPlainText().strip()

    def _on_reason_text_changed(self) -> None:
        problem = reason_problem(self.reason_text())
        self.run_button.setEnabled(problem is None)
        self.hint.setText(problem or "The run will be marked 'run by override' with this reason.")


def _summary_html(check: InputCheck) -> str:
    issues = "".join(f"<li>{html.escape(i.message)}</li>" for i in check.soft)
    shown = {i.message for i in check.soft}
    extra = [w for w in check.geometry_warnings if w not in shown]
    notes = "".join(f"<li>{html.escape(w)}</li>" for w in extra)
    models = html.escape(", ".join(check.models))
    return (
        f"<b>This series is outside the range the AI ({models}) was validated for:</b><ul>{issues}</ul>"
        + (f"Also noted for this series:<ul>{notes}</ul>" if notes else "")
        + "Its findings may be less reliable than the model card says. The AI runs only if you type why."
    )


def ask_override(parent: QWidget, check: InputCheck) -> str | None:
    """The typed reason, or None when the radiologist cancels (the AI is then not run)."""
    dialog = OodOverrideDialog(check, parent)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    return dialog.reason_text() if accepted and reason_problem(dialog.reason_text()) is None else None
