"""The state every view of the viewer shares: volume, cursor point, window, privacy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.slab import DEFAULT_MM, MAX_MM, MIN_MM, SlabMode, slab_half_count
from meddiag_desktop.core.window_level import WindowLevel, default_window

if TYPE_CHECKING:
    from meddiag_desktop.core.volume import Volume


@dataclass(frozen=True)
class SeriesInfo:
    """The open series as the corner text shows it (identity hidden in privacy mode), and its results folder."""

    series_uid: str = ""
    study_uid: str = ""
    description: str = ""
    modality: str = ""
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    study_date: str = ""
    stack_label: str = ""
    results_folder: str = ""  # where exports go by default: meddiag-results/ beside the study


class ViewerState(QObject):
    """Shared by the views; a model without views, it only emits signals."""

    volume_changed = Signal()
    position_changed = Signal()
    display_changed = Signal()
    slice_loaded = Signal(int)
    loading_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.volume: Volume | None = None
        self.info = SeriesInfo()
        self.position: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.window = WindowLevel(40.0, 400.0)
        self.invert = False
        self.privacy = False
        self.loading = False
        self.value_range = 4096.0
        self.slab_mode = SlabMode.OFF
        self.slab_mm = DEFAULT_MM

    def set_volume(self, volume: Volume | None, info: SeriesInfo, *, loading: bool = False) -> None:
        """Show ``volume`` (its array may still be filling while ``loading``)."""
        self.volume, self.info = volume, info
        self.loading = loading
        if volume is not None:
            z, y, x = volume.shape
            self.position = ((z - 1) / 2.0, (y - 1) / 2.0, (x - 1) / 2.0)
            self.invert = volume.display.invert
            self.window = self.initial_window(volume)
        self.volume_changed.emit()
        self.display_changed.emit()
        self.position_changed.emit()

    def initial_window(self, volume: Volume) -> WindowLevel:
        if volume.display.is_color:
            return WindowLevel(127.5, 255.0)
        if volume.display.windows:
            return default_window(volume.display.windows, 0.0, 1.0)
        return WindowLevel(40.0, 400.0) if volume.display.units == "HU" else WindowLevel(127.5, 255.0)

    def refresh_window_from_data(self) -> None:
        """Once loaded, a series without a header window gets its data range."""
        if self.volume is None or self.volume.display.is_color:
            return
        data = self.volume.array
        low, high = float(np.min(data)), float(np.max(data))
        self.value_range = max(high - low, 1.0)
        if not self.volume.display.windows and self.volume.display.units != "HU":
            self.set_window(WindowLevel.from_bounds(low, high))

    def finish_loading(self, volume: Volume) -> None:
        """The same volume, now complete: redraw every view and settle the window."""
        self.volume = volume
        self.set_loading(False)
        self.refresh_window_from_data()
        self.display_changed.emit()

    def set_loading(self, loading: bool) -> None:
        self.loading = loading
        self.loading_changed.emit(loading)

    def set_position(self, position: tuple[float, float, float]) -> None:
        if self.volume is None:
            return
        shape = self.volume.shape
        clamped = tuple(float(np.clip(p, 0, n - 1)) for p, n in zip(position, shape, strict=True))
        if clamped != self.position:
            self.position = (clamped[0], clamped[1], clamped[2])
            self.position_changed.emit()

    def step_slice(self, axis: int, steps: int) -> None:
        """Move the cursor ``steps`` slices along array ``axis``."""
        moved = list(self.position)
        moved[axis] = round(moved[axis]) + steps
        self.set_position((moved[0], moved[1], moved[2]))

    def set_window(self, window: WindowLevel) -> None:
        self.window = window
        self.display_changed.emit()

    def set_slab(self, mode: SlabMode, thickness_mm: float) -> None:
        """Show every view as a thick slab (MIP or mean) of ``thickness_mm`` (5-20), or not (OFF)."""
        self.slab_mode = mode
        self.slab_mm = float(np.clip(thickness_mm, MIN_MM, MAX_MM))
        self.display_changed.emit()

    def slab_half(self, axis: int) -> int:
        """Slices on each side of the plane in the slab along array ``axis`` (0 when off)."""
        if self.volume is None or self.slab_mode is SlabMode.OFF:
            return 0
        return slab_half_count(self.slab_mm, self.volume.spacing[axis])

    def set_invert(self, invert: bool) -> None:
        self.invert = invert
        self.display_changed.emit()

    def set_privacy(self, privacy: bool) -> None:
        self.privacy = privacy
        self.display_changed.emit()

    def header_window(self) -> WindowLevel | None:
        """The series' own first DICOM window, if it has one."""
        if self.volume is None or not self.volume.display.windows:
            return None
        return default_window(self.volume.display.windows, 0.0, 1.0)
