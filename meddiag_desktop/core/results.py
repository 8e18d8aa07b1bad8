"""Existing results found in a study: DICOM SEG, TID 1500 SR and RT Structure Sets.

The browser lists them (``ResultSummary``), the viewer draws their segments and structures as
read-only reference outlines (``ResultOverlay``) and lists the SR's measurements (``SrGroup``).
They are someone else's results, shown as they are: never turned into AI findings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.labels import LabelRole

if TYPE_CHECKING:
    from numpy.typing import NDArray

RGB = tuple[int, int, int]

# Colours for segments and structures that name none (distinct from the AI findings' palette).
REFERENCE_PALETTE: tuple[RGB, ...] = (
    (0, 200, 255),
    (255, 140, 0),
    (170, 255, 60),
    (255, 90, 200),
    (255, 255, 90),
    (150, 120, 255),
    (90, 255, 190),
)


class ResultKind(enum.Enum):
    """The three kinds of result object the app reads."""

    SEG = "SEG"
    SR = "SR"
    RTSTRUCT = "RTSTRUCT"

    @property
    def noun(self) -> str:
        return _NOUNS[self]

    @property
    def item_noun(self) -> str:
        """What one item of the object is called (plural with an ``s``)."""
        return _ITEM_NOUNS[self]


_NOUNS = {ResultKind.SEG: "segmentation", ResultKind.SR: "measurement report", ResultKind.RTSTRUCT: "structure set"}
_ITEM_NOUNS = {ResultKind.SEG: "segment", ResultKind.SR: "measurement group", ResultKind.RTSTRUCT: "structure"}


def default_colour(position: int) -> RGB:
    """Colour of the ``position``-th item (0-based) when the object names none."""
    return REFERENCE_PALETTE[position % len(REFERENCE_PALETTE)]


@dataclass(frozen=True)
class ResultItem:
    """One segment (SEG) or structure (RTSTRUCT): its number, name and display colour.

    ``note`` says why it has nothing to outline (e.g. an RT structure that is only a point);
    ``role`` (lesion, organ, other: planning margins, body outline, markers) decides what is
    ticked when the whole object is asked for.
    """

    number: int
    name: str
    colour: RGB
    note: str = ""
    role: LabelRole = LabelRole.ORGAN

    @property
    def drawable(self) -> bool:
        return not self.note


@dataclass(frozen=True)
class ResultSummary:
    """What the browser shows about one result object, read from its header.

    ``problem`` is empty when the object can be shown on its series; otherwise it says why not,
    in plain words (an encoding that cannot be decoded, another frame of reference, ...).
    """

    path: str
    sop_instance_uid: str
    kind: ResultKind
    study_instance_uid: str
    title: str
    items: tuple[ResultItem, ...] = ()
    group_count: int = 0
    referenced_series_uids: tuple[str, ...] = ()
    frame_of_reference_uid: str = ""
    problem: str = ""

    @property
    def file_name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def count_text(self) -> str:
        count = self.group_count if self.kind is ResultKind.SR else len(self.items)
        noun = self.kind.item_noun
        return f"{count} {noun}{'' if count == 1 else 's'}"

    def references(self, series_uid: str, frame_of_reference_uid: str, study_uid: str) -> bool:
        """Whether this object was made on the series: it names it, or names no series but
        shares its study and frame of reference (some RT Structure Sets only name the frame)."""
        if self.referenced_series_uids:
            return series_uid in self.referenced_series_uids
        return bool(self.frame_of_reference_uid) and (self.frame_of_reference_uid, self.study_instance_uid) == (
            frame_of_reference_uid,
            study_uid,
        )


@dataclass(frozen=True, eq=False)
class OutlineMask:
    """One item rasterised on a series' ``(z, y, x)`` grid, cropped to its bounding box at ``offset``."""

    item: ResultItem
    offset: tuple[int, int, int]
    mask: NDArray[np.bool_]

    @property
    def voxels(self) -> int:
        return int(np.count_nonzero(self.mask))

    def centroid_index(self) -> tuple[float, float, float] | None:
        """Mean ``(z, y, x)`` index of its voxels, ``None`` when it is empty."""
        points = np.argwhere(self.mask)
        if points.size == 0:
            return None
        centre = points.mean(axis=0) + np.asarray(self.offset)
        return (float(centre[0]), float(centre[1]), float(centre[2]))


def crop_mask(item: ResultItem, mask: NDArray[np.bool_]) -> OutlineMask:
    """Crop a full-grid mask to its bounding box (an empty mask keeps a 0-sized crop)."""
    points = np.argwhere(mask)
    if points.size == 0:
        return OutlineMask(item, (0, 0, 0), np.zeros((0, 0, 0), dtype=bool))
    lo, hi = points.min(axis=0), points.max(axis=0) + 1
    crop = np.ascontiguousarray(mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
    return OutlineMask(item, (int(lo[0]), int(lo[1]), int(lo[2])), crop)


@dataclass(frozen=True, eq=False)
class ResultOverlay:
    """A SEG's segments or a structure set's structures on one series' grid."""

    sop_instance_uid: str
    series_instance_uid: str
    masks: tuple[OutlineMask, ...]
    warnings: tuple[str, ...] = ()

    def mask_of(self, number: int) -> OutlineMask | None:
        return next((m for m in self.masks if m.item.number == number), None)


@dataclass(frozen=True)
class SrMeasurement:
    """One numeric measurement (TID 300) or qualitative evaluation of a measurement group."""

    name: str
    value: str  # formatted number, or the coded value's meaning
    unit: str = ""

    @property
    def text(self) -> str:
        return f"{self.value} {self.unit}".strip()


class RegionKind(enum.Enum):
    """What a measurement group points at in the images (TID 1410 / 1411 / 1501)."""

    NONE = "none"
    IMAGE_REGION = "image region"  # 2D graphic on one image (pixel column, row)
    POINTS_3D = "3D region"  # 3D graphic in patient LPS mm
    SEGMENT = "segment"  # a segment of a DICOM SEG
    IMAGE = "image"  # a whole image


@dataclass(frozen=True)
class SrRegion:
    """The region a measurement group references.

    ``points`` are ``(column, row)`` pixels for ``IMAGE_REGION``, LPS mm ``(x, y, z)`` for
    ``POINTS_3D``; ``sop_instance_uid`` is the image (``IMAGE_REGION``, ``IMAGE``) or the SEG
    (``SEGMENT``).
    """

    kind: RegionKind = RegionKind.NONE
    sop_instance_uid: str = ""
    points: tuple[tuple[float, ...], ...] = ()
    graphic_type: str = ""  # POINT, MULTIPOINT, POLYLINE, POLYGON, CIRCLE, ELLIPSE, ELLIPSOID
    segment_number: int = 0

    def centre(self) -> tuple[float, ...] | None:
        """Centre of the graphic: a circle's first point is its centre (PS3.3 C.18.6.1.2), else the mean."""
        if not self.points:
            return None
        if self.graphic_type == "CIRCLE":
            return self.points[0]
        mean = np.asarray(self.points, dtype=np.float64).mean(axis=0)
        return tuple(float(v) for v in mean)

    @property
    def text(self) -> str:
        if self.kind is RegionKind.SEGMENT:
            return f"segment {self.segment_number}"
        return "" if self.kind is RegionKind.NONE else self.kind.value


@dataclass(frozen=True)
class SrGroup:
    """One TID 1500 measurement group: tracking ids, finding, site, measurements, region."""

    tracking_id: str
    tracking_uid: str
    finding: str
    site: str
    measurements: tuple[SrMeasurement, ...]
    region: SrRegion = SrRegion()


@dataclass(frozen=True)
class SrReport:
    """The measurement groups of one TID 1500 SR document."""

    sop_instance_uid: str
    title: str
    groups: tuple[SrGroup, ...]
