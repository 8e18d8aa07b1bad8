"""TID 1500 measurement reports (PS3.16 TID 1500) read with highdicom, and where their regions are.

Each measurement group becomes an ``SrGroup``: tracking identifier and UID, finding type and
site, its measurements (TID 300, value with UCUM unit) and qualitative evaluations, and the
region it measured: a 2D graphic on an image (TID 1410), a 3D graphic or a SEG segment
(TID 1411), or a whole image (TID 1501).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import highdicom as hd
import numpy as np
from pydicom.errors import InvalidDicomError

from meddiag_desktop.core.results import RegionKind, SrGroup, SrMeasurement, SrRegion, SrReport
from meddiag_desktop.errors import DicomReadError

if TYPE_CHECKING:
    from pathlib import Path

    from pydicom import Dataset

    from meddiag_desktop.core.volume import Volume

log = logging.getLogger(__name__)

MEASUREMENT_REPORT_TEMPLATE = "1500"
IMAGING_MEASUREMENT_REPORT = ("126000", "DCM")
_UNITS = {"[hnsf'U]": "HU", "1": "", "mm2": "mm²", "cm2": "cm²", "mm3": "mm³", "cm3": "cm³", "ml": "mL"}


def is_measurement_report(ds: Dataset) -> bool:
    """A TID 1500 report: its template says 1500, or its title is Imaging Measurement Report."""
    templates = ds.get("ContentTemplateSequence", [])
    if templates and str(templates[0].get("TemplateIdentifier", "")) == MEASUREMENT_REPORT_TEMPLATE:
        return True
    names = ds.get("ConceptNameCodeSequence", [])
    return bool(names) and (str(names[0].get("CodeValue", "")), str(names[0].get("CodingSchemeDesignator", ""))) == (
        IMAGING_MEASUREMENT_REPORT
    )


def read_report(path: Path, ds: Dataset | None = None) -> SrReport:
    """The measurement groups of a TID 1500 SR file.

    Raises
    ------
    DicomReadError
        Not readable, or its content tree is not a valid measurement report.
    """
    try:
        document = hd.sr.srread(path)
        content: Any = document.content  # a MeasurementReport once the template is 1500
        groups = [
            *content.get_planar_roi_measurement_groups(),
            *content.get_volumetric_roi_measurement_groups(),
            *content.get_image_measurement_groups(),
        ]
        parsed = tuple(_group(g) for g in groups)
    except (InvalidDicomError, OSError, ValueError, AttributeError, TypeError, IndexError, KeyError) as exc:
        raise DicomReadError(f"{path.name}: its measurement groups cannot be read ({exc}).") from exc
    title = str((ds or document).get("SeriesDescription", "") or "") or "Imaging Measurement Report"
    return SrReport(str(document.SOPInstanceUID), title, parsed)


def _meaning(code: Any) -> str:
    return "" if code is None else str(getattr(code, "meaning", "") or "")


def _group(group: Any) -> SrGroup:
    sites = ", ".join(_meaning(site.value) for site in (group.finding_sites or []))
    return SrGroup(
        tracking_id=str(group.tracking_identifier or ""),
        tracking_uid=str(group.tracking_uid or ""),
        finding=_meaning(group.finding_type),
        site=sites,
        measurements=(*_measurements(group), *_evaluations(group)),
        region=_region(group),
    )


def _measurements(group: Any) -> list[SrMeasurement]:
    out = []
    for m in group.get_measurements():
        unit = str(m.unit.value) if m.unit is not None else ""
        out.append(SrMeasurement(_meaning(m.name), f"{float(m.value):.4g}", _UNITS.get(unit, unit)))
    return out


def _evaluations(group: Any) -> list[SrMeasurement]:
    return [SrMeasurement(_meaning(e.name), _meaning(e.value)) for e in group.get_qualitative_evaluations()]


def _region(group: Any) -> SrRegion:
    if isinstance(group, hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations):
        if group.roi is not None:
            return _graphic_region(group.roi)
        return _segment_region(group.referenced_segmentation_frame)
    if isinstance(group, hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations):
        if group.referenced_segment is not None:
            return _segment_region(group.referenced_segment)
        return _volume_region(group.roi)
    images = getattr(group, "source_images", None) or []
    if images:
        return SrRegion(RegionKind.IMAGE, str(images[0].referenced_sop_instance_uid))
    return SrRegion()


def _graphic_region(roi: Any) -> SrRegion:
    """A SCOORD (2D: pixel column, row on one image) or SCOORD3D (patient mm) content item."""
    points = tuple(tuple(float(v) for v in p) for p in np.asarray(roi.value, dtype=np.float64).reshape(-1, 2 if
                   roi.value_type.value == "SCOORD" else 3))  # fmt: skip
    graphic = str(getattr(roi.graphic_type, "value", roi.graphic_type))
    if roi.value_type.value == "SCOORD3D":
        return SrRegion(RegionKind.POINTS_3D, points=points, graphic_type=graphic)
    images = roi.get("ContentSequence", [])
    refs = images[0].get("ReferencedSOPSequence", []) if images else []
    sop = str(refs[0].ReferencedSOPInstanceUID) if refs else ""
    return SrRegion(RegionKind.IMAGE_REGION, sop, points, graphic)


def _segment_region(reference: Any) -> SrRegion:
    if reference is None:
        return SrRegion()
    numbers = reference.referenced_segment_numbers or [0]
    return SrRegion(RegionKind.SEGMENT, str(reference.referenced_sop_instance_uid), segment_number=int(numbers[0]))


def _volume_region(roi: Any) -> SrRegion:
    if isinstance(roi, list):  # image regions on several slices: the middle one stands for them
        return _graphic_region(roi[len(roi) // 2]) if roi else SrRegion()
    if roi is None:
        return SrRegion()
    data = roi.graphic_data
    arrays = data if isinstance(data, list) else [data]
    points = tuple(tuple(float(v) for v in p) for a in arrays for p in np.asarray(a, dtype=np.float64).reshape(-1, 3))
    return SrRegion(RegionKind.POINTS_3D, points=points, graphic_type=str(getattr(roi.graphic_type, "value", "")))


def region_index(region: SrRegion, volume: Volume) -> tuple[float, float, float] | None:
    """Where ``region`` is on ``volume``'s grid as a ``(z, y, x)`` index; ``None`` when it is not on it.

    Segment regions are found through the loaded SEG instead (see ``ResultOverlay``).
    """
    centre = region.centre()
    if region.kind is RegionKind.POINTS_3D and centre is not None:
        index = volume.lps_to_index(np.asarray(centre, dtype=np.float64))
        inside = all(-0.5 <= v <= n - 0.5 for v, n in zip(index, volume.shape, strict=True))
        return (float(index[0]), float(index[1]), float(index[2])) if inside else None
    if region.kind not in (RegionKind.IMAGE_REGION, RegionKind.IMAGE):
        return None
    uids = volume.source_sop_instance_uids
    if region.sop_instance_uid not in uids:
        return None
    z = float(uids.index(region.sop_instance_uid))
    if centre is None:
        return (z, (volume.shape[1] - 1) / 2.0, (volume.shape[2] - 1) / 2.0)
    # SCOORD graphic data is (column, row) from the top-left corner of the first pixel (PS3.3 C.18.6.1.1)
    return (z, centre[1] - 0.5, centre[0] - 0.5)
