"""The review dock's widgets (no logic): notice, Run AI, findings, decisions, edit bar, overlays, sign-off, export."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.ui.review.colour_bar import ColourBar
from meddiag_desktop.ui.review.findings_table import FindingsTable
from meddiag_desktop.ui.review.overlay_layers import DEFAULT_FILL_OPACITY, MAX_FILL_OPACITY, MaskStyle
from meddiag_desktop.ui.review.review_overlays import HeatSource

NOTICE = "AI output is decision support; the radiologist decides."
NOTICE_STYLE = "background:#5a4500; color:#ffe9a8; font-weight:bold; padding:4px; border-radius:3px;"
READ_FIRST_STYLE = "background:#1d3b5a; color:#d6ecff; padding:4px; border-radius:3px;"
INPUT_CHECK_STYLE = "background:#6b3d00; color:#ffe2b0; padding:4px; border-radius:3px;"


def _slider(maximum: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, maximum)
    slider.setValue(value)
    return slider


def _pairs(*widgets: QWidget) -> QGridLayout:
    """Widgets two to a row, so the panel stays narrow enough to leave the images most of the screen."""
    grid = QGridLayout()
    grid.setContentsMargins(0, 0, 0, 0)
    for index, widget in enumerate(widgets):
        grid.addWidget(widget, *divmod(index, 2))
    return grid


def _row(*widgets: QWidget, stretch: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget)
    if stretch:
        row.addStretch(1)
    return row


class EditBar(QFrame):
    """Brush / eraser, size, undo / redo, save / cancel; shown while a mask is being edited."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.brush = QRadioButton("Brush (B)")
        self.eraser = QRadioButton("Eraser (X)")
        self.brush.setChecked(True)
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.5, 30.0)
        self.radius.setSingleStep(0.5)
        self.radius.setSuffix(" mm")
        self.radius.setToolTip("Brush radius ([ smaller, ] larger)")
        self.undo, self.redo = QPushButton("Undo"), QPushButton("Redo")
        self.save, self.cancel = QPushButton("Save mask (Ctrl+Enter)"), QPushButton("Cancel (Esc)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(_row(self.brush, self.eraser, QLabel("radius"), self.radius, stretch=True))
        layout.addLayout(_pairs(self.undo, self.redo, self.save, self.cancel))


class ReviewPanel(QWidget):
    """Everything the radiologist needs to review one AI run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = QLabel(NOTICE)
        self.notice.setStyleSheet(NOTICE_STYLE)
        self.notice.setWordWrap(True)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.card_button = QPushButton("Segmentation card…")
        self.card_button.setToolTip("The segmentation model's card: intended use, validation, limitations")
        self.cls_card_button = QPushButton("Classification card…")
        self.cls_card_button.setToolTip("The density classifier's card: intended use, validation, limitations")
        self.run_button, self.cancel_button = QPushButton("Run AI"), QPushButton("Cancel")
        self.auto_run = QCheckBox("Run AI when a matching series opens")
        self.auto_run.setToolTip("Concurrent reading mode only: in read-first mode you read before the AI runs")
        self.reading_label = QLabel()
        self.reading_label.setWordWrap(True)
        self.reading_label.setStyleSheet(READ_FIRST_STYLE)
        self.reading_label.setVisible(False)
        self.reveal_button = QPushButton("Reveal AI findings (Ctrl+Shift+R)")
        self.reveal_button.setVisible(False)
        self.input_check_label = QLabel()  # the run's override and the series' warnings (see findings "Input")
        self.input_check_label.setWordWrap(True)
        self.input_check_label.setStyleSheet(INPUT_CHECK_STYLE)
        self.input_check_label.setVisible(False)
        self.table = FindingsTable()
        self.measurements_title = QLabel("Measurements (kept with the series): none")
        self.measurement_list = QListWidget()  # "M1 length 23.4 mm, axial slice 57"
        self.measurement_list.setMaximumHeight(90)
        self.measurement_list.setWordWrap(True)
        self.measurement_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.measurement_list.setVisible(False)
        self.accept_button, self.reject_button = QPushButton("Accept (A)"), QPushButton("Reject… (R)")
        self.edit_button, self.add_button = QPushButton("Edit mask (E)"), QPushButton("Draw missed (D)")
        self.undo_button = QPushButton("Undo decision (Ctrl+Z)")  # until sign-off; audited, nothing deleted
        self.edit_bar = EditBar()
        self.edit_bar.setVisible(False)
        self._build_overlay_controls()
        self.status = QLabel("No AI review for this series. Open a series and press Run AI.")
        self.status.setWordWrap(True)
        self.sign_button, self.amend_button = QPushButton("Sign off…"), QPushButton("Amend…")
        self._build_export_controls()
        self._lay_out()

    def _build_export_controls(self) -> None:
        self.export_button = QPushButton("Export SEG + SR…")
        self.deid_button = QPushButton("Export de-identified…")
        self.report_button = QPushButton("Save report…")
        self.report_privacy = QCheckBox("Report without patient details (privacy)")
        self.report_privacy.setToolTip("The saved report leaves out the patient's and the study's identifying details")
        self.export_status = QLabel()
        self.export_status.setWordWrap(True)
        # Long file names must not widen the panel (its buttons would slide out of view): cut them instead.
        self.export_status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.export_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_status.setVisible(False)

    def _build_overlay_controls(self) -> None:
        self.shown = QCheckBox("AI overlays (O)")
        self.shown.setChecked(True)
        self.style_box = QComboBox()
        for style in MaskStyle:
            self.style_box.addItem(style.value, style)
        self.style_box.setCurrentIndex(list(MaskStyle).index(MaskStyle.OUTLINE))
        self.opacity = _slider(round(MAX_FILL_OPACITY * 100), round(DEFAULT_FILL_OPACITY * 100))
        self.heat_box = QComboBox()
        for source in HeatSource:
            self.heat_box.addItem(f"Heat map: {source.value}", source)
        self.heat_box.setCurrentIndex(list(HeatSource).index(HeatSource.PROBABILITY))
        self.heat_opacity = _slider(100, 35)  # the tissue under the heat map stays visible
        self.colour_bar = ColourBar()
        self.colour_bar.setVisible(False)
        self.threshold = _slider(100, 0)
        self.threshold_label = QLabel()

    def _lay_out(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.notice)
        layout.addWidget(self.model_label)
        layout.addLayout(_row(self.card_button, self.cls_card_button, stretch=True))
        layout.addLayout(_row(self.run_button, stretch=True))  # its text names the models: no room beside it
        layout.addLayout(_row(self.cancel_button, stretch=True))
        layout.addWidget(self.auto_run)
        layout.addWidget(self.reading_label)
        layout.addWidget(self.reveal_button)
        layout.addWidget(self.input_check_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.measurements_title)
        layout.addWidget(self.measurement_list)
        layout.addLayout(
            _pairs(self.accept_button, self.reject_button, self.edit_button, self.add_button, self.undo_button)
        )
        layout.addWidget(self.edit_bar)
        grid = QGridLayout()
        grid.addWidget(self.shown, 0, 0)
        grid.addWidget(self.style_box, 0, 1)
        grid.addWidget(QLabel("Fill opacity (max 30 %)"), 1, 0)
        grid.addWidget(self.opacity, 1, 1)
        grid.addWidget(self.heat_box, 2, 0)
        grid.addWidget(self.heat_opacity, 2, 1)
        grid.addWidget(self.threshold_label, 3, 0)
        grid.addWidget(self.threshold, 3, 1)
        layout.addLayout(grid)
        layout.addWidget(self.colour_bar)
        layout.addWidget(self.status)
        layout.addLayout(_row(self.sign_button, self.amend_button, stretch=True))
        layout.addLayout(_pairs(self.export_button, self.deid_button, self.report_button))
        layout.addWidget(self.report_privacy)
        layout.addWidget(self.export_status)

    def show_measurements(self, lines: list[str]) -> None:
        """The shown series' measurements, listed under its findings."""
        self.measurements_title.setText(f"Measurements (kept with the series): {len(lines) or 'none'}")
        self.measurement_list.clear()
        self.measurement_list.addItems(lines)
        self.measurement_list.setVisible(bool(lines))

    def set_threshold_text(self, threshold: float) -> None:
        self.threshold_label.setText(f"Hide AI p < {threshold:.2f}")

    def set_export_status(self, text: str, *, error: bool = False) -> None:
        self.export_status.setStyleSheet("color:#c0392b;" if error else "")
        self.export_status.setText(text)
        self.export_status.setToolTip(text)  # a long file name is cut at the panel's edge; here it is whole
        self.export_status.setVisible(bool(text))
