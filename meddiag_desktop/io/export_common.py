"""Shared by the SEG and SR writers: source images, codes, UIDs, names and atomic file writes.

Codes are SNOMED CT (SCT), DICOM (DCM) and UCUM from PS3.16; what the standard has no code
for (the review decision, the AI's lesion class) uses the private scheme ``99MEDDIAG``,
declared in each object's Coding Scheme Identification Sequence (PS3.3 C.12.1.1.2).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.errors import InvalidDicomError
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from meddiag_desktop.core.export_model import ExportDecision, ObjectKind
from meddiag_desktop.errors import ExportError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import BinaryIO

    from pydicom.dataset import Dataset

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.io.index import SeriesIndex

logger = logging.getLogger(__name__)

APP_NAME = "MedDiag Desktop"
RESULTS_FOLDER = "meddiag-results"
NODULE_MAX_MM = 30.0  # Fleischner glossary: a nodule measures up to 3 cm; larger lesions are masses

PRIVATE_SCHEME = "99MEDDIAG"
MORPHOLOGICALLY_ABNORMAL = Code("49755003", "SCT", "Morphologically abnormal structure")
NODULE = Code("27925004", "SCT", "Nodule")
NEOPLASM = Code("108369006", "SCT", "Neoplasm")
LUNG = Code("39607008", "SCT", "Lung")
ARTIFICIAL_INTELLIGENCE = Code("123110", "DCM", "Artificial Intelligence")

REVIEW_DECISION = Code("D1", PRIVATE_SCHEME, "Review decision")
REJECT_REASON = Code("D2", PRIVATE_SCHEME, "Reason for rejection")
AI_CLASS = Code("D3", PRIVATE_SCHEME, "AI lesion class")
AI_CLASS_PROBABILITY = Code("D4", PRIVATE_SCHEME, "AI lesion class probability")
AI_DETECTION_PROBABILITY = Code("D5", PRIVATE_SCHEME, "AI detection probability (maximum)")
DECISION_CODES = {
    ExportDecision.NOT_REVIEWED: Code("R0", PRIVATE_SCHEME, "Not yet reviewed"),
    ExportDecision.ACCEPTED: Code("R1", PRIVATE_SCHEME, "Accepted"),
    ExportDecision.EDITED: Code("R2", PRIVATE_SCHEME, "Accepted with an edited outline"),
    ExportDecision.ADDED: Code("R3", PRIVATE_SCHEME, "Added by the radiologist"),
    ExportDecision.REJECTED: Code("R4", PRIVATE_SCHEME, "Rejected"),
}


def private_code(kind: str, name: str) -> Code:
    """A ``99MEDDIAG`` code for a free value such as a lesion class or a reject reason."""
    value = f"{kind}-{name}".upper().replace(" ", "-")[:16]
    return Code(value, PRIVATE_SCHEME, name)


def coding_schemes() -> list[CodingSchemeIdentificationItem]:
    """Coding Scheme Identification Sequence items for the private scheme (PS3.3 C.12.1.1.2)."""
    item = CodingSchemeIdentificationItem(
        designator=PRIVATE_SCHEME, name=f"{APP_NAME} review codes", responsible_organization=APP_NAME
    )
    return [item]


def finding_type(finding: Finding) -> Code:
    """Nodule up to 3 cm long axis, else neoplasm (SCT, CID 7151 segmentation types)."""
    return NODULE if finding.long_axis_mm <= NODULE_MAX_MM else NEOPLASM


def tracking_uid(source_key: str, finding_id: str) -> str:
    """The same UID for the same finding of the same run or review, export after export."""
    uid: str = generate_uid(entropy_srcs=[APP_NAME, source_key, finding_id])
    return uid


def person_name(name: str) -> str:
    """A display name as a DICOM PN: kept when it has components, else the family-name component."""
    text = " ".join(name.replace("\\", " ").split())[:64]
    return text if "^" in text else f"{text}^"


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def read_sources(index: SeriesIndex, volume: Volume) -> list[Dataset]:
    """The source CT headers (no pixels) in the volume's slice order.

    Raises
    ------
    ExportError
        A slice's file is missing from the index or from disk, or the series is multi-frame.
    """
    uids = volume.source_sop_instance_uids
    if not uids:
        raise ExportError("This volume does not name its source images, so results cannot reference them.")
    if len(set(uids)) != len(uids):
        raise ExportError("Exporting results on a multi-frame series is not supported yet.")
    paths = {r.sop_instance_uid: r.path for r in index.instances(volume.series_instance_uid)}
    missing = [uid for uid in uids if uid not in paths]
    if missing:
        raise ExportError(f"{len(missing)} source images of this series are not in the study index; rescan the study.")
    return [_read_header(Path(paths[uid])) for uid in uids]


def _read_header(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise ExportError(f"The source image {path.name} cannot be read ({exc}); was the study moved?") from exc


def default_export_dir(index: SeriesIndex, series_uid: str) -> Path:
    """``meddiag-results/`` beside the study: next to the folder holding the series' files."""
    paths = [r.path for r in index.instances(series_uid)]
    if not paths:
        raise ExportError(f"Series {series_uid} is not in the study index.")
    folder = Path(os.path.commonpath([str(Path(p).parent) for p in paths]))
    return folder.parent / RESULTS_FOLDER


def write_atomic(dataset: Dataset, folder: Path, kind: ObjectKind, stamp: str) -> Path:
    """Write to a temporary file in ``folder``, flush it to disk, then rename it into place.

    The name holds the object kind, the UTC time and the SOP Instance UID, so an export never
    replaces an earlier file; a reader never sees a half-written file.
    """
    target = folder / f"{kind.value}_{stamp}_{dataset.SOPInstanceUID}.dcm"
    write_dataset_atomic(dataset, target)
    return target


def write_dataset_atomic(dataset: Dataset, target: Path) -> None:
    """``dataset`` as a DICOM file (PS3.10) at ``target``, written atomically, never over a file."""
    write_file_atomic(target, lambda stream: dataset.save_as(stream, enforce_file_format=True))


def write_file_atomic(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through ``write`` into a temporary file beside ``target``, fsync, then rename it into place.

    Raises
    ------
    ExportError
        ``target`` exists already (nothing is overwritten) or its folder cannot be written.
    """
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise ExportError(f"{target.name} already exists in {folder}; nothing was overwritten.")
        handle, temporary = tempfile.mkstemp(prefix=f".{target.stem[:16]}-", suffix=".partial", dir=folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ExportError(f"Cannot write results into {folder}: {exc.strerror or exc}. Choose another folder.") from exc
    logger.info("wrote %s", target.name)


def drop_broken_study_references(dataset: Dataset) -> None:
    """Remove Referenced Study Sequence items copied from the source without their SOP Class UID.

    The sequence is Type 3 in the General Study module (PS3.3 C.7.2.1) but each item must hold
    both UIDs (SOP Instance Reference macro, Table 10-11); scanners sometimes omit the class,
    which would make the exported object invalid.
    """
    items = [
        item
        for item in dataset.get("ReferencedStudySequence", [])
        if item.get("ReferencedSOPClassUID") and item.get("ReferencedSOPInstanceUID")
    ]
    if items:
        dataset.ReferencedStudySequence = items
    elif "ReferencedStudySequence" in dataset:
        del dataset.ReferencedStudySequence


@contextmanager
def quiet_source_names() -> Iterator[None]:
    """highdicom warns when a copied patient name has one component; it is the source's value."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*unlikely to represent the intended person name", category=UserWarning
        )
        yield


def first_value(datasets: Sequence[Dataset], keyword: str) -> str:
    """A header value from the first source image that has it (e.g. Institution Name)."""
    return next((str(ds.get(keyword)) for ds in datasets if ds.get(keyword)), "")
