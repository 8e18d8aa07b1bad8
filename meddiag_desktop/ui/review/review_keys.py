"""The AI review's keys work wherever focus is, and a key that cannot act says why instead.

The review actions are application shortcuts, so a key pressed in a floating panel or another
window of the app still reaches the review. Typing stays typing: a text field (the reject note,
the browser's search box) claims printable keys and Ctrl+Z before any shortcut (Qt's
ShortcutOverride), and a modal dialog blocks application shortcuts of the window behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtGui import QAction

    from meddiag_desktop.ui.controllers.review_controller import ReviewController

WINDOW_ONLY = frozenset({"cancel_edit"})  # Esc: menus and pop-ups of other windows keep their own Esc


@dataclass(frozen=True)
class KeyNeeds:
    """What a review key needs before it acts."""

    finding: bool = False  # a selected finding
    open_: bool = True  # the newest version, not signed off


NEEDS: dict[str, KeyNeeds] = {
    "next": KeyNeeds(open_=False),
    "previous": KeyNeeds(open_=False),
    "undecided": KeyNeeds(open_=False),
    "accept": KeyNeeds(finding=True),
    "reject": KeyNeeds(finding=True),
    "edit": KeyNeeds(finding=True),
    "add": KeyNeeds(),
    "undo_decision": KeyNeeds(),
    "sign": KeyNeeds(),
    "reveal": KeyNeeds(),
    "amend": KeyNeeds(open_=False),
    "history": KeyNeeds(open_=False),
}


def application_wide(name: str, action: QAction) -> None:
    if name not in WINDOW_ONLY:
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)


def guarded(name: str, review: ReviewController, act: Callable[[], object],
            explain: Callable[[str], None]) -> Callable[[], object]:  # fmt: skip
    """``act`` when ``name`` can act on the review now, else ``explain(why)``."""
    needs = NEEDS.get(name)
    if needs is None:
        return act

    def run() -> object:
        why = review.why_not(needs.finding, needs.open_)
        if why:
            explain(why)
            return None
        return act()

    return run
