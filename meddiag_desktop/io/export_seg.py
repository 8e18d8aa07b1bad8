"""Reviewed findings -> a binary DICOM Segmentation (PS3.3 A.51, C.8.20) with highdicom.

One segment per finding that is a lesion (accepted, edited, added or not yet reviewed;
rejected findings are left out). Each segment is a Morphologically abnormal structure
(SCT 49755003) of type Nodule or Neoplasm, carries the finding's Tracking ID/UID, and says
who drew it (Segment Algorithm Type, C.8.20.2): AUTOMATIC with the model's name and version
for the AI's own mask, SEMIAUTOMATIC for an edited one, MANUAL for a lesion the radiologist
added. Frames reference their source CT image through the Derivation Image Sequence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import highdicom as hd
import numpy as np
from pydicom.uid import generate_uid

from meddiag_desktop.core.export_model import AlgorithmKind, ExportedFinding, ExportRequest
from meddiag_desktop.errors import ExportError
from meddiag_desktop.io.export_common import (
    APP_NAME,
    ARTIFICIAL_INTELLIGENCE,
    LUNG,
    MORPHOLOGICALLY_ABNORMAL,
    drop_broken_study_references,
    finding_type,
    person_name,
    quiet_source_names,
    tracking_uid,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

    from meddiag_desktop.core.volume import Volume

SEG_SERIES_NUMBER = 9101
CONTENT_LABEL = "LESIONS"


def segment_description(number: int, item: ExportedFinding, source_key: str) -> hd.seg.SegmentDescription:
    """The Segment Sequence item of one finding (PS3.3 C.8.20.2)."""
    kind = finding_type(item.finding)
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=f"{item.id} {kind.meaning.lower()}",
        segmented_property_category=MORPHOLOGICALLY_ABNORMAL,
        segmented_property_type=kind,
        algorithm_type=item.algorithm.value,
        algorithm_identification=_algorithm(item),
        tracking_uid=tracking_uid(source_key, item.id),
        tracking_id=f"Lesion {item.id}",
        anatomic_regions=[LUNG],
    )


def _algorithm(item: ExportedFinding) -> hd.AlgorithmIdentificationSequence | None:
    if item.algorithm is AlgorithmKind.MANUAL or item.model is None:
        return None
    parameters = {"sha256": item.model.sha256} if item.model.sha256 else None
    return hd.AlgorithmIdentificationSequence(
        name=item.model.id, family=ARTIFICIAL_INTELLIGENCE, version=item.model.version, source=APP_NAME,
        parameters=parameters,
    )  # fmt: skip


def _slab(volume: Volume, lesions: Sequence[ExportedFinding]) -> tuple[int, int]:
    """The slices ``[z0, z1)`` that hold any lesion voxel."""
    z0 = min(f.finding.bbox[0] for f in lesions)
    z1 = max(f.finding.bbox[3] for f in lesions)
    for item in lesions:
        b = item.finding.bbox
        if min(b[:3]) < 0 or any(hi > n for hi, n in zip(b[3:], volume.shape, strict=True)):
            raise ExportError(f"Finding {item.id} lies outside this series' volume; was it drawn on another series?")
    return z0, z1


def segment_array(volume: Volume, lesions: Sequence[ExportedFinding], z0: int, z1: int) -> NDArray[np.uint8]:
    """Stacked-segments pixels ``(slice, row, column, segment)`` for slices ``z0 .. z1 - 1``."""
    rows, columns = volume.shape[1:]
    pixels = np.zeros((z1 - z0, rows, columns, len(lesions)), dtype=np.uint8)
    for k, item in enumerate(lesions):
        f = item.finding
        a, y0, x0, b, y1, x1 = f.bbox
        pixels[a - z0 : b - z0, y0:y1, x0:x1, k] = f.mask
    return pixels


def build_segmentation(sources: Sequence[Dataset], volume: Volume, request: ExportRequest) -> hd.seg.Segmentation:
    """The SEG of the request's lesions on ``sources`` (the volume's slices, in volume order).

    Raises
    ------
    ExportError
        No finding is a lesion, a finding lies outside the volume, or the sources do not
        match the volume.
    """
    lesions = request.lesions
    if not lesions:
        raise ExportError("No finding is a lesion (all were rejected); there is no segmentation to export.")
    if len(sources) != volume.shape[0]:
        raise ExportError(f"{len(sources)} source images for a volume of {volume.shape[0]} slices.")
    z0, z1 = _slab(volume, lesions)
    context = request.context
    descriptions = [segment_description(n, item, context.source_key) for n, item in enumerate(lesions, start=1)]
    with quiet_source_names():
        seg = hd.seg.Segmentation(
            source_images=list(sources[z0:z1]),
            pixel_array=segment_array(volume, lesions, z0, z1),
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=generate_uid(),
            series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer=APP_NAME,
            manufacturer_model_name=APP_NAME,
            software_versions=context.software_version,
            device_serial_number="none",
            content_description="Lesions (AI decision support, radiologist review)",
            content_creator_name=person_name(context.reviewer) if context.reviewer else None,
            content_label=CONTENT_LABEL,
            series_description="MedDiag lesions SEG",
        )
    drop_broken_study_references(seg)
    return seg
