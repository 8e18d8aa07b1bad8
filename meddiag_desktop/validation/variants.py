"""A case's scan and reference lesions in its sampling variant (``Case.variant``).

Thick slices are averaged (``--thick``), finer slice spacing is interpolated (``--reslice``) and
coarser pixels are area means (``--pixels``); the lesions follow onto the new grid. A variant
that would change nothing (slices already that thick, pixels already that coarse) is skipped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from meddiag_desktop.core.labels import LabelShape
from meddiag_desktop.core.reslice import (
    average_slices,
    coarser_mask,
    coarser_pixels,
    reslice_finer,
    reslice_mask,
    reslice_positions,
    slices_per_group,
)
from meddiag_desktop.errors import InferenceError
from meddiag_desktop.validation.case_labels import thicken

if TYPE_CHECKING:
    from meddiag_desktop.core.labels import ReferenceLabel
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.validation.cases import Case

Variant = tuple["Volume", list["ReferenceLabel"]]


def variant_of(case: Case, volume: Volume, lesions: list[ReferenceLabel]) -> Variant | str:
    """The volume and lesions in the case's variant, or why the variant is the scan as acquired.

    Raises
    ------
    InferenceError
        The scan is too small for the variant (fewer slices than one averaged group).
    """
    if case.reslice_mm is not None:
        return _resliced(volume, lesions, case.reslice_mm)
    if case.pixel_mm is not None:
        return _coarser(volume, lesions, case.pixel_mm)
    if case.thickness_mm is None:
        return volume, lesions
    group = slices_per_group(volume, case.thickness_mm)
    if group == 1:
        return f"slices are already {volume.spacing[0]:.1f} mm"
    try:
        thick = average_slices(volume, case.thickness_mm)
    except ValueError as exc:
        raise InferenceError(str(exc)) from exc
    return thick, thicken(lesions, group)


def _resliced(volume: Volume, lesions: list[ReferenceLabel], target_mm: float) -> Variant | str:
    spacing = volume.spacing[0]
    if target_mm >= spacing - 1e-3 or volume.shape[0] < 2:
        return f"slices are already {spacing:.1f} mm apart"
    positions = reslice_positions(volume.shape[0], spacing, target_mm)
    labels = [replace(label, mask=reslice_mask(label.mask, positions)) for label in lesions]
    return reslice_finer(volume, target_mm), labels


def _coarser(volume: Volume, lesions: list[ReferenceLabel], target_mm: float) -> Variant | str:
    _, dy, dx = volume.spacing
    if target_mm <= max(dy, dx) + 1e-3:
        return f"pixels are already {dy:.2f} x {dx:.2f} mm"
    labels = [
        replace(label, mask=coarser_mask(label.mask, volume, target_mm, any_part=label.shape is LabelShape.BOX))
        for label in lesions
    ]
    return coarser_pixels(volume, target_mm), labels
