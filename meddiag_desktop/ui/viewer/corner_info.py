"""Text for the four corners of a slice view, and keyboard slice steps.

Identity fields (name, ID, birth date) appear only here and in the browser, and never when
privacy mode is on. Nothing in this module logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt

from meddiag_desktop.core.slab import slab_label
from meddiag_desktop.core.volume import PIXEL_PROBLEMS, WarningKind
from meddiag_desktop.core.window_level import preset_name
from meddiag_desktop.ui.viewer.orientation import lps_of_index

if TYPE_CHECKING:
    from PySide6.QtCore import QPointF

    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.ui.viewer.slice_view import SliceView
    from meddiag_desktop.ui.viewer.state import ViewerState

HIDDEN = "(identity hidden)"
_AXIS_NAME = ("X", "Y", "Z")
PAGE = 10
PIXEL_BADGE = "⚠ PIXEL DATA SUSPECT"
BANNER_CORRUPT = "⚠ Pixel data probably corrupt: not a valid image."
BANNER_BLANK = "⚠ Some images could not be decoded and are blank."


def unpositioned(volume: Volume) -> bool:
    """True when the series has no position information (letters would be meaningless)."""
    return any(w.kind is WarningKind.MISSING_POSITION for w in volume.warnings)


def identity_text(state: ViewerState) -> str:
    info = state.info
    identity = [info.patient_name or "(no name)", _id_line(info.patient_id, info.birth_date)]
    lines = [HIDDEN] if state.privacy else identity
    lines += [_join(_date(info.study_date), info.modality), info.description or "(no description)"]
    if info.stack_label:
        lines.append(info.stack_label)
    return "\n".join(line for line in lines if line)


def _id_line(patient_id: str, birth_date: str) -> str:
    parts = [f"ID {patient_id}" if patient_id else "", f"born {birth_date}" if birth_date else ""]
    return "  ".join(p for p in parts if p)


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def _join(*parts: str) -> str:
    return "  ".join(p for p in parts if p)


def slice_text(view: SliceView, volume: Volume) -> str:
    geometry = view.geometry
    if geometry is None:
        return ""
    lines = [f"{view.plane.value.capitalize()}  {view.slice_index + 1}/{geometry.slice_count}"]
    if not unpositioned(volume):
        lines.append(_slice_position(view, volume))
    if not volume.display.is_color:
        lines.append(window_text(view.state))
    lines.append(slab_label(view.state.slab_mode, view.state.slab_mm))
    lines.append(f"zoom {view.zoom_factor():.2f}x")
    return "\n".join(line for line in lines if line)


def window_text(state: ViewerState) -> str:
    """ "W 1500 / L -600  Lung": the window, its preset's name if it is one, and inversion."""
    return _join(state.window.label(), preset_name(state.window), "inverted" if state.invert else "")


def _slice_position(view: SliceView, volume: Volume) -> str:
    """The position of the shown slice (not of the fractional cursor), so it agrees with its number."""
    slice_axis = view.geometry.axes.slice_axis if view.geometry else 0
    index = list(view.state.position)
    index[slice_axis] = view.slice_index
    lps = lps_of_index(volume, (index[0], index[1], index[2]))
    axis = int(np.argmax(np.abs(volume.affine[:3, slice_axis])))
    return f"{_AXIS_NAME[axis]} {lps[axis]:.1f} mm"


def cursor_text(view: SliceView, volume: Volume, hover: QPointF | None) -> str:
    geometry = view.geometry
    if hover is None or geometry is None:
        return ""
    index = geometry.to_index(hover.x(), hover.y(), view.slice_index)
    rounded = [round(i) for i in index]
    if any(r < 0 or r >= n for r, n in zip(rounded, volume.shape, strict=True)):
        return ""
    value = volume.array[rounded[0], rounded[1], rounded[2]]
    text = _value_text(value, volume.display.units)
    if not unpositioned(volume):
        lps = lps_of_index(volume, index)
        text += f"\nLPS {lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f} mm"
    return text


def _value_text(value: object, units: str) -> str:
    array = np.asarray(value)
    if array.ndim:
        return "RGB " + ", ".join(str(int(v)) for v in array)
    return f"{float(array):.0f} {units}".rstrip() if units else f"value {float(array):g}"


def status_text(state: ViewerState) -> str:
    """Bottom-right badges: loading, corrupt pixel data, and the number of geometry warnings."""
    volume = state.volume
    lines = ["loading…"] if state.loading else []
    if volume is not None and pixel_problems(volume):
        lines.append(PIXEL_BADGE)
    geometry = [w for w in volume.warnings if w.kind not in PIXEL_PROBLEMS] if volume is not None else []
    if geometry:
        lines.append(f"⚠ {len(geometry)} geometry warning" + ("s" if len(geometry) > 1 else ""))
    return "\n".join(lines)


def pixel_problems(volume: Volume) -> list[str]:
    """The volume's warnings about pixels that are not the image (corrupt or undecodable)."""
    return [w.message for w in volume.warnings if w.kind in PIXEL_PROBLEMS]


def banner_text(volume: Volume | None) -> str:
    """The banner drawn over the image when some of its pixels are not the image ("" when none).

    Short, so the image stays visible below it; the full reasons are in the notifications.
    """
    problems = [w.kind for w in volume.warnings if w.kind in PIXEL_PROBLEMS] if volume is not None else []
    if not problems:
        return ""
    what = BANNER_CORRUPT if WarningKind.IMPLAUSIBLE_PIXELS in problems else BANNER_BLANK
    return f"{what}\nDo not read from it. Details: Notifications."


def slice_steps_for_key(key: int, slice_count: int) -> int | None:
    """Slices to move for a navigation key (None: not a navigation key)."""
    steps = {
        Qt.Key.Key_Up: -1,
        Qt.Key.Key_Left: -1,
        Qt.Key.Key_Down: 1,
        Qt.Key.Key_Right: 1,
        Qt.Key.Key_PageUp: -PAGE,
        Qt.Key.Key_PageDown: PAGE,
        Qt.Key.Key_Home: -slice_count,
        Qt.Key.Key_End: slice_count,
    }
    return steps.get(Qt.Key(key))
