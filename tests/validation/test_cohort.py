"""The generated cohort (validation.cohort): deterministic, varied headers, nodules in the lungs, read by validate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.label_volumes import read_label_image
from meddiag_desktop.validation.case_labels import case_lesions
from meddiag_desktop.validation.cases import discover_cases
from meddiag_desktop.validation.cohort import MANIFEST_NAME, TRUTH_NAME, CohortStudy, make_cohort
from meddiag_desktop.validation.cohort_source import CohortSource, demo_source, sources_from
from meddiag_desktop.validation.runner import load_case_volume

pytestmark = pytest.mark.slow  # the demo's lung mask and 50 generated studies: ~15 s

N = 16


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> CohortSource:
    return demo_source(tmp_path_factory.mktemp("cohort-source") / "index.sqlite")


@pytest.fixture(scope="module")
def fair(source: CohortSource, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CohortStudy]]:
    out = tmp_path_factory.mktemp("fair")
    return out, make_cohort(out, N, seed=11, sources=[source])


def _pixels(study: CohortStudy) -> list[bytes]:
    return [pydicom.dcmread(p).PixelData for p in sorted(study.folder.glob("*.dcm"))]


def test_the_source_keeps_away_from_the_demo_tumour(source: CohortSource) -> None:
    # the radiologists' boxes of A0001 lie on slices 41-51 of the demo series (z = -234..-184 mm)
    last = max(source.slab_starts) + source.slab_slices - 1
    assert source.slab_slices == 8 and last < 41 - 15 / 5.0
    assert len(source.slab_starts) >= 10


def test_same_seed_same_cohort(fair: tuple[Path, list[CohortStudy]], source: CohortSource, tmp_path: Path) -> None:
    _, studies = fair
    again = make_cohort(tmp_path, 3, seed=11, sources=[source])  # study k does not depend on the cohort size
    for first, second in zip(studies, again, strict=False):
        assert (first.series_instance_uid, first.headers, first.lesions) == (
            second.series_instance_uid, second.headers, second.lesions,
        )  # fmt: skip
        assert _pixels(first) == _pixels(second)
    other = make_cohort(tmp_path / "other", 1, seed=12, sources=[source])
    assert other[0].series_instance_uid != studies[0].series_instance_uid and _pixels(other[0]) != _pixels(studies[0])


def test_headers_vary_and_are_written(fair: tuple[Path, list[CohortStudy]]) -> None:
    _, studies = fair
    headers = [s.headers for s in studies]
    assert {h.sex for h in headers} == {"F", "M"} and len({h.manufacturer for h in headers}) >= 3
    assert {h.slice_thickness_mm for h in headers} == {2.5, 5.0} and len({h.kernel for h in headers}) == 3
    assert {bool(h.contrast_agent) for h in headers} == {True, False}
    assert len({s.series_instance_uid for s in studies}) == N and len({s.slab_start for s in studies}) > 4
    study = studies[0]
    ds = pydicom.dcmread(next(study.folder.glob("*.dcm")), stop_before_pixels=True)
    h = study.headers
    assert (ds.PatientSex, ds.PatientAge, ds.Manufacturer, ds.ManufacturerModelName, ds.ConvolutionKernel) == (
        h.sex, f"{h.age_years:03d}Y", h.manufacturer, h.model_name, h.kernel,
    )  # fmt: skip
    assert float(ds.SliceThickness) == h.slice_thickness_mm and ("ContrastBolusAgent" in ds) == bool(h.contrast_agent)
    assert ds.SeriesInstanceUID == study.series_instance_uid and "DERIVED" in ds.ImageType
    assert len(list(study.folder.glob("*.dcm"))) == (8 if h.slice_thickness_mm == 5.0 else 15)


def test_lesion_free_studies_and_planted_nodules(fair: tuple[Path, list[CohortStudy]]) -> None:
    _, studies = fair
    free = [s for s in studies if not s.has_lesion]
    assert 2 <= len(free) <= N // 2
    for study in studies:
        labels, _ = read_label_image(study.labels)
        assert int(labels.max()) == len(study.lesions)
        for lesion in study.lesions:
            assert 18.0 <= lesion.diameter_mm <= 28.0 and -10.0 <= lesion.hu <= 60.0 and not lesion.faint


def test_validate_reads_the_manifest_and_the_labels_sit_on_dense_nodules_in_the_lungs(
    fair: tuple[Path, list[CohortStudy]], tmp_path: Path
) -> None:
    out, studies = fair
    truth = json.loads((out / TRUTH_NAME).read_text())
    assert truth["seed"] == 11 and truth["planted_failure"] is None and len(truth["studies"]) == N
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        found = discover_cases([out], index, manifest=out / MANIFEST_NAME)
    assert len(found.cases) == N and not found.notes
    by_uid = {s.series_instance_uid: s for s in studies}
    for case in found.cases[:6]:
        volume = load_case_volume(case)
        lesions, _ = case_lesions(case.sources, volume)
        assert len(lesions) == len(by_uid[case.series_instance_uid].lesions)
        for label in lesions:
            hu = volume.array[label.mask]
            assert float(np.median(hu)) > -150.0  # solid nodule, not air
            assert float(np.mean(volume.array[_ring(label.mask)] < -500)) > 0.6  # surrounded by aerated lung


def _ring(mask: np.ndarray) -> np.ndarray:
    """The in-plane ring of voxels 3 pixels outside ``mask``."""
    grown = mask.copy()
    for _ in range(3):
        grown[:, 1:] |= grown[:, :-1]
        grown[:, :-1] |= grown[:, 1:]
        grown[:, :, 1:] |= grown[:, :, :-1]
        grown[:, :, :-1] |= grown[:, :, 1:]
    return grown & ~mask


def test_planted_failure_makes_only_that_subgroup_faint(
    fair: tuple[Path, list[CohortStudy]], source: CohortSource, tmp_path: Path
) -> None:
    _, studies = fair
    planted = make_cohort(tmp_path, N, seed=11, sources=[source], planted_failure="PatientSex=F")
    for before, after in zip(studies, planted, strict=True):
        assert before.headers == after.headers
        failing = after.headers.sex == "F" and after.has_lesion
        assert after.faint == failing
        assert all(-720.0 <= x.hu <= -660.0 for x in after.lesions) if failing else after.lesions == before.lesions
        # unaffected studies are the very same studies; affected ones get new UIDs
        assert (after.series_instance_uid == before.series_instance_uid) == (not failing)
    assert any(s.faint for s in planted)
    assert json.loads((tmp_path / TRUTH_NAME).read_text())["planted_failure"] == "PatientSex=F"


@pytest.mark.parametrize("spec", ["Manufacturer", "Colour=red", "=ACME"])
def test_bad_planted_failure_is_a_plain_error(spec: str, source: CohortSource, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="planted failure"):
        make_cohort(tmp_path, 1, seed=1, sources=[source], planted_failure=spec)


@pytest.mark.corpus
def test_corpus_series_with_contours_are_sources_too(corpus: Path, tmp_path: Path) -> None:
    """LUNG1-001 (3 mm, RT Structure Set with its tumour): slabs keep 15 mm away from the GTV."""
    [source] = sources_from([corpus / "nsclc_radiomics" / "LUNG1-001"], tmp_path / "index.sqlite")
    assert source.name == "LUNG1-001/ct" and source.slab_slices == 13 and len(source.slab_starts) >= 5
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        [case] = discover_cases([corpus / "nsclc_radiomics" / "LUNG1-001"], index).cases
    lesions, _ = case_lesions(case.sources, load_case_volume(case))
    tumour = np.flatnonzero(np.any([label.mask.any(axis=(1, 2)) for label in lesions], axis=0))
    assert len(tumour) > 0
    for start in source.slab_starts:  # no tumour slice within 5 slices (15 mm) of a slab
        assert not ((tumour >= start - 5) & (tumour <= start + source.slab_slices - 1 + 5)).any()
    studies = make_cohort(tmp_path / "cohort", 4, seed=1, sources=[source])
    assert {s.headers.slice_thickness_mm for s in studies} <= {3.0, 1.5} and any(s.has_lesion for s in studies)
    assert all(len(list(s.folder.glob("*.dcm"))) in (13, 25) for s in studies)
