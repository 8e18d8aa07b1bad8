"""The findings table: one row per finding, coloured like its overlay; Enter or click jumps to it.

The "Input" column shows the AI run's input check beside each AI finding (in range, run by
override, not recorded), and marks every finding of a series with geometry warnings; its
tooltip gives the override's reason, who made it and every issue and warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from meddiag_desktop.core.ood import CheckStatus
from meddiag_desktop.review.model import ClassStatus, Decision
from meddiag_desktop.review.reclassify import EXPLANATION
from meddiag_desktop.ui.review.location import location_text, location_tooltip
from meddiag_desktop.ui.review.overlay_layers import FINDING_COLOURS

if TYPE_CHECKING:
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QWidget

    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.review.model import ReviewFinding

COLUMNS = ("#", "Location", "Long mm", "Vol mL", "Mean HU", "Class (p)", "AI p", "State", "Input")
INPUT_COLUMN = COLUMNS.index("Input")
CLASS_COLUMN = COLUMNS.index("Class (p)")
NOT_RECOMPUTED = "not recomputed after edit"  # never the pre-edit class shown as if it were the new mask's
RECOMPUTED = "(recomputed after edit)"
RECOMPUTING = "recomputing after edit…"
NO_CLASS_RECORD = ("No class was recorded for this mask: it was edited before classes were recomputed after "
                   "edits, or the app closed before the classifier finished.")  # fmt: skip
HIDDEN_COLOUR = QColor(140, 140, 140)
OVERRIDE_COLOUR = QColor(255, 196, 110)
_CHECK_WORDS = {CheckStatus.IN_RANGE: "in range", CheckStatus.OVERRIDDEN: "⚠ run by override",
                CheckStatus.NOT_RECORDED: "not recorded"}  # fmt: skip


def state_text(item: ReviewFinding) -> str:
    if item.decision is Decision.REJECTED and item.reason is not None:
        note = f" ({item.note})" if item.note else ""
        return f"rejected: {item.reason.value}{note}"
    if item.decision is Decision.EDITED:
        return f"accepted, edited (mask v{item.mask_version})"
    return str(item.decision.value)


def class_text(item: ReviewFinding) -> str:
    finding, recomputed = item.finding, item.recomputed_class
    if item.origin != "ai":
        return "radiologist"
    if item.mask_version and recomputed is not None and recomputed.status is ClassStatus.RECOMPUTING:
        return RECOMPUTING
    if item.mask_version and not finding.top_class:
        return NOT_RECOMPUTED
    if not finding.top_class:
        return "—"
    shown = f"{finding.top_class} {finding.class_probabilities[finding.top_class]:.2f}"
    return f"{shown} {RECOMPUTED}" if item.mask_version else shown


def class_tooltip(item: ReviewFinding) -> str:
    """Where an edited finding's class comes from, or why it was not recomputed."""
    recomputed = item.recomputed_class
    if item.origin != "ai" or not item.mask_version:
        return ""
    if recomputed is None:
        return NO_CLASS_RECORD
    if recomputed.status is ClassStatus.RECOMPUTING:
        return "The AI run's classifier is classifying the edited mask."
    if recomputed.status is ClassStatus.NOT_RECOMPUTED:
        return recomputed.why
    return (f"Recomputed for mask v{recomputed.mask_version} by the AI run's own classifier {recomputed.model_ref}"
            f" ({recomputed.time_utc}). {EXPLANATION}")  # fmt: skip


def row_values(item: ReviewFinding, volume: Volume | None) -> tuple[str, ...]:
    f = item.finding
    prob = f"{f.max_prob:.2f}" if item.origin == "ai" else "—"
    return (f.id, location_text(f, volume), f"{f.long_axis_mm:.1f}", f"{f.volume_ml:.2f}", f"{f.mean_hu:.0f}",
            class_text(item), prob, state_text(item))  # fmt: skip


def input_text(item: ReviewFinding, check: InputCheck | None, volume: Volume | None) -> str:
    """The input check beside an AI finding; "series ⚠" wherever the series has geometry warnings."""
    warned = " · series ⚠" if volume is not None and volume.warnings else ""
    if item.origin != "ai":
        return "series ⚠" if warned else "—"
    status = check.status if check is not None else CheckStatus.NOT_RECORDED
    noted = " · note" if check is not None and check.notes and status is CheckStatus.IN_RANGE else ""
    return _CHECK_WORDS.get(status, status.value) + noted + warned


def input_tooltip(item: ReviewFinding, check: InputCheck | None, volume: Volume | None) -> str:
    lines = [] if item.origin != "ai" else check.lines() if check is not None else ["AI input check: not recorded."]
    series = [w.message for w in volume.warnings] if volume is not None else []
    lines += [f"series: {w}" for w in series if not any(w in line for line in lines)]
    return "\n".join(lines)


class FindingsTable(QTableWidget):
    """Rows mirror the review's findings; ``finding_chosen`` fires on click, arrow keys or Enter."""

    finding_chosen = Signal(str)
    finding_activated = Signal(str)  # Enter or double click: jump there again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        location = self.horizontalHeaderItem(1)
        if location is not None:
            location.setToolTip("Lung and zone (third of that lung's height, from the lung mask; not a lobe) · slice")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._ids: list[str] = []
        self._filling = False
        self.currentCellChanged.connect(self._on_current_cell_changed)
        self.cellActivated.connect(self._on_cell_activated)

    def show_findings(self, findings: list[tuple[ReviewFinding, int, bool]], volume: Volume | None,
                      selected: str, input_check: InputCheck | None = None) -> None:  # fmt: skip
        """Rows for ``(finding, colour number, visible)``; hidden ones (below threshold) are greyed."""
        self._filling = True
        self.setRowCount(len(findings))
        self._ids = [item.id for item, _, _ in findings]
        for row, (item, colour, visible) in enumerate(findings):
            for column, text in enumerate((*row_values(item, volume), input_text(item, input_check, volume))):
                cell = QTableWidgetItem(text)
                if not visible:
                    cell.setForeground(QBrush(HIDDEN_COLOUR))
                    cell.setToolTip("Below the confidence threshold: not drawn on the images, still to be decided.")
                self.setItem(row, column, cell)
            self._style_input_cell(row, item, input_check, volume)
            tip = class_tooltip(item)
            class_cell = self.item(row, CLASS_COLUMN)
            if tip and visible and class_cell is not None:
                class_cell.setToolTip(tip)
            place = self.item(row, COLUMNS.index("Location"))
            if place is not None and visible:
                place.setToolTip(location_tooltip(item.finding))
            swatch = self.item(row, 0)
            assert swatch is not None
            swatch.setBackground(QBrush(QColor(*FINDING_COLOURS[colour - 1])))
            swatch.setForeground(QBrush(QColor(0, 0, 0)))
        self._filling = False
        self.select_id(selected)

    def _style_input_cell(self, row: int, item: ReviewFinding, check: InputCheck | None,
                          volume: Volume | None) -> None:  # fmt: skip
        cell = self.item(row, INPUT_COLUMN)
        assert cell is not None
        cell.setToolTip(input_tooltip(item, check, volume))
        if item.origin == "ai" and check is not None and check.status is CheckStatus.OVERRIDDEN:
            cell.setBackground(QBrush(OVERRIDE_COLOUR))
            cell.setForeground(QBrush(QColor(0, 0, 0)))

    def select_id(self, finding_id: str) -> None:
        if finding_id in self._ids and self.currentRow() != self._ids.index(finding_id):
            self._filling = True
            self.setCurrentCell(self._ids.index(finding_id), 0)
            self._filling = False

    def _on_current_cell_changed(self, row: int, _col: int, _prev_row: int, _prev_col: int) -> None:
        if not self._filling and 0 <= row < len(self._ids):
            self.finding_chosen.emit(self._ids[row])

    def _on_cell_activated(self, row: int, _col: int) -> None:
        if 0 <= row < len(self._ids):
            self.finding_activated.emit(self._ids[row])

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            row = self.currentRow()
            if 0 <= row < len(self._ids):
                self.finding_activated.emit(self._ids[row])
                event.accept()
                return
        super().keyPressEvent(event)
