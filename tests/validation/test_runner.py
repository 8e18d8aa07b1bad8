"""Validation runs with a fake analyser: known answers, thick variants, resumability, report files."""

from __future__ import annotations

import json
import logging
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from meddiag_desktop.config import Settings
from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.progress import CancelToken
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.errors import Cancelled, InferenceError
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.validation.cache import finding_from_json, finding_to_json
from meddiag_desktop.validation.cases import Case, VariantPlan, discover_cases
from meddiag_desktop.validation.output import write_report
from meddiag_desktop.validation.results import CaseStatus, FindingStatus, ModelInfo
from meddiag_desktop.validation.runner import FunctionAnalyser, RegistryAnalyser, evaluate_case, validate_cases
from tests.validation.helpers import (
    BIRTH_DATE,
    PATIENT_ID,
    PATIENT_NAME,
    chest_hu,
    ct_datasets,
    finding_from_mask,
    label_image_on,
    volume_of,
    write_series,
)

MODEL = ModelInfo("fake-seg", "0.1", "a" * 64, "b" * 64, "test", 0.5)


class Fake:
    """Finds everything denser than -100 HU inside the body rim, plus one false finding; counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, volume: Volume) -> list[Finding]:
        self.calls += 1
        dense = np.asarray(volume.array) > -100
        dense[:, :4, :] = dense[:, -4:, :] = dense[:, :, :4] = dense[:, :, -4:] = False
        false = np.zeros(volume.shape, dtype=bool)
        _, ny, nx = volume.shape
        false[0, 3 * ny // 4 : 3 * ny // 4 + ny // 10, 3 * nx // 4 : 3 * nx // 4 + nx // 10] = True  # 4 x 4 at 40 x 40
        return [finding_from_mask("F1", dense, 0.9), finding_from_mask("F2", false, 0.4)]


def make_study(tmp_path: Path, plan: VariantPlan | None = None) -> tuple[list[Case], Path]:
    hu = chest_hu((12, 40, 40))
    hu[3:8, 10:20, 10:20] = 40  # the tumour: 5 slices x 10 x 10
    datasets = ct_datasets(hu, spacing=(2.5, 0.8, 0.8))
    write_series(tmp_path / "study" / "ct", datasets)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    labels[3:8, 10:20, 10:18] = 1  # the reference outline misses two columns of it
    sitk.WriteImage(label_image_on(volume_of(datasets), labels), str(tmp_path / "labels.nii.gz"))
    (tmp_path / "manifest.json").write_text(json.dumps([{"series": "study", "labels": "labels.nii.gz"}]))
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        found = discover_cases(
            [tmp_path / "study"], index, manifest=tmp_path / "manifest.json", variants=plan or VariantPlan((5.0,))
        )
    return list(found.cases), tmp_path / "out"


def test_known_answers_on_the_scan_and_its_thick_version(tmp_path: Path) -> None:
    cases, out = make_study(tmp_path)
    fake = Fake()
    calls: list[tuple[int, int, str]] = []
    report = validate_cases(cases, FunctionAnalyser(fake, MODEL), out, progress=lambda *a: calls.append(a))
    thin, thick = report.cases
    assert thin.status is CaseStatus.ANALYSED and thin.slice_spacing_mm == pytest.approx(2.5)
    assert thin.thickness_band == "1.5-3.5 mm" and thin.vendor == "ACME Medical"
    [lesion] = thin.lesions
    assert lesion.hit and lesion.hit_finding == "F1"
    assert lesion.dice == pytest.approx(2 * 400 / 900)  # 400 reference voxels inside a 500-voxel finding
    assert lesion.volume_error_pct == pytest.approx(25.0)
    assert [f.status for f in thin.findings] == [FindingStatus.HIT, FindingStatus.FALSE] and thin.false_findings == 1
    # 5 mm: slices averaged in pairs; the tumour's first slice is averaged with air and drops below -100 HU
    assert thick.slice_spacing_mm == pytest.approx(5.0) and thick.thickness_band == "3.5-6 mm"
    [lesion] = thick.lesions
    assert lesion.voxels == 3 * 80 and lesion.dice == pytest.approx(2 * 160 / (240 + 200))
    assert fake.calls == 2
    assert calls[-1] == (2, 2, "Validation finished") and any("averaged to ~5 mm" in c[2] for c in calls)


def test_known_answers_resliced_finer_and_with_coarser_pixels(tmp_path: Path) -> None:
    cases, out = make_study(tmp_path, VariantPlan(reslices=(1.25, 2.5), pixel_sizes=(1.6, 0.5, 1.2)))
    assert len({c.case_id for c in cases}) == 6
    fake = Fake()
    report = validate_cases(cases, FunctionAnalyser(fake, MODEL), out)
    acquired, resliced, same_spacing, coarse, finer_pixels, uneven = report.cases
    assert [c.variant for c in report.cases] == [
        "as acquired", "resliced every 1.25 mm", "resliced every 2.5 mm", "pixels averaged to 1.6 mm",
        "pixels averaged to 0.5 mm", "pixels averaged to 1.2 mm",
    ]  # fmt: skip
    assert same_spacing.status is CaseStatus.SKIPPED and "already 2.5 mm apart" in same_spacing.message
    assert finer_pixels.status is CaseStatus.SKIPPED and "already 0.80 x 0.80 mm" in finer_pixels.message
    assert fake.calls == 4
    # 1.25 mm: twice the slices; the reference keeps its place and its volume in mL
    assert resliced.slice_spacing_mm == pytest.approx(1.25)
    [thin], [fine] = acquired.lesions, resliced.lesions
    assert fine.voxels == 2 * thin.voxels and fine.volume_ml == pytest.approx(thin.volume_ml)
    assert fine.hit and fine.dice == pytest.approx(thin.dice, abs=0.05)
    # 1.6 mm pixels: 2 x 2 blocks of 0.8 mm; the 10 x 8 outline becomes 5 x 4 per slice
    [block] = coarse.lesions
    assert block.voxels == 5 * 20 and block.volume_ml == pytest.approx(thin.volume_ml)
    assert block.hit and block.dice == pytest.approx(thin.dice, abs=0.05)
    # 1.2 mm pixels straddle the outline's edges: only those at least half inside count (6 x 5 per slice)
    assert uneven.lesions[0].voxels == 5 * 30


def test_second_run_reads_the_cache_and_does_not_analyse(tmp_path: Path) -> None:
    cases, out = make_study(tmp_path)
    first = validate_cases(cases, FunctionAnalyser(Fake(), MODEL), out)
    assert len(list((out / "cases").glob("*.json"))) == 2
    fake = Fake()
    second = validate_cases(cases, FunctionAnalyser(fake, MODEL), out)
    assert fake.calls == 0 and all(c.from_cache for c in second.cases)
    assert [c.lesions for c in second.cases] == [c.lesions for c in first.cases]
    assert [c.findings for c in second.cases] == [c.findings for c in first.cases]
    other_model = ModelInfo("fake-seg", "0.2", "c" * 64, "b" * 64)
    validate_cases(cases, FunctionAnalyser(fake, other_model), out)
    assert fake.calls == 2  # another model's sha256: analysed again


def test_refusal_and_unreadable_labels_are_reported_not_raised(tmp_path: Path) -> None:
    cases, out = make_study(tmp_path)

    def refuse(volume: Volume) -> list[Finding]:
        raise InferenceError("Slice spacing 5.00 mm is outside the range model 'x' was validated for")

    report = validate_cases(cases, FunctionAnalyser(refuse, MODEL), out)
    assert [c.status for c in report.cases] == [CaseStatus.NOT_ANALYSED] * 2
    assert "outside the range" in report.cases[0].message and report.cases[0].lesions == ()
    (tmp_path / "labels.nii.gz").write_text("gone")
    result = evaluate_case(cases[0], FunctionAnalyser(Fake(), MODEL), out / "cases")
    assert result.status is CaseStatus.FAILED and "labels.nii.gz could not be read" in result.message


def test_cancel_stops_between_cases(tmp_path: Path) -> None:
    cases, out = make_study(tmp_path)
    token = CancelToken()
    fake = Fake()

    def cancel_after_first(volume: Volume) -> list[Finding]:
        token.cancel()
        return fake(volume)

    with pytest.raises(Cancelled):
        validate_cases(cases, FunctionAnalyser(cancel_after_first, MODEL), out, cancel=token)
    assert fake.calls == 1 and len(list((out / "cases").glob("*.json"))) == 1  # the finished case stays cached


def test_report_files_are_self_contained_and_free_of_patient_identity(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases, out = make_study(tmp_path)
    report = validate_cases(cases, FunctionAnalyser(Fake(), MODEL), out, notes=("a note",))
    files = write_report(report, out)
    data = json.loads(files.json.read_text())
    assert data["model"]["sha256"] == "a" * 64 and data["disclaimer"] == "Decision support only; not a medical device."
    assert data["summary"]["hits"] == 2 and data["summary"]["lesions"] == 2 and data["summary"]["false_findings"] == 2
    assert data["summary"]["sensitivity_at_fp_per_scan"]["1"] == 1.0
    assert [g["name"] for g in data["by_thickness_band"]] == ["1.5-3.5 mm", "3.5-6 mm"]
    assert [g["name"] for g in data["by_vendor"]] == ["ACME Medical"]
    assert data["scans"][0]["series"].endswith("…") and "series_instance_uid" not in data["scans"][0]
    page = files.html.read_text()
    assert "Decision support only; not a medical device" in page and "fake-seg" in page and "a" * 64 in page
    for tag in ("Per scan", "Per lesion", "FROC", "Per slice-thickness band", "Per vendor", "Per patient"):
        assert tag in page
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<script" not in page
    written = [files.json, files.html, *(out / "cases").glob("*.json")]
    for text in [*(p.read_text() for p in written), caplog.text]:
        for identity in (PATIENT_NAME, PATIENT_ID, BIRTH_DATE, "Doe", cases[0].series_instance_uid):
            assert identity not in text


def test_findings_round_trip_through_the_cache_format() -> None:
    mask = np.zeros((7, 9, 11), dtype=bool)
    mask[1:5, 2:7, 3:4] = True
    mask[2, 3, 5:9] = True
    f = finding_from_mask("F3", mask, 0.77)
    back = finding_from_json(json.loads(json.dumps(finding_to_json(f))))
    assert np.array_equal(back.mask, f.mask) and back.bbox == f.bbox and back.to_dict() == f.to_dict()


def test_registry_analyser_pins_the_shipped_model_and_pickles_without_its_session() -> None:
    settings = Settings()
    analyser = RegistryAnalyser(ModelRegistry(settings.builtin_models_dir, settings.user_models_dir), "lung-nodule-seg")
    manifest = json.loads((settings.builtin_models_dir / "lung-nodule-seg" / "manifest.json").read_text())
    assert analyser.model.sha256 == manifest["files"]["model.onnx"] and len(analyser.model.settings_sha256) == 64
    copy = pickle.loads(pickle.dumps(analyser))
    assert copy.model == analyser.model and copy.registry.builtin_dir == settings.builtin_models_dir
