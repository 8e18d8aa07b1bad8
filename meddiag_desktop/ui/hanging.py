"""A simple hanging protocol: the last viewport arrangement per modality, kept across restarts.

The arrangements live in ``hanging.json`` in the per-user config folder (``Settings.config_dir``),
e.g. ``{"CT": {"layout": "2x2", "planes": ["axial", "coronal", "sagittal", "axial"]}}``.
A missing or unreadable file means the defaults (1×3 axial, coronal, sagittal).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.viewer.layouts import Arrangement, Layout

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget

log = logging.getLogger(__name__)
FILE_NAME = "hanging.json"
DEFAULT = Arrangement.default(Layout.MPR)


class HangingStore:
    """Arrangements by modality in a small JSON file (no Qt)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved = self._read()

    def _read(self) -> dict[str, Arrangement]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("hanging protocols ignored: %s", exc)
            return {}
        saved = {}
        for modality, entry in data.items() if isinstance(data, dict) else ():
            try:
                saved[str(modality)] = Arrangement.from_json(entry)
            except ValueError as exc:
                log.warning("hanging protocol for %s ignored: %s", modality, exc)
        return saved

    def get(self, modality: str) -> Arrangement | None:
        return self._saved.get(_key(modality))

    def remember(self, modality: str, arrangement: Arrangement) -> None:
        """Keep ``arrangement`` for ``modality`` and write the file (raises ``OSError`` if it cannot)."""
        self._saved[_key(modality)] = arrangement
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {modality: entry.to_json() for modality, entry in self._saved.items()}
        self.path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _key(modality: str) -> str:
    return modality.strip().upper() or "OTHER"


class HangingProtocol(QObject):
    """Applies the modality's arrangement when a series opens; remembers the one the user picks."""

    def __init__(
        self, viewer: ViewerWidget, store: HangingStore, notes: NotificationPanel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._viewer, self._store, self._notes = viewer, store, notes
        self._applying = False
        viewer.state.volume_changed.connect(self._on_state_volume_changed)
        viewer.layout_changed.connect(self._on_viewer_layout_changed)

    def _modality(self) -> str:
        volume = self._viewer.state.volume
        return "" if volume is None else volume.modality

    def _on_state_volume_changed(self) -> None:
        if self._viewer.state.volume is None:
            return
        self._applying = True
        try:
            self._viewer.set_arrangement(self._store.get(self._modality()) or DEFAULT)
        finally:
            self._applying = False

    def _on_viewer_layout_changed(self, arrangement: Arrangement) -> None:
        if self._applying or self._viewer.state.volume is None:
            return
        if arrangement == (self._store.get(self._modality()) or DEFAULT):
            return
        try:
            self._store.remember(self._modality(), arrangement)
        except OSError as exc:
            self._notes.notify(Level.WARNING, f"The layout for {self._modality() or 'this modality'} "
                                              f"could not be remembered: {exc.strerror}")  # fmt: skip
