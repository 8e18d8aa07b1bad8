"""A finding's place in words: which lung, and which third of that lung from apex to base.

The thirds are zones of the lung mask's own craniocaudal extent, not lobes: the fissures are
not segmented, and the lower lobe reaches high up behind the upper one, so "upper zone" and
"upper lobe" differ. Sides are the patient's (LPS: +x = patient left).
"""

from __future__ import annotations

SIDES = ("right", "left")
ZONES = ("upper", "middle", "lower")
UNKNOWN_ZONE = "zone not known"


def zone_of(z_mm: float, superior_mm: float, inferior_mm: float) -> str:
    """ "upper", "middle" or "lower": the third of ``superior_mm``..``inferior_mm`` (LPS z) holding ``z_mm``.

    A point outside the extent (or an empty extent) is in no zone (``""``).
    """
    height = superior_mm - inferior_mm
    if height <= 0:
        return ""
    depth = (superior_mm - z_mm) / height  # 0 at the apex, 1 at the base
    if not 0.0 <= depth <= 1.0:
        return ""
    return ZONES[min(max(int(depth * 3), 0), 2)]


def check_place(side: str, zone: str) -> None:
    """Raise ``ValueError`` unless ``side`` and ``zone`` are known words (or empty)."""
    if side not in ("", *SIDES):
        raise ValueError(f"lung side {side!r} is not one of {SIDES}")
    if zone not in ("", *ZONES):
        raise ValueError(f"lung zone {zone!r} is not one of {ZONES}")
    if zone and not side:
        raise ValueError("a lung zone needs the lung's side")


def zone_text(side: str, zone: str) -> str:
    """ "right lung, upper third"; "right lung, zone not known"; "" when the lung is not known."""
    if not side:
        return ""
    return f"{side} lung, {zone} third" if zone else f"{side} lung, {UNKNOWN_ZONE}"


def slice_text(z_index: float, slices: int) -> str:
    """ "slice 43 of 64": the 1-based slice the viewer shows for array slice ``z_index``."""
    number = min(max(round(z_index), 0), max(slices - 1, 0)) + 1
    return f"slice {number} of {slices}"
