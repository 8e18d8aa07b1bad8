"""Search and sort for the study list: the folder just opened first, the rest of the index on request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSortFilterProxyModel, Qt

from meddiag_desktop.ui.browser.study_rows import FOLDER_ROLE, SEARCH_ROLE, SORT_ROLE

if TYPE_CHECKING:
    from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex

    ModelIndex = QModelIndex | QPersistentModelIndex


class StudyFilter(QSortFilterProxyModel):
    """Keeps a study when every search word is in its text or in the text of one of its rows.

    A study that matches keeps all its rows; otherwise only the rows that match (with the study's
    own text) are kept. Studies outside the opened folder are kept only when ``show_all`` is set.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._words: tuple[str, ...] = ()
        self.show_all = False
        self.setSortRole(SORT_ROLE)

    @property
    def words(self) -> tuple[str, ...]:
        return self._words

    def in_folder(self, index: ModelIndex) -> bool:
        """Whether a study row (of this proxy) has files in the opened folder."""
        return bool(index.sibling(index.row(), 0).data(FOLDER_ROLE))

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._words = tuple(text.lower().split())
        self.endFilterChange()

    def set_show_all(self, show_all: bool) -> None:
        self.beginFilterChange()
        self.show_all = show_all
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        index = self.sourceModel().index(source_row, 0, source_parent)
        if source_parent.isValid():  # a series or result row
            return self._matches(_text(source_parent), _text(index))
        if not (self.show_all or index.data(FOLDER_ROLE)):
            return False
        model, study = self.sourceModel(), _text(index)
        rows = (model.index(r, 0, index) for r in range(model.rowCount(index)))
        return self._matches(study) or any(self._matches(study, _text(child)) for child in rows)

    def _matches(self, *texts: str) -> bool:
        joined = " ".join(texts)
        return all(word in joined for word in self._words)

    def lessThan(self, source_left: ModelIndex, source_right: ModelIndex) -> bool:
        if not source_left.parent().isValid():
            left_here = bool(source_left.sibling(source_left.row(), 0).data(FOLDER_ROLE))
            right_here = bool(source_right.sibling(source_right.row(), 0).data(FOLDER_ROLE))
            if left_here != right_here:  # the opened folder's studies come first in either sort order
                return left_here if self.sortOrder() is Qt.SortOrder.AscendingOrder else right_here
        left, right = source_left.data(SORT_ROLE), source_right.data(SORT_ROLE)
        if type(left) is not type(right):
            return str(left) < str(right)
        return bool(left < right)


def _text(index: ModelIndex) -> str:
    return str(index.data(SEARCH_ROLE) or "")
