"""Typed records of the study index: patient > study > series > instance."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ObjectKind(enum.Enum):
    """What a DICOM object is, for the browser (image series vs. objects listed under a study)."""

    IMAGE = "image"
    SEG = "seg"
    SR = "sr"
    KOS = "kos"
    PRESENTATION = "presentation"
    RTSTRUCT = "rtstruct"
    OTHER = "other"


RESULT_KINDS = frozenset({ObjectKind.SEG, ObjectKind.SR, ObjectKind.RTSTRUCT})
"""Objects that hold results drawn or measured on an image series (listed under their study)."""


@dataclass(frozen=True)
class InstanceRecord:
    """Everything needed to load one file's pixels later without re-parsing it."""

    path: str
    size: int
    mtime_ns: int
    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    kind: ObjectKind
    instance_number: int | None = None
    rows: int = 0
    columns: int = 0
    frames: int = 1
    samples_per_pixel: int = 1
    bits_allocated: int = 0
    bits_stored: int = 0
    pixel_representation: int = 0
    photometric: str = ""
    planar_configuration: int = 0
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, float, float, float, float, float] | None = None
    pixel_spacing: tuple[float, float] | None = None
    slice_thickness: float | None = None
    gantry_tilt: float | None = None
    window_center: str = ""
    window_width: str = ""
    image_type: str = ""
    pixel_offset: int = -1
    pixel_length: int = -1


@dataclass(frozen=True)
class SeriesRecord:
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    number: int | None
    description: str
    manufacturer: str
    frame_of_reference_uid: str
    kind: ObjectKind
    instance_count: int
    frame_count: int


@dataclass(frozen=True)
class StudyRecord:
    study_instance_uid: str
    patient_key: int
    date: str
    time: str
    description: str
    accession_number: str


@dataclass(frozen=True)
class PatientRecord:
    """Patient identity as stored in the local index. Never logged."""

    key: int
    patient_id: str
    name: str
    birth_date: str
    sex: str


@dataclass(frozen=True)
class ScanProblem:
    """A file that was not indexed as an image, and why, in plain words."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanSummary:
    """What one scan of a folder did."""

    root: str
    files_seen: int
    files_parsed: int
    files_unchanged: int
    files_removed: int
    problems: tuple[ScanProblem, ...]
    seconds: float
