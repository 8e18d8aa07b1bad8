"""Series -> Volume: plan the geometry from the index, then read pixels in parallel.

``plan_series`` needs no pixel data (single-frame series are planned from the index alone),
so a caller can allocate the array and show slices while ``read_volume`` fills it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.geometry import FrameGeometry, StackGeometry, build_stacks
from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.core.volume import DisplayHints, GeometryWarning, Volume, WarningKind
from meddiag_desktop.errors import DicomReadError, SeriesGeometryError
from meddiag_desktop.io.multiframe import FrameInfo, frames_of
from meddiag_desktop.io.pixels import can_read_fast, decode_file, read_fast, stored_dtype
from meddiag_desktop.io.plausibility import frame_problem, implausible_warning

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from meddiag_desktop.core.records import InstanceRecord
    from meddiag_desktop.io.decode_pool import DecodePool
    from meddiag_desktop.io.index import SeriesIndex

log = logging.getLogger(__name__)


EXPENSIVE_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",  # JPEG lossless
        "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",  # JPEG-LS
        "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",  # JPEG 2000
        "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",  # HTJ2K
    }
)  # fmt: skip


@dataclass(frozen=True)
class FrameSource:
    """One 2D frame of the series: which file, which frame in it, and its own rescale."""

    record: InstanceRecord
    info: FrameInfo


@dataclass(frozen=True)
class VolumePlan:
    """Everything needed to read one volume, known before any pixel is read."""

    series_uid: str
    modality: str
    frames: tuple[FrameSource, ...]
    geometry: StackGeometry
    display: DisplayHints
    frame_of_reference_uid: str = ""
    is_color: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        first = self.frames[0].record
        spatial = (len(self.frames), first.rows, first.columns)
        return (*spatial, 3) if self.is_color else spatial

    @property
    def dtype(self) -> np.dtype[np.generic]:
        return np.dtype(np.uint8) if self.is_color else np.dtype(np.float32)

    def allocate(self) -> NDArray[np.generic]:
        return np.zeros(self.shape, dtype=self.dtype)


def plan_series(index: SeriesIndex, series_uid: str, frame_of_reference_uid: str = "") -> list[VolumePlan]:
    """Split an indexed image series into volume plans (one per consistent stack)."""
    records, copies = _unique_instances(index.instances(series_uid))
    if not records:
        raise SeriesGeometryError(f"Series {series_uid} has no images.")
    sources = [FrameSource(r, info) for r in records for info in frames_of(r)]
    geometries = build_stacks([_frame_geometry(i, s) for i, s in enumerate(sources)])
    if copies:
        note = GeometryWarning(
            WarningKind.DUPLICATE_POSITION,
            f"{copies} files are copies of images already in this series (same SOP Instance UID, "
            "e.g. the same study in two folders); each image is shown once.",
        )
        geometries = [replace(g, warnings=(*g.warnings, note)) for g in geometries]
    series = index.find_series(series_uid)
    for_uid = frame_of_reference_uid or series.frame_of_reference_uid
    return [_plan(series_uid, series.modality, sources, g, for_uid) for g in geometries]


def _unique_instances(records: list[InstanceRecord]) -> tuple[list[InstanceRecord], int]:
    """One record per SOP Instance UID, from files that still exist; also how many copies were dropped.

    The index is keyed by UID, so the same study scanned from two folders is one series; if
    one copy was deleted since, its stale paths are skipped rather than failing the load.
    """
    images = sorted((r for r in records if r.kind.value == "image"), key=lambda r: r.path)
    present = [r for r in images if os.path.exists(r.path)]  # noqa: PTH110 - one cheap stat per file
    if images and not present:
        folder = os.path.dirname(images[0].path)  # noqa: PTH120
        raise SeriesGeometryError(f"The files of this series are no longer on disk (last seen in {folder}).")
    unique = {r.sop_instance_uid: r for r in reversed(present)}
    return sorted(unique.values(), key=lambda r: r.path), len(present) - len(unique)


def _frame_geometry(key: int, source: FrameSource) -> FrameGeometry:
    info, record = source.info, source.record
    return FrameGeometry(
        key=key,
        rows=record.rows,
        columns=record.columns,
        position=info.position,
        orientation=info.orientation,
        pixel_spacing=info.pixel_spacing,
        order_hint=(record.instance_number or 0) * 100000 + info.frame,
        thickness=info.thickness,
    )


def _plan(
    series_uid: str, modality: str, sources: list[FrameSource], geometry: StackGeometry, for_uid: str
) -> VolumePlan:
    frames = tuple(sources[k] for k in geometry.keys)
    first = frames[0].record
    color = first.samples_per_pixel == 3 or first.photometric == "PALETTE COLOR"
    display = DisplayHints(
        invert=first.photometric == "MONOCHROME1",
        windows=_windows(first),
        is_color=color,
        units="HU" if modality == "CT" else "",
    )
    return VolumePlan(series_uid, modality, frames, geometry, display, for_uid, color)


def _windows(record: InstanceRecord) -> tuple[tuple[float, float], ...]:
    try:
        centers = [float(v) for v in record.window_center.split("\\") if v.strip()]
        widths = [float(v) for v in record.window_width.split("\\") if v.strip()]
    except ValueError:
        return ()
    return tuple((c, w) for c, w in zip(centers, widths, strict=False) if w > 0)


def read_volume(
    plan: VolumePlan,
    out: NDArray[np.generic] | None = None,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    on_slice: Callable[[int], None] | None = None,
    threads: int = 4,
    decode_pool: DecodePool | None = None,
) -> Volume:
    """Read the plan's pixels into ``out`` (allocated if None); ``on_slice(z)`` as each lands.

    Compressed files are decoded in ``decode_pool``'s processes when one is given (the
    decoders hold the GIL, so threads alone do not decode in parallel).
    """
    target = plan.allocate() if out is None else out
    reader = _StackReader(plan, target, cancel or CancelToken(), on_slice, progress, decode_pool)
    started = time.perf_counter()
    reader.run(threads)
    reader.cancel.raise_if_cancelled("Loading the series")
    warnings = plan.geometry.warnings + reader.failure_warnings() + reader.plausibility_warnings()
    log.debug(
        "read %d %s frames %s in %.2f s, %d warnings",
        len(plan.frames), plan.modality, "x".join(map(str, target.shape)), time.perf_counter() - started, len(warnings),
    )  # fmt: skip
    return Volume(
        array=target,
        affine=plan.geometry.affine,
        frame_of_reference_uid=plan.frame_of_reference_uid,
        series_instance_uid=plan.series_uid,
        modality=plan.modality,
        source_sop_instance_uids=tuple(f.record.sop_instance_uid for f in plan.frames),
        warnings=warnings,
        display=plan.display,
        slice_positions=plan.geometry.slice_positions,
    )


def read_frame(plan: VolumePlan, z: int) -> NDArray[np.generic]:
    """One slice of a plan, rescaled exactly as ``read_volume`` would (e.g. for a thumbnail)."""
    single = replace(plan, frames=(plan.frames[z],))
    out = single.allocate()
    _StackReader(single, out, CancelToken(), None, no_progress).run(1)
    frame: NDArray[np.generic] = out[0]
    return frame


@dataclass
class _StackReader:
    plan: VolumePlan
    out: NDArray[np.generic]
    cancel: CancelToken
    on_slice: Callable[[int], None] | None
    progress: ProgressFn
    decode_pool: DecodePool | None = None
    _done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _jobs_total: list[list[int]] = field(default_factory=list)
    _failures: list[tuple[list[int], DicomReadError]] = field(default_factory=list)
    _implausible: dict[int, str] = field(default_factory=dict)

    def run(self, threads: int) -> None:
        jobs = self._jobs()
        self._jobs_total = jobs
        threads = self._useful_threads(threads)
        if threads <= 1 or len(jobs) <= 1:
            for job in jobs:
                self._run_job(job)
            return
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="meddiag-read") as pool:
            for future in [pool.submit(self._run_job, job) for job in jobs]:
                future.result()

    def _useful_threads(self, requested: int) -> int:
        """Threads only help reads at indexed offsets and waits on the decoder processes.

        pylibjpeg/pydicom decoders hold the GIL: in-process decoding with 4 threads was
        slower than with 1 (RLE demo: 149 vs 96 ms). Worker processes pay ~2 ms a slice in
        transfer, which only expensive codecs repay (JPEG 2000 lossless, 64 slices: 2.12 s in
        process vs 1.15 s with 2 processes; RLE: 96 vs 127 ms), so the pool is used for those.
        """
        records = [f.record for f in self.plan.frames]
        if all(can_read_fast(r) for r in records):
            return requested
        if self.decode_pool is not None and all(r.transfer_syntax_uid in EXPENSIVE_SYNTAXES for r in records):
            return max(requested, 2 * self.decode_pool.workers)
        self.decode_pool = None
        return 1

    def _jobs(self) -> list[list[int]]:
        """Single-frame slices are one job each; frames of one multi-frame file share a job."""
        by_file: dict[str, list[int]] = {}
        for z, source in enumerate(self.plan.frames):
            by_file.setdefault(source.record.path, []).append(z)
        return list(by_file.values())

    def _run_job(self, zs: list[int]) -> None:
        if self.cancel.cancelled:
            return
        try:
            self._read_job(zs)
        except DicomReadError as exc:
            with self._lock:
                self._failures.append((zs, exc))
            if len(self._failures) == len(self._jobs_total):
                raise
        for z in zs:
            self._finished(z)

    def failure_warnings(self) -> tuple[GeometryWarning, ...]:
        """Images that could not be decoded are left blank and named in one warning."""
        if not self._failures:
            return ()
        failed = sorted(self._failures, key=lambda f: f[0][0])
        described = "; ".join(f"image {zs[0] + 1}: {exc}" for zs, exc in failed[:3])
        count = sum(len(zs) for zs, _ in failed)
        return (
            GeometryWarning(
                WarningKind.UNREADABLE_IMAGES,
                f"{count} of {len(self.plan.frames)} images could not be decoded and are shown blank ({described}).",
            ),
        )

    def plausibility_warnings(self) -> tuple[GeometryWarning, ...]:
        """Images that decoded into values they cannot hold (``io.plausibility``)."""
        warning = implausible_warning(self._implausible, len(self.plan.frames))
        return () if warning is None else (warning,)

    def _read_job(self, zs: list[int]) -> None:
        first = self.plan.frames[zs[0]].record
        if len(zs) == 1 and can_read_fast(first):
            self._store_fast(zs[0])
        else:
            decoded = self.decode_pool.submit(first).result() if self.decode_pool else decode_file(first)
            for z in zs:
                frame = decoded[self.plan.frames[z].info.frame]
                self._check(z, frame, decoded=True)
                self._store(z, frame)

    def _store_fast(self, z: int) -> None:
        source = self.plan.frames[z]
        buffer = np.empty((source.record.rows, source.record.columns), dtype=stored_dtype(source.record))
        frame = read_fast(source.record, buffer)
        self._check(z, frame, decoded=False)
        self._store(z, frame)

    def _check(self, z: int, frame: NDArray[np.generic], *, decoded: bool) -> None:
        if self.plan.is_color:
            return
        source = self.plan.frames[z]
        info = source.info
        problem = frame_problem(frame, source.record, self.plan.modality, info.slope, info.intercept, decoded=decoded)
        if problem is not None:
            with self._lock:
                self._implausible[z] = problem

    def _store(self, z: int, frame: NDArray[np.generic]) -> None:
        if frame.shape[:2] != self.out.shape[1:3]:
            raise DicomReadError(f"Image {z + 1} has size {frame.shape[:2]}, expected {self.out.shape[1:3]}.")
        if self.plan.is_color:
            self.out[z] = frame if frame.ndim == 3 else np.repeat(frame[..., np.newaxis], 3, axis=2)
            return
        info = self.plan.frames[z].info
        target = self.out[z]
        if info.slope == 1.0:
            np.add(frame, np.float32(info.intercept), out=target, casting="unsafe")
        else:
            np.multiply(frame, np.float32(info.slope), out=target, casting="unsafe")
            target += np.float32(info.intercept)

    def _finished(self, z: int) -> None:
        with self._lock:
            self._done += 1
            done = self._done
        if self.on_slice is not None:
            self.on_slice(z)
        self.progress(done, len(self.plan.frames), f"Loaded {done} of {len(self.plan.frames)} images")


def load_series(
    index: SeriesIndex,
    series_uid: str,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    threads: int = 4,
    decode_pool: DecodePool | None = None,
) -> list[Volume]:
    """Plan and read every volume of a series."""
    token = cancel or CancelToken()
    volumes = []
    for plan in plan_series(index, series_uid):
        volumes.append(read_volume(plan, progress=progress, cancel=token, threads=threads, decode_pool=decode_pool))
        token.raise_if_cancelled("Loading the series")
    return volumes
