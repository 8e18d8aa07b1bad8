"""The "Studies" dock: search box, folder / whole-index scope, the study list and the files not read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from meddiag_desktop.core.records import ScanProblem
    from meddiag_desktop.ui.browser.snapshot import BrowserSnapshot
    from meddiag_desktop.ui.browser.study_browser import StudyBrowser

SEARCH_HINT = "Search name, ID, date, modality, description"
PROBLEMS_MAX_HEIGHT = 220


class ProblemFiles(QTreeWidget):
    """One line, "N files: not DICOM or unreadable", that expands to each file and why; hidden when none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.itemExpanded.connect(self._on_item_expanded)
        self.itemCollapsed.connect(self._on_item_collapsed)
        self.setVisible(False)

    def show_problems(self, problems: tuple[ScanProblem, ...]) -> None:
        self.clear()
        self.setVisible(bool(problems))
        if not problems:
            return
        noun = "file" if len(problems) == 1 else "files"
        top = QTreeWidgetItem(self, [f"⚠ {len(problems)} {noun}: not DICOM or unreadable"])
        top.setFirstColumnSpanned(True)
        for problem in problems:
            child = QTreeWidgetItem(top, [Path(problem.path).name, problem.reason])
            child.setToolTip(0, problem.path)
            child.setToolTip(1, problem.reason)
        self._fit()

    def summary(self) -> str:
        top = self.topLevelItem(0)
        return top.text(0) if top is not None else ""

    def listed(self) -> list[tuple[str, str]]:
        """``(file name, reason)`` of every file listed."""
        top = self.topLevelItem(0)
        children = [top.child(i) for i in range(top.childCount())] if top is not None else []
        return [(child.text(0), child.text(1)) for child in children if child is not None]

    def _on_item_expanded(self, _item: QTreeWidgetItem) -> None:
        self._fit()

    def _on_item_collapsed(self, _item: QTreeWidgetItem) -> None:
        self._fit()

    def _fit(self) -> None:
        """One line while collapsed, so the study list keeps the room; expanded, as many as fit."""
        top = self.topLevelItem(0)
        lines = 1 + (top.childCount() if top is not None and top.isExpanded() else 0)
        height = lines * self.sizeHintForRow(0) + 2 * self.frameWidth() + 2
        self.setFixedHeight(min(height, PROBLEMS_MAX_HEIGHT))


class BrowserPanel(QWidget):
    """Wraps the ``StudyBrowser`` with its search box and scope switch; the browser does the work."""

    def __init__(self, browser: StudyBrowser, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser = browser
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(SEARCH_HINT)
        self.search.setClearButtonEnabled(True)
        self.show_all = QCheckBox("All indexed studies", self)
        self.show_all.setToolTip("Also list the studies indexed earlier from other folders")
        self.problems = ProblemFiles(self)
        self._lay_out()
        self.search.textChanged.connect(self._on_search_text_changed)
        self.show_all.toggled.connect(self._on_show_all_toggled)
        browser.snapshot_applied.connect(self._on_browser_snapshot_applied)
        browser.folder_changed.connect(self._on_browser_folder_changed)

    def _lay_out(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.show_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.problems)

    def _on_search_text_changed(self, text: str) -> None:
        self.browser.set_search(text)

    def _on_show_all_toggled(self, checked: bool) -> None:
        self.browser.set_show_all(checked)

    def _on_browser_folder_changed(self, _folder: str) -> None:
        """A newly opened folder starts unfiltered, showing only its own studies."""
        self.search.clear()
        self.show_all.setChecked(False)

    def _on_browser_snapshot_applied(self, snapshot: BrowserSnapshot) -> None:
        studies = [st for p in snapshot.patients for st in p.studies]
        others = sum(1 for st in studies if not snapshot.in_folder(st))
        self.show_all.setText(f"All indexed studies (+{others})" if others else "All indexed studies")
        self.problems.show_problems(snapshot.problems)
