"""Dialogs of the review: reject reason, free text (amendment, display name), model card, keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QTextBrowser,
    QVBoxLayout,
)

from meddiag_desktop.review.model import RejectReason

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget


class RejectDialog(QDialog):
    """Pick a reason (not a lesion, artefact, known benign, duplicate, other) plus free text."""

    def __init__(self, finding_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Reject {finding_id}")
        self.reason = QComboBox()
        for reason in RejectReason:
            self.reason.addItem(reason.value, reason)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Required for 'other'")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Reason", self.reason)
        form.addRow("Note", self.note)
        form.addRow(buttons)

    def choice(self) -> tuple[RejectReason, str]:
        return RejectReason(self.reason.currentData().value), self.note.text()


def ask_reject(parent: QWidget, finding_id: str) -> tuple[RejectReason, str] | None:
    dialog = RejectDialog(finding_id, parent)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, text)
    return str(value) if ok else None


def show_text(parent: QWidget, title: str, markdown: str) -> None:
    """A read-only Markdown page (the model card, the key map)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    browser = QTextBrowser()
    browser.setMarkdown(markdown)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.resize(720, 560)
    dialog.exec()
