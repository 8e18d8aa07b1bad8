"""RT Structure Set reading: planar contours in patient mm -> boolean masks on a series' grid.

PS3.3 C.8.8.5 (Structure Set), C.8.8.6 (ROI Contour): each ``CLOSED_PLANAR`` contour is a
polygon of (x, y, z) LPS points lying in one image plane. Contours of one structure on the same
slice are combined with the even-odd rule, so an inner contour cuts a hole, which is how
treatment planning systems write holes. A pixel belongs to the structure when its centre lies
inside.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from meddiag_desktop.core.labels import LabelRole, LabelShape, ReferenceLabel, role_from_name
from meddiag_desktop.errors import DicomReadError

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume

logger = logging.getLogger(__name__)

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
OFF_PLANE_TOLERANCE = 0.25  # of a slice step: a contour further from every slice is not on this grid
_NOT_LESIONS = {"PTV", "CTV", "MARKER", "ISOCENTER", "EXTERNAL", "REGISTRATION", "CONTROL", "SUPPORT", "FIXATION"}


@dataclass(frozen=True, eq=False)
class Structure:
    """One ROI of a structure set: its name, interpreted type and closed planar contours."""

    number: int
    name: str
    interpreted_type: str
    contours: tuple[NDArray[np.float64], ...]  # each (N, 3) LPS mm

    @property
    def role(self) -> LabelRole:
        """Lesion, organ or other: the name decides first, then the RT ROI Interpreted Type.

        Clinical exports often mark every ROI as ``ORGAN`` (the NSCLC-Radiomics GTVs are), so
        the interpreted type alone cannot be trusted.
        """
        by_name = role_from_name(self.name)
        if by_name is LabelRole.LESION or self.interpreted_type == "GTV":
            return LabelRole.LESION
        if self.interpreted_type in _NOT_LESIONS:
            return LabelRole.OTHER
        return by_name


@dataclass(frozen=True, eq=False)
class StructureSet:
    """The parts of an RT Structure Set needed to put its contours on a series."""

    path: str
    frame_of_reference_uid: str
    series_instance_uids: tuple[str, ...]
    structures: tuple[Structure, ...]

    def structure(self, name: str) -> Structure:
        for s in self.structures:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.structures)
        raise KeyError(f"no structure named {name!r} in {self.path} (it has: {known})")


def read_structure_set(path: Path) -> StructureSet:
    """Read an RT Structure Set file.

    Raises
    ------
    DicomReadError
        The file is not readable DICOM or not an RT Structure Set.
    """
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DicomReadError(f"{path.name} could not be read as DICOM: {exc}") from exc
    if str(ds.get("SOPClassUID", "")) != RT_STRUCTURE_SET_STORAGE and ds.get("Modality") != "RTSTRUCT":
        raise DicomReadError(f"{path.name} is not an RT Structure Set (modality {ds.get('Modality', 'unknown')}).")
    names = {
        int(r.ROINumber): str(r.get("ROIName", f"ROI {r.ROINumber}")) for r in ds.get("StructureSetROISequence", [])
    }
    types = {
        int(o.ReferencedROINumber): str(o.get("RTROIInterpretedType", "") or "").upper()
        for o in ds.get("RTROIObservationsSequence", [])
    }
    structures = tuple(
        Structure(
            int(c.ReferencedROINumber),
            names.get(int(c.ReferencedROINumber), f"ROI {c.ReferencedROINumber}"),
            types.get(int(c.ReferencedROINumber), ""),
            _closed_contours(c),
        )
        for c in ds.get("ROIContourSequence", [])
    )
    frame, series = _references(ds)
    return StructureSet(str(path), frame, series, structures)


def _closed_contours(roi_contour: pydicom.Dataset) -> tuple[NDArray[np.float64], ...]:
    out = []
    for contour in roi_contour.get("ContourSequence", []):
        if str(contour.get("ContourGeometricType", "")).upper() != "CLOSED_PLANAR":
            continue  # points and open polylines enclose nothing
        values = np.asarray([float(v) for v in contour.get("ContourData", [])], dtype=np.float64)
        if len(values) >= 9 and len(values) % 3 == 0:
            out.append(values.reshape(-1, 3))
    return tuple(out)


def _references(ds: pydicom.Dataset) -> tuple[str, tuple[str, ...]]:
    frames = ds.get("ReferencedFrameOfReferenceSequence", [])
    frame = str(frames[0].get("FrameOfReferenceUID", "")) if frames else ""
    series = [
        str(s.SeriesInstanceUID)
        for f in frames
        for study in f.get("RTReferencedStudySequence", [])
        for s in study.get("RTReferencedSeriesSequence", [])
        if "SeriesInstanceUID" in s
    ]
    return frame, tuple(series)


def rasterise(structure: Structure, volume: Volume) -> ReferenceLabel:
    """A structure's mask on ``volume``'s grid (even-odd fill per slice, pixel centres).

    Contours that lie off every slice plane, or outside the volume, are left out and named in
    the label's warnings: they belong to another reconstruction of the study.
    """
    mask = np.zeros(volume.shape, dtype=bool)
    off_plane = 0
    for points in _unique(structure.contours):
        index = volume.lps_to_index(points)
        z = float(np.median(index[:, 0]))
        zi = round(z)
        if np.abs(index[:, 0] - zi).max() > OFF_PLANE_TOLERANCE or not 0 <= zi < volume.shape[0]:
            off_plane += 1
            continue
        mask[zi] ^= polygon_mask(index[:, 1:], volume.shape[1:])
    warnings: tuple[str, ...] = ()
    if off_plane:
        warnings = (
            f"{off_plane} of {len(structure.contours)} contours of {structure.name} lie off this series' slices",
        )
    return ReferenceLabel(structure.name, mask, structure.role, LabelShape.OUTLINE, "RTSTRUCT", warnings)


def _unique(contours: tuple[NDArray[np.float64], ...]) -> list[NDArray[np.float64]]:
    """Contours with exact repeats dropped: some planning systems store one contour several times
    (LUNG1-002's "Lung L" up to 17 times on a slice), and under the even-odd rule a repeat would
    cut its own copy out."""
    seen: set[bytes] = set()
    out = []
    for points in contours:
        key = np.round(points, 3).tobytes()
        if key not in seen:
            seen.add(key)
            out.append(points)
    return out


def polygon_mask(vertices: NDArray[np.float64], shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Pixels whose centres lie inside a polygon (``(row, col)`` vertices), even-odd rule.

    Each edge toggles the pixels to the right of where it crosses a row's centre line; a
    cumulative XOR along the row then marks the inside. Edges are half-open in rows, so a
    vertex on a row's centre line is counted once.
    """
    out = np.zeros(shape, dtype=bool)
    lo = np.clip(np.floor(vertices.min(axis=0)).astype(np.int64), 0, shape)
    hi = np.clip(np.ceil(vertices.max(axis=0)).astype(np.int64) + 1, 0, shape)
    if (hi > lo).all():
        box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]))
        out[box] = _even_odd_fill(vertices - lo, (int(hi[0] - lo[0]), int(hi[1] - lo[1])))
    return out


def _even_odd_fill(vertices: NDArray[np.float64], shape: tuple[int, int]) -> NDArray[np.bool_]:
    rows, cols = shape
    ya, xa = vertices[:, 0], vertices[:, 1]
    yb, xb = np.roll(ya, -1), np.roll(xa, -1)
    keep = ya != yb
    ya, xa, yb, xb = ya[keep], xa[keep], yb[keep], xb[keep]
    first = np.clip(np.ceil(np.minimum(ya, yb)), 0, rows).astype(np.int64)
    stop = np.clip(np.ceil(np.maximum(ya, yb)), 0, rows).astype(np.int64)
    counts = np.maximum(stop - first, 0)
    edge = np.repeat(np.arange(len(ya)), counts)
    r = first[edge] + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    x = xa[edge] + (r - ya[edge]) * (xb[edge] - xa[edge]) / (yb[edge] - ya[edge])
    start = np.clip(np.ceil(x), 0, cols).astype(np.int64)
    toggles = np.bincount(r * (cols + 1) + start, minlength=rows * (cols + 1)).reshape(rows, cols + 1)
    inside = np.cumsum(toggles, axis=1)[:, :cols] % 2 == 1
    return np.asarray(inside)


def structure_labels(
    structure_set: StructureSet, volume: Volume, roles: tuple[LabelRole, ...] = (LabelRole.LESION, LabelRole.ORGAN)
) -> list[ReferenceLabel]:
    """Rasterise every structure with one of ``roles`` onto ``volume``.

    Raises
    ------
    DicomReadError
        The structure set was drawn on another frame of reference than the volume's.
    """
    check_same_frame(structure_set, volume)
    return [rasterise(s, volume) for s in structure_set.structures if s.role in roles and s.contours]


def check_same_frame(structure_set: StructureSet, volume: Volume) -> None:
    """Refuse contours drawn in another patient coordinate system."""
    frame = structure_set.frame_of_reference_uid
    if frame and volume.frame_of_reference_uid and frame != volume.frame_of_reference_uid:
        raise DicomReadError(
            "The RT Structure Set was drawn on another frame of reference than this series; "
            "its contours cannot be placed on these images."
        )
