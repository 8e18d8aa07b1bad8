"""A generated validation cohort: hundreds of small chest CT studies with varied headers and planted nodules.

Each study is a 40 mm slab of a real chest CT (by default the bundled demo, away from its own
tumour), cropped to the body, with a little extra noise, at the source's slice spacing or half
of it, with made-up header values (sex, age, scanner, kernel, contrast; see
:mod:`~meddiag_desktop.validation.cohort_headers`) and 0-2 planted solid nodules of 18-28 mm
(:mod:`~meddiag_desktop.validation.cohort_lesions`). About ``lesion_free_share`` of the
studies have no nodule, so study-level AUC can be measured.

``planted_failure="Manufacturer=ACME"`` makes the nodules of the matching studies faint (pale
ground glass the model cannot see) while their labels still mark them: a subgroup report must
flag that subgroup. Without it nothing about a study's pixels depends on its sex, age,
scanner, kernel or contrast, so a model shows no real difference between those subgroups.

Written into ``out_dir``: ``S0001/ct/*.dcm`` and ``S0001/labels.nii.gz`` per study,
``manifest.json`` (the ``validate --manifest`` format) and ``cohort.json`` (what was planted
where). Run ``meddiag-desktop validate OUT_DIR --manifest OUT_DIR/manifest.json``. The same
seed gives the same studies, pixels and UIDs; study ``k`` does not depend on ``n_studies``.
UIDs are derived from everything that shapes a study's pixels (generator version, seed, study
number, source, lesion-free share, and the planted failure for the studies it changes): the
study index keeps one copy per SOP Instance UID, so equal UIDs must mean equal images.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.validation.cohort_dicom import StudyUids, write_labels, write_series
from meddiag_desktop.validation.cohort_headers import PlantedFailure, StudyHeaders, random_headers
from meddiag_desktop.validation.cohort_lesions import PlantedLesion, draw_lesion, place_lesions
from meddiag_desktop.validation.cohort_source import CohortSource, demo_source

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

GENERATOR_VERSION = "1"  # part of every UID: bump it when the same seed would give other pixels
MANIFEST_NAME = "manifest.json"
TRUTH_NAME = "cohort.json"
LESION_FREE_SHARE = 0.3
TWO_LESION_SHARE = 0.25  # of the studies with lesions
EXTRA_NOISE_HU = (0.0, 12.0)  # per-study added noise SD: dose varies between scans
CROP_JITTER_PX = 12


@dataclass(frozen=True)
class CohortStudy:
    """One generated study: where it is, what its headers say, and what was planted in it."""

    study_id: str
    folder: Path  # the series' folder
    labels: Path
    series_instance_uid: str
    headers: StudyHeaders
    lesions: tuple[PlantedLesion, ...]
    source: str
    slab_start: int

    @property
    def has_lesion(self) -> bool:
        return bool(self.lesions)

    @property
    def faint(self) -> bool:
        """Its lesions are the planted failure's faint ones."""
        return any(lesion.faint for lesion in self.lesions)

    def to_dict(self, root: Path) -> dict[str, Any]:
        data = asdict(self)
        data["folder"] = self.folder.relative_to(root).as_posix()
        data["labels"] = self.labels.relative_to(root).as_posix()
        return data


@dataclass(frozen=True, eq=False)
class _Slab:
    hu: NDArray[np.float32]
    depth_mm: NDArray[np.float32]
    affine: NDArray[np.float64]
    spacing: tuple[float, float, float]


def _crop(source: CohortSource, rng: np.random.Generator) -> tuple[int, slice, slice]:
    start = source.slab_starts[int(rng.integers(len(source.slab_starts)))]
    y0, y1, x0, x1 = source.chest_box
    ny, nx = source.hu.shape[1:]
    jitter = rng.integers(0, CROP_JITTER_PX + 1, 4)
    rows = slice(max(0, y0 - int(jitter[0])), min(ny, y1 + int(jitter[1])))
    cols = slice(max(0, x0 - int(jitter[2])), min(nx, x1 + int(jitter[3])))
    return start, rows, cols


def _halve(hu: NDArray[np.float32]) -> NDArray[np.float32]:
    """Slices interpolated half-way between each pair: ``2n - 1`` slices at half the spacing."""
    out = np.empty((2 * hu.shape[0] - 1, *hu.shape[1:]), dtype=np.float32)
    out[0::2] = hu
    out[1::2] = 0.5 * (hu[:-1] + hu[1:])
    return out


def _slab(source: CohortSource, start: int, rows: slice, cols: slice, thickness_mm: float) -> _Slab:
    z = slice(start, start + source.slab_slices)
    hu = source.hu[z, rows, cols].copy()
    dz, dy, dx = source.spacing
    step = 1.0
    if thickness_mm < dz - 1e-3:
        hu, step = _halve(hu), 0.5
    shift = np.eye(4)
    shift[:3, 3] = (start, rows.start, cols.start)
    shift[0, 0] = step
    affine = source.volume.affine @ shift
    return _Slab(hu, source.lung_depth_mm[z, rows, cols], affine, (dz * step, dy, dx))


def _lesion_count(rng: np.random.Generator, lesion_free_share: float) -> int:
    if rng.uniform() < lesion_free_share:
        return 0
    return 2 if rng.uniform() < TWO_LESION_SHARE else 1


def _draw(slab: _Slab, lesions: Sequence[PlantedLesion], rng: np.random.Generator) -> NDArray[np.uint8]:
    labels = np.zeros(slab.hu.shape, dtype=np.uint8)
    for k, lesion in enumerate(lesions, start=1):
        labels[draw_lesion(slab.hu, slab.spacing, lesion, rng)] = k
    return labels


def make_study(
    out_dir: Path, number: int, source: CohortSource, *, seed: int, planted_failure: PlantedFailure | None = None,
    lesion_free_share: float = LESION_FREE_SHARE,
) -> CohortStudy:  # fmt: skip
    """Generate and write study ``number`` (1-based) of the cohort ``seed``."""
    rng = np.random.default_rng([seed, number])
    study_id = f"S{number:04d}"
    headers = random_headers(rng, source.spacing[0])
    start, rows, cols = _crop(source, rng)
    slab = _slab(source, start, rows, cols, headers.slice_thickness_mm)
    np.add(slab.hu, rng.normal(0.0, rng.uniform(*EXTRA_NOISE_HU), slab.hu.shape), out=slab.hu, casting="unsafe")
    faint = planted_failure is not None and planted_failure.matches(headers)
    native = (source.spacing[0], slab.spacing[1], slab.spacing[2])
    lesions = place_lesions(rng, slab.depth_mm, native, _lesion_count(rng, lesion_free_share), faint=faint)
    labels = _draw(slab, lesions, rng)
    content = (GENERATOR_VERSION, str(seed), str(number), source.name, f"{lesion_free_share:g}")
    uids = StudyUids.of(*content, *([str(planted_failure)] if faint and lesions else []))
    folder = out_dir / study_id
    write_series(folder / "ct", slab.hu, slab.affine, study_id, headers, uids, source.name)
    write_labels(folder / "labels.nii.gz", labels, slab.affine)
    return CohortStudy(study_id, folder / "ct", folder / "labels.nii.gz", uids.series, headers, tuple(lesions),
                       source.name, start)  # fmt: skip


def make_cohort(
    out_dir: Path,
    n_studies: int,
    *,
    seed: int,
    planted_failure: str | None = None,
    lesion_free_share: float = LESION_FREE_SHARE,
    sources: Sequence[CohortSource] = (),
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[CohortStudy]:
    """Write ``n_studies`` generated studies, ``manifest.json`` and ``cohort.json`` into ``out_dir``.

    Parameters
    ----------
    planted_failure
        ``"keyword=value"`` (e.g. ``"Manufacturer=ACME"``, ``"PatientSex=F"``): the matching
        studies get faint nodules the model cannot find.
    sources
        Real CT series to cut studies from (:func:`~meddiag_desktop.validation.cohort_source.sources_from`);
        study ``k`` uses source ``k mod len(sources)``. Default: the bundled demo.

    Raises
    ------
    ValueError
        ``planted_failure`` is not ``keyword=value`` with a keyword the headers vary.
    """
    failure = PlantedFailure.parse(planted_failure) if planted_failure else None
    if not sources:
        with tempfile.TemporaryDirectory(prefix="meddiag-cohort-") as tmp:
            sources = [demo_source(Path(tmp) / "index.sqlite")]
    out_dir.mkdir(parents=True, exist_ok=True)
    studies = []
    for number in range(1, n_studies + 1):
        if cancel is not None:
            cancel.raise_if_cancelled("Cohort generation")
        source = sources[(number - 1) % len(sources)]
        studies.append(make_study(out_dir, number, source, seed=seed, planted_failure=failure,
                                  lesion_free_share=lesion_free_share))  # fmt: skip
        progress(number, n_studies, f"generated study {number}/{n_studies}")
    _write_manifests(out_dir, studies, seed, failure)
    logger.info("cohort: %d studies, %d with lesions", len(studies), sum(s.has_lesion for s in studies))
    return studies


def _write_manifests(out_dir: Path, studies: Sequence[CohortStudy], seed: int, failure: PlantedFailure | None) -> None:
    root = out_dir.resolve()
    cases = [{"series": s.folder.relative_to(out_dir).as_posix(), "labels": s.labels.relative_to(out_dir).as_posix()}
             for s in studies]  # fmt: skip
    (out_dir / MANIFEST_NAME).write_text(json.dumps({"cases": cases}, indent=1), encoding="utf-8")
    truth = {
        "seed": seed, "planted_failure": str(failure) if failure else None,
        "sources": sorted({s.source for s in studies}),
        "studies": [s.to_dict(out_dir) for s in studies],
    }  # fmt: skip
    (root / TRUTH_NAME).write_text(json.dumps(truth, indent=1), encoding="utf-8")
