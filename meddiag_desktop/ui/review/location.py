"""Where a finding is, in words a radiologist checks quickly: body side plus LPS millimetres.

Lobes are not named: that would need a lobe segmentation the app does not have. The side is
the finding's LPS x against the body's midline on its axial slice (LPS: +x = patient left).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

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
    """ "right", "left" or "midline" (patient's side), "" when unknown."""
    if volume is None or volume.array.ndim != 3:
        return ""
    midline = body_midline_x(volume, round(finding.centroid_index[0]), round(finding.centroid_index[1]))
    if midline is None:
        return ""
    offset = finding.centroid_lps[0] - midline
    if abs(offset) < MIDLINE_MARGIN_MM:
        return "midline"
    return "left" if offset > 0 else "right"


def location_text(finding: Finding, volume: Volume | None) -> str:
    x, y, z = finding.centroid_lps
    side = side_of(finding, volume)
    return f"{side + ' · ' if side else ''}{x:.0f}, {y:.0f}, {z:.0f}"
