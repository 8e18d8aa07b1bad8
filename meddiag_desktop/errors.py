"""Typed exceptions. Every message is written for the person at the workstation."""

from __future__ import annotations


class MeddiagError(Exception):
    """Base of every error the app reports to the user in plain words."""


class Cancelled(MeddiagError):  # noqa: N818 - reads better at call sites than CancelledError
    """The user cancelled a long operation."""

    def __init__(self, what: str = "Operation") -> None:
        super().__init__(f"{what} was cancelled.")


class DicomReadError(MeddiagError):
    """A DICOM file could not be read or decoded."""


class UnsupportedDicomError(DicomReadError):
    """A DICOM file is valid but uses something this app cannot decode."""


class LabelReadError(MeddiagError):
    """A reference label file (label volume, box annotations) cannot be read or placed on a series."""


class SeriesGeometryError(MeddiagError):
    """A series cannot be assembled into a volume (e.g. no position information)."""


class StudyIndexError(MeddiagError):
    """The study index database cannot be used."""


class ModelIntegrityError(MeddiagError):
    """A model's files do not match its manifest, or the manifest is invalid."""


class InferenceError(MeddiagError):
    """A model could not be run on a series."""


class OutOfDistributionError(InferenceError):
    """The series is outside what the model is meant for (wrong modality, unreadable slices): not analysed."""


class OverrideRequiredError(OutOfDistributionError):
    """The series is outside the model's validated range; it is analysed only with a typed reason (an override)."""


class ExportError(MeddiagError):
    """Results cannot be exported as DICOM (source images missing, folder not writable, ...)."""


class DeidentifyError(ExportError):
    """A de-identified export cannot be made (no valid pseudonym, several patients, nothing to export)."""


class ReviewStateError(MeddiagError):
    """A review action is not allowed in the current review state."""


class AuditChainError(MeddiagError):
    """The audit log's hash chain is broken."""


class AuditKeyError(MeddiagError):
    """The key that authenticates the audit log cannot be read, created or safely stored."""
