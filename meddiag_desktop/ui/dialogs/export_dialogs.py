"""Dialogs of the export: the folder, the report's file and the pseudonym (static Qt dialogs, easy to stub)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget


def ask_folder(parent: QWidget, title: str, start: Path | None) -> Path | None:
    """A folder picker opened on ``start`` (which need not exist yet); ``None`` when cancelled."""
    folder = QFileDialog.getExistingDirectory(parent, title, str(start or ""))
    return Path(folder) if folder else None


def ask_report_file(parent: QWidget, title: str, start: Path) -> Path | None:
    """Where to save the HTML report, pre-filled with ``start``; ``None`` when cancelled."""
    name, _ = QFileDialog.getSaveFileName(parent, title, str(start), "HTML page (*.html);;All files (*)")
    if not name:
        return None
    path = Path(name)
    return path if path.suffix.lower() in (".html", ".htm") else path.with_name(path.name + ".html")


def ask_pseudonym(parent: QWidget, title: str) -> str | None:
    """The name that replaces the patient's name and ID; ``None`` when cancelled (empty text is returned as is)."""
    label = "Pseudonym for the patient (replaces the name and the ID in every file):"
    value, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, "")
    return str(value).strip() if ok else None
