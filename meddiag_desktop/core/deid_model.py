"""What a de-identified export wrote, what it left out and why, and what the user must know."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeidentifyOptions:
    """How one export is de-identified.

    Parameters
    ----------
    pseudonym
        Replaces the Patient's Name and the Patient ID in every file.
    date_offset_days
        Days added to every date (negative: earlier); ``None`` draws one at random for this
        export, which is then not kept anywhere.
    include_burned_in
        Also export US, SC and XA images that may show text burned into their pixels
        (BurnedInAnnotation YES or absent), and any image whose BurnedInAnnotation is YES.
    """

    pseudonym: str
    date_offset_days: int | None = None
    include_burned_in: bool = False


@dataclass(frozen=True)
class DeidentifiedFile:
    """One file written: where from, where to, and its new UIDs."""

    source: str  # the source file's path, or a label for an object made in memory ("exported SEG")
    path: str
    modality: str
    sop_instance_uid: str
    series_instance_uid: str


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not exported, and why, in plain words."""

    path: str
    reason: str


@dataclass(frozen=True)
class DeidentifyResult:
    """Everything one de-identified export did.

    ``warnings`` name images that may show identifying text in their pixels (exported or not);
    ``skipped`` lists every file left out with its reason.
    """

    folder: str
    pseudonym: str
    date_offset_days: int
    files: tuple[DeidentifiedFile, ...]
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...]

    def from_source(self, source: str) -> DeidentifiedFile | None:
        """The file written for ``source`` (a path or an in-memory label), if any."""
        return next((f for f in self.files if f.source == source), None)
