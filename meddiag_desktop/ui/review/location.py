"""Where a finding is, in words a radiologist checks quickly: lung, zone and slice.

"right lung, upper third · slice 43 of 64": the side and third of that lung from the lung mask
of the analysis (``core.lung_zone``; a zone, never a lobe, which would need the fissures), and
the slice as the viewer numbers it. A finding without a zone (drawn by the radiologist, stored
before zones were named, or not near a lung) takes its side from its LPS x against the body's
midline on its axial slice (LPS: +x = patient left) and says the zone is not known. The LPS
centre stays in the tooltip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.lung_zone import UNKNOWN_ZONE, slice_text, zone_text

if TYPE_CHECKING:
    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume

BODY_HU = -500.0
MIDLINE_MARGIN_MM = 10.0


def body_midline_x(volume: Volume, z: int, y: int) -> float | None:
    """LPS x (mm) of the middle of the body on row ``y`` of slice ``z`` (None if no body is found).

    The row through the finding avoids the patient table, which lies below the body.
    """
    z = int(np.clip(z, 0, volume.shape[0] - 1))
    y = int(np.clip(y, 0, volume.shape[1] - 1))
    columns = np.flatnonzero(np.asarray(volume.array[z, y]) > BODY_HU)
    if columns.size == 0:
        return None
    centre = (columns[0] + columns[-1]) / 2.0
    return float(volume.index_to_lps((float(z), float(y), float(centre)))[0])


def side_of(finding: Finding, volume: Volume | None) -> str:
    """ "right", "left" or "midline" (patient's side) from the body midline, "" when unknown."""
    if volume is None or volume.array.ndim != 3:
        return ""
    midline = body_midline_x(volume, round(finding.centroid_index[0]), round(finding.centroid_index[1]))
    if midline is None:
        return ""
    offset = finding.centroid_lps[0] - midline
    if abs(offset) < MIDLINE_MARGIN_MM:
        return "midline"
    return "left" if offset > 0 else "right"


def place_text(finding: Finding, volume: Volume | None) -> str:
    """ "right lung, upper third", or "right, zone not known" without a zone from the lung mask."""
    if finding.lung_side:
        return zone_text(finding.lung_side, finding.lung_zone)
    side = side_of(finding, volume)
    return f"{side}, {UNKNOWN_ZONE}" if side else UNKNOWN_ZONE


def location_text(finding: Finding, volume: Volume | None) -> str:
    """Place and slice: "right lung, upper third · slice 43 of 64" (the slice when the volume is known)."""
    place = place_text(finding, volume)
    if volume is None:
        return place
    return f"{place} · {slice_text(finding.centroid_index[0], volume.shape[0])}"


def location_tooltip(finding: Finding) -> str:
    """How the words were found, and the centre in LPS millimetres."""
    x, y, z = finding.centroid_lps
    if finding.lung_side and finding.lung_zone:
        how = "Zone: upper, middle or lower third of that lung's height in the AI's lung mask (a zone, not a lobe)."
    elif finding.lung_side:
        how = "Lung from the AI's lung mask; the centre lies outside that lung's height, so no zone is named."
    else:
        how = "Side from the body midline on the finding's slice; no lung mask placed it, so no zone is named."
    return f"{how}\nCentre (LPS mm): {x:.0f}, {y:.0f}, {z:.0f}"
