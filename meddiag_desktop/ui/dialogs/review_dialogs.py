"""Dialogs of the review: reject reason, sign-off confirmation, free text (amendment, name), model card, keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QTextBrowser,
    QVBoxLayout,
)

from meddiag_desktop.review.model import RejectReason

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from meddiag_desktop.review.model import SignOffSummary


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


class SignOffDialog(QDialog):
    """The summary of what is signed, who signs (OS account and display name), and an explicit confirmation.

    "Sign off" stays disabled until the box is ticked; Enter alone never signs.
    """

    def __init__(self, summary: SignOffSummary, version: int, os_user: str, display_name: str,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(f"Sign off review v{version}")
        items = "".join(f"<li>{line}</li>" for line in summary.lines())
        self.summary = QLabel(
            f"<b>You are signing version {version} of this review.</b><ul>{items}</ul>"
            f"Signed as <b>{display_name}</b> (OS account <b>{os_user}</b>).<br>"
            "The signed version is read-only; later changes need an amendment."
        )
        self.confirm = QCheckBox("I have reviewed every finding and sign this review.")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.sign_button = self.buttons.addButton("Sign off", QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_button.setEnabled(False)
        self.sign_button.setAutoDefault(False)
        self.confirm.toggled.connect(self.sign_button.setEnabled)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.confirm)
        layout.addWidget(self.buttons)


def confirm_sign_off(parent: QWidget, summary: SignOffSummary, version: int, os_user: str, display_name: str) -> bool:
    """Asked every time: True only when the radiologist ticked the box and pressed "Sign off"."""
    dialog = SignOffDialog(summary, version, os_user, display_name, parent)
    return dialog.exec() == QDialog.DialogCode.Accepted and dialog.confirm.isChecked()


def ask_amend_for_run(parent: QWidget, version: int, signed_by: str) -> str | None:
    """Run AI on a signed review: the amendment's reason, or None to leave the signed review as it is."""
    label = (f"Version {version} of this review is signed ({signed_by}). Running the AI again opens "
             f"an amendment (version {version + 1}) with the new run; the signed version stays as it is.\n\n"
             "Why is the AI run again?")  # fmt: skip
    text = ask_text(parent, "Run AI on a signed review", label)
    return text.strip() if text is not None and text.strip() else None
