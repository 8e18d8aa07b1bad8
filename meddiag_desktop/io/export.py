"""Write one series' reviewed findings as DICOM: a SEG of the lesions and a TID 1500 SR.

The GUI and the CLI call ``export_results``. Both objects are built before either is
written, so a failure leaves no half export; each file is written atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meddiag_desktop.core.export_model import ExportedObject, ExportRequest, ExportResult, ObjectKind
from meddiag_desktop.core.progress import ProgressFn, no_progress
from meddiag_desktop.errors import ExportError
from meddiag_desktop.io.export_common import read_sources, utc_stamp, write_atomic
from meddiag_desktop.io.export_seg import build_segmentation
from meddiag_desktop.io.export_sr import build_report

if TYPE_CHECKING:
    from pathlib import Path

    from pydicom.dataset import Dataset

    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.io.index import SeriesIndex


def export_results(
    index: SeriesIndex, volume: Volume, request: ExportRequest, folder: Path, progress: ProgressFn = no_progress
) -> ExportResult:
    """Write the SEG (when any finding is a lesion) and the SR of ``request`` into ``folder``.

    ``volume`` is the grid the findings' masks are on; its source images are read from the
    index (headers only) and referenced by both objects.

    Raises
    ------
    ExportError
        The request does not belong to this volume, a source image is missing, there is
        nothing to report, or the folder cannot be written.
    """
    progress(0, 3, "Reading the source images")
    seg, sr = build_objects(index, volume, request)
    progress(2, 3, f"Writing into {folder}")
    stamp = utc_stamp()
    written = [_write(seg, folder, ObjectKind.SEG, stamp)] if seg is not None else []
    written.append(_write(sr, folder, ObjectKind.SR, stamp))
    progress(3, 3, "Exported")
    return ExportResult(str(folder), tuple(written))


def build_objects(index: SeriesIndex, volume: Volume, request: ExportRequest) -> tuple[Dataset | None, Dataset]:
    """The SEG (``None`` when no finding is a lesion) and the SR of ``request``, in memory.

    Raises
    ------
    ExportError
        The request does not belong to this volume, a source image is missing, or there is
        nothing to report.
    """
    if request.series_instance_uid != volume.series_instance_uid:
        raise ExportError("These findings belong to another series than the one given.")
    sources = read_sources(index, volume)
    seg = build_segmentation(sources, volume, request) if request.lesions else None
    return seg, build_report(sources, seg, request)


def _write(dataset: Dataset, folder: Path, kind: ObjectKind, stamp: str) -> ExportedObject:
    path = write_atomic(dataset, folder, kind, stamp)
    return ExportedObject(kind, str(path), str(dataset.SOPInstanceUID), str(dataset.SeriesInstanceUID))
