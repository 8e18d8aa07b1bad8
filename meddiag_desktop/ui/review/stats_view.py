"""The statistics view (no logic): per model, version and month, from ``review.stats``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.review.stats import ModelMonth

COLUMNS = ("Model", "Version", "Month", "Reviews (signed)", "AI shown", "Accepted (edited)", "Rejected",
           "Acceptance", "Rejection", "Reasons", "Added", "Dice AI vs final",
           "Read first: indep. / AI missed / AI only")  # fmt: skip
TIPS = ("Segmentation model (+ the classifier that ran beside it)", "Model version", "Month of the AI run",
        "Reviews counted (signed ones)", "AI findings shown to the radiologist",
        "AI findings accepted, as is or with a corrected mask (edited)", "AI findings rejected",
        "Accepted (incl. edited) among the AI findings decided", "Rejected among the AI findings decided",
        "Rejection reasons", "Lesions the radiologist added (the AI missed them or they were drawn first)",
        "Mean Dice of the AI's mask against the final mask of each finding kept (n findings)",
        "Read-first reviews: lesions found independently / lesions the AI missed / findings only the AI made",
        )  # fmt: skip
INTRO = (
    "Is this model still performing here as its card says? Per model and version, per month of the AI run, "
    "from the reviews in this workstation's store. Acceptance counts edited findings as accepted; Dice compares "
    "the AI's mask with the final mask of each finding kept (1.00 when accepted unchanged)."
)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def cells(row: ModelMonth) -> tuple[str, ...]:
    model = f"{row.model} (+ {row.classifier})" if row.classifier else row.model
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(row.reasons.items())) or "–"
    dice = "–" if row.dice_mean is None else f"{row.dice_mean:.2f} (n={row.dice_n})"
    read_first = (f"{row.independent} / {row.ai_missed} / {row.ai_only} (in {row.read_first} review(s))"
                  if row.read_first else "–")  # fmt: skip
    return (model, row.version, row.month, f"{row.reviews} ({row.signed})", str(row.shown),
            f"{row.accepted + row.edited} ({row.edited})", str(row.rejected), _percent(row.acceptance_rate),
            _percent(row.rejection_rate), reasons, str(row.added), dice, read_first)  # fmt: skip


class StatsDialog(QDialog):
    """A non-modal window; the review screen fills it when the statistics are computed."""

    refresh_requested = Signal()
    csv_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("AI statistics — model monitoring")
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.status = QLabel("Computing…")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(TIPS):
            header = self.table.horizontalHeaderItem(column)
            if header is not None:
                header.setToolTip(tip)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(False)
        self.refresh_button, self.csv_button = QPushButton("Refresh"), QPushButton("Save CSV…")
        close = QPushButton("Close")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.csv_button.clicked.connect(self.csv_requested)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for button in (self.refresh_button, self.csv_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(1280, 360)

    def show_rows(self, rows: Sequence[ModelMonth]) -> None:
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(cells(row)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.status.setText(f"{len(rows)} row(s)." if rows else "No reviews are stored yet.")
        self.csv_button.setEnabled(bool(rows))

    def set_status(self, text: str) -> None:
        self.status.setText(text)
