"""Existing results in a study: describe SEG / SR / RTSTRUCT objects and put them on a series.

``describe_result`` reads a header (no pixels) for the study browser, and says in plain words
why an object cannot be shown (an encoding pydicom cannot decode, not a TID 1500 report, ...).
``load_overlay`` rasterises a SEG's segments (PS3.3 C.8.20) or a structure set's contours
(C.8.8.6) on a volume's grid, one item at a time and cropped, so a structure set with a body
outline and many organs stays small. ``read_report`` reads a TID 1500 measurement report
(PS3.16 TID 1500, 1410, 1411, 1501) with highdicom.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import highdicom as hd
import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, RLELossless

from meddiag_desktop.core.labels import LabelRole
from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.core.records import ObjectKind
from meddiag_desktop.core.results import (
    ResultItem,
    ResultKind,
    ResultOverlay,
    ResultSummary,
    crop_mask,
    default_colour,
)
from meddiag_desktop.errors import DicomReadError, UnsupportedDicomError
from meddiag_desktop.io.rtstruct import Structure, check_same_frame, rasterise, read_structure_set
from meddiag_desktop.io.seg_labels import seg_labels_of, segments
from meddiag_desktop.io.sr_reports import is_measurement_report, read_report

if TYPE_CHECKING:
    from pydicom import Dataset

    from meddiag_desktop.core.results import RGB, OutlineMask
    from meddiag_desktop.core.volume import Volume

__all__ = ["describe_result", "frame_problem", "load_overlay", "read_report", "undecodable_reason"]

log = logging.getLogger(__name__)

DEFLATED_IMAGE_FRAME = "1.2.840.10008.1.2.8.1"  # PS3.5 A.4.11 (2024); pydicom 3.0 has no decoder for it
SEGMENTS_PER_PASS_VOXELS = 400_000_000  # masks of one pass over a SEG's pixels: at most ~400 MB
_KINDS = {ObjectKind.SEG: ResultKind.SEG, ObjectKind.SR: ResultKind.SR, ObjectKind.RTSTRUCT: ResultKind.RTSTRUCT}


def describe_result(path: Path, kind: ObjectKind, study_uid: str) -> ResultSummary:
    """What the browser lists for one result object. Never raises for a bad file: the summary's
    ``problem`` says what is wrong."""
    result_kind = _KINDS[kind]
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, AttributeError) as exc:
        return ResultSummary(str(path), "", result_kind, study_uid, path.name, problem=f"cannot be read ({exc})")
    base = ResultSummary(
        path=str(path),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        kind=result_kind,
        study_instance_uid=study_uid,
        title=_title(ds, result_kind),
        referenced_series_uids=_referenced_series(ds, result_kind),
        frame_of_reference_uid=_frame_of_reference(ds, result_kind),
    )
    return _DESCRIBE[result_kind](ds, base)


def _describe_seg(ds: Dataset, base: ResultSummary) -> ResultSummary:
    roles = {s.number: s.role for s in segments(ds)}
    items = tuple(
        ResultItem(int(s.SegmentNumber), str(s.get("SegmentLabel", "") or f"segment {s.SegmentNumber}"),
                   _seg_colour(s, n), role=roles.get(int(s.SegmentNumber), LabelRole.OTHER))
        for n, s in enumerate(ds.get("SegmentSequence", []))
    )  # fmt: skip
    return _with(base, items=items, problem=undecodable_reason(ds))


def _describe_rtstruct(ds: Dataset, base: ResultSummary) -> ResultSummary:
    names = {int(r.ROINumber): str(r.get("ROIName", "") or f"ROI {r.ROINumber}")
             for r in ds.get("StructureSetROISequence", [])}  # fmt: skip
    types = {int(o.ReferencedROINumber): str(o.get("RTROIInterpretedType", "") or "").upper()
             for o in ds.get("RTROIObservationsSequence", [])}  # fmt: skip
    items = []
    for n, roi in enumerate(ds.get("ROIContourSequence", [])):
        number = int(roi.ReferencedROINumber)
        name = names.get(number, f"ROI {number}")
        closed = any(str(c.get("ContourGeometricType", "")).upper() == "CLOSED_PLANAR"
                     for c in roi.get("ContourSequence", []))  # fmt: skip
        note = "" if closed else "no closed contour (points or lines only): nothing to outline"
        role = Structure(number, name, types.get(number, ""), ()).role
        items.append(ResultItem(number, name, _rt_colour(roi, n), note, role))
    return _with(base, items=tuple(items))


def _describe_sr(ds: Dataset, base: ResultSummary) -> ResultSummary:
    if not is_measurement_report(ds):
        return _with(base, problem="a structured report that is not a TID 1500 measurement report; not shown")
    try:
        report = read_report(Path(base.path), ds)
    except DicomReadError as exc:
        return _with(base, problem=str(exc))
    return _with(base, group_count=len(report.groups))


_DESCRIBE = {ResultKind.SEG: _describe_seg, ResultKind.RTSTRUCT: _describe_rtstruct, ResultKind.SR: _describe_sr}


def _with(base: ResultSummary, **changes: object) -> ResultSummary:
    return replace(base, **changes)  # type: ignore[arg-type]


def _title(ds: Dataset, kind: ResultKind) -> str:
    keywords = {
        ResultKind.SEG: ("SeriesDescription", "ContentDescription", "ContentLabel"),
        ResultKind.RTSTRUCT: ("StructureSetLabel", "StructureSetName", "SeriesDescription"),
        ResultKind.SR: ("SeriesDescription",),
    }[kind]
    for keyword in keywords:
        text = str(ds.get(keyword, "") or "").strip()
        if text:
            return text
    names = ds.get("ConceptNameCodeSequence", [])
    return str(names[0].get("CodeMeaning", "")) if names else kind.noun


def _referenced_series(ds: Dataset, kind: ResultKind) -> tuple[str, ...]:
    if kind is ResultKind.SEG:
        found = [str(s.get("SeriesInstanceUID", "")) for s in ds.get("ReferencedSeriesSequence", [])]
    elif kind is ResultKind.RTSTRUCT:
        found = [str(s.get("SeriesInstanceUID", ""))
                 for f in ds.get("ReferencedFrameOfReferenceSequence", [])
                 for study in f.get("RTReferencedStudySequence", [])
                 for s in study.get("RTReferencedSeriesSequence", [])]  # fmt: skip
    else:  # SR evidence: PS3.3 C.17.2.1 / C.17.2.2
        found = [str(s.get("SeriesInstanceUID", ""))
                 for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence")
                 for study in ds.get(keyword, []) for s in study.get("ReferencedSeriesSequence", [])]  # fmt: skip
    return tuple(dict.fromkeys(uid for uid in found if uid))


def _frame_of_reference(ds: Dataset, kind: ResultKind) -> str:
    if kind is ResultKind.RTSTRUCT:
        frames = ds.get("ReferencedFrameOfReferenceSequence", [])
        return str(frames[0].get("FrameOfReferenceUID", "")) if frames else ""
    return str(ds.get("FrameOfReferenceUID", ""))


def _seg_colour(segment: Dataset, position: int) -> RGB:
    """Recommended Display CIELab Value (PS3.3 C.10.7.1.1), else a palette colour."""
    lab = segment.get("RecommendedDisplayCIELabValue")
    if lab is None or len(lab) != 3:
        return default_colour(position)
    try:
        r, g, b = hd.color.CIELabColor.from_dicom_value([int(v) for v in lab]).to_rgb(clip=True)
    except (ValueError, TypeError):
        return default_colour(position)
    return (int(r), int(g), int(b))


def _rt_colour(roi_contour: Dataset, position: int) -> RGB:
    """ROI Display Color (PS3.3 C.8.8.6), else a palette colour."""
    rgb = roi_contour.get("ROIDisplayColor")
    if rgb is None or len(rgb) != 3:
        return default_colour(position)
    r, g, b = (int(np.clip(int(v), 0, 255)) for v in rgb)
    return (r, g, b)


def undecodable_reason(ds: Dataset) -> str:
    """Plain words when a SEG's pixel data uses an encoding pydicom 3.0 cannot decode, else "".

    Measured on the corpus: the Deflated Image Frame Compression syntax has no decoder, and
    pydicom's and pylibjpeg's RLE decoders reject 1-bit frames (``liver_rle``).
    """
    syntax = UID(str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else "")
    bits = int(ds.get("BitsAllocated", 0) or 0)
    if syntax == DEFLATED_IMAGE_FRAME:
        what = "compressed with Deflated Image Frame Compression"
    elif syntax == RLELossless and bits == 1:
        what = "stored as 1-bit frames compressed with RLE"
    elif syntax and not syntax.is_transfer_syntax:
        what = f"encoded with an unknown transfer syntax ({syntax})"
    else:
        return ""
    return (
        f"its pixel data is {what}, which this app cannot decode, so it is listed but cannot be shown. "
        "Ask for an uncompressed copy (Explicit VR Little Endian) to view it."
    )


def frame_problem(summary: ResultSummary, series_frame_uid: str, series_label: str) -> str:
    """Plain words when the object was drawn in another frame of reference than its series."""
    frame = summary.frame_of_reference_uid
    if summary.kind is ResultKind.SR or not frame or not series_frame_uid or frame == series_frame_uid:
        return ""
    return (
        f"it was drawn on another frame of reference (patient coordinate system) than {series_label}, "
        "so its outlines cannot be placed on those images."
    )


# -- overlays ----------------------------------------------------------------------------------


def load_overlay(
    summary: ResultSummary,
    volume: Volume,
    numbers: frozenset[int] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> ResultOverlay:
    """A SEG's segments or an RT structure set's structures (all, or those in ``numbers``) on ``volume``.

    Raises
    ------
    UnsupportedDicomError
        The pixel data cannot be decoded, or the object is not a SEG or RT structure set.
    DicomReadError
        Unreadable, or drawn on another frame of reference than ``volume``.
    """
    token = cancel or CancelToken()
    if summary.kind is ResultKind.SR:
        raise UnsupportedDicomError(f"{summary.file_name} is a measurement report: it has no outlines to draw.")
    if summary.problem:
        raise UnsupportedDicomError(f"{summary.file_name}: {summary.problem}")
    wanted = [i for i in summary.items if i.drawable and (numbers is None or i.number in numbers)]
    loader = _seg_masks if summary.kind is ResultKind.SEG else _rtstruct_masks
    masks, warnings = loader(summary, volume, wanted, progress, token)
    return ResultOverlay(summary.sop_instance_uid, volume.series_instance_uid, tuple(masks), warnings)


_Masks = tuple[list["OutlineMask"], tuple[str, ...]]


def _seg_masks(
    summary: ResultSummary, volume: Volume, wanted: list[ResultItem], progress: ProgressFn, cancel: CancelToken
) -> _Masks:
    per_pass = max(1, SEGMENTS_PER_PASS_VOXELS // max(int(np.prod(volume.shape)), 1))
    masks: list[OutlineMask] = []
    warnings: list[str] = []
    for start in range(0, len(wanted), per_pass):
        cancel.raise_if_cancelled("Loading the segmentation")
        chunk = wanted[start : start + per_pass]
        labels = seg_labels_of(Path(summary.path), volume, {i.number for i in chunk})
        for item in chunk:
            label = labels.get(item.number)
            if label is not None:
                masks.append(crop_mask(item, label.mask))
                warnings.extend(w for w in label.warnings if w not in warnings)
        progress(min(start + per_pass, len(wanted)), len(wanted), f"Placed {len(masks)} segments")
    return masks, tuple(warnings)


def _rtstruct_masks(
    summary: ResultSummary, volume: Volume, wanted: list[ResultItem], progress: ProgressFn, cancel: CancelToken
) -> _Masks:
    structure_set = read_structure_set(Path(summary.path))
    check_same_frame(structure_set, volume)
    by_number = {s.number: s for s in structure_set.structures}
    masks: list[OutlineMask] = []
    warnings: list[str] = []
    for done, item in enumerate(wanted, start=1):
        cancel.raise_if_cancelled("Loading the structure set")
        structure = by_number.get(item.number)
        if structure is not None and structure.contours:
            label = rasterise(structure, volume)
            masks.append(crop_mask(item, label.mask))
            warnings.extend(label.warnings)
        progress(done, len(wanted), f"Outlined {item.name}")
    return masks, tuple(warnings)
