"""Per-frame geometry and rescale, for single-frame and (enhanced) multi-frame files.

Enhanced CT/MR keep position, orientation, spacing and rescale in the Shared and
Per-frame Functional Groups (PS3.3 C.7.6.16); per-frame values win over shared ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pydicom

from meddiag_desktop.errors import DicomReadError

if TYPE_CHECKING:
    from pydicom import Dataset

    from meddiag_desktop.core.records import InstanceRecord


@dataclass(frozen=True)
class FrameInfo:
    frame: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    slope: float = 1.0
    intercept: float = 0.0
    thickness: float | None = None


def frames_of(record: InstanceRecord) -> list[FrameInfo]:
    """Every frame of one indexed file with its own geometry."""
    if record.frames <= 1:
        return [
            FrameInfo(
                0, record.position, record.orientation, record.pixel_spacing,
                record.rescale_slope, record.rescale_intercept, record.slice_thickness,
            )
        ]  # fmt: skip
    try:
        ds = pydicom.dcmread(record.path, stop_before_pixels=True)
    except Exception as exc:
        raise DicomReadError(f"The multi-frame file {record.path} cannot be read: {exc}") from exc
    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence", []))
    return [_frame_info(i, record, shared, per_frame[i] if i < len(per_frame) else None) for i in range(record.frames)]


def _first_item(ds: Dataset | None, keyword: str) -> Dataset | None:
    if ds is None:
        return None
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _lookup(groups: tuple[Dataset | None, ...], macro: str, attribute: str) -> object:
    for group in groups:
        item = _first_item(group, macro)
        if item is not None and attribute in item:
            return item.get(attribute)
    return None


def _frame_info(i: int, record: InstanceRecord, shared: Dataset | None, frame: Dataset | None) -> FrameInfo:
    groups = (frame, shared)
    position = _lookup(groups, "PlanePositionSequence", "ImagePositionPatient")
    orientation = _lookup(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
    spacing = _lookup(groups, "PixelMeasuresSequence", "PixelSpacing")
    thickness = _lookup(groups, "PixelMeasuresSequence", "SliceThickness")
    slope = _lookup(groups, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = _lookup(groups, "PixelValueTransformationSequence", "RescaleIntercept")
    return FrameInfo(
        frame=i,
        position=_tuple(position, 3) or (record.position if record.frames == 1 else None),  # type: ignore[arg-type]
        orientation=_tuple(orientation, 6) or record.orientation,
        pixel_spacing=_tuple(spacing, 2) or record.pixel_spacing,  # type: ignore[arg-type]
        slope=float(slope) if slope is not None else record.rescale_slope,  # type: ignore[arg-type]
        intercept=float(intercept) if intercept is not None else record.rescale_intercept,  # type: ignore[arg-type]
        thickness=float(thickness) if thickness is not None else record.slice_thickness,  # type: ignore[arg-type]
    )


def _tuple(value: object, count: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        values = tuple(float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return values if len(values) == count else None
