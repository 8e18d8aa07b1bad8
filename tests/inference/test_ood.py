"""The AI input check (out-of-distribution guard) on the bundled demo CT, its variants and the corpus.

The demo (Philips, 120 kVp, kernel L, 5 mm, 58 years) is what the shipped models were trained on;
leaving one slice out makes a real gap, truncating one file real unreadable pixels. Real mismatches
(an MR, a tilted head CT) come from ../shared/corpus and are skipped without it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from inference_fixtures import base_manifest, chest_volume, write_model

from meddiag_desktop.core.ood import CheckStatus, OodOverride, SeriesFacts, Severity
from meddiag_desktop.core.volume import GeometryWarning, Volume, WarningKind
from meddiag_desktop.errors import (
    DicomReadError,
    InferenceError,
    ModelIntegrityError,
    OutOfDistributionError,
    OverrideRequiredError,
)
from meddiag_desktop.inference import ood
from meddiag_desktop.inference.analyze import analyze_volume
from meddiag_desktop.inference.manifest import InputContract, ModelManifest, parse_manifest
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.acquisition import facts_for_volume, read_series_facts
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo" / "lung_ct_A0001"
CORPUS = REPO.parent / "shared" / "corpus"
SHIPPED = ("lung-nodule-seg", "lung-lesion-cls")
OVERRIDE = OodOverride("only series available; checked against the prior study", "radiologist1", "Dr Test")


@pytest.fixture(scope="module")
def shipped() -> list[ModelManifest]:
    registry = ModelRegistry(REPO / "models")
    return [registry.verify(model_id).manifest for model_id in SHIPPED]  # type: ignore[misc]


def load(folder: Path, tmp: Path) -> tuple[SeriesIndex, Volume]:
    index = SeriesIndex(tmp / "index.sqlite")
    scan(folder, index)
    series = max((s for s in index.series() if s.kind.value == "image"), key=lambda s: s.frame_count)
    return index, max(load_series(index, series.series_instance_uid, threads=1), key=lambda v: v.shape[0])


def demo_copy(tmp: Path, *, drop: int | None = None, garble: int | None = None) -> Path:
    """A copy of the demo, with one slice dropped, or one slice whose RLE data cannot be decoded (its
    framing intact, so the scan indexes it and only decoding fails)."""
    folder = tmp / "demo"
    shutil.copytree(DEMO, folder)
    files = sorted(folder.glob("*.dcm"))
    if drop is not None:
        files[drop].unlink()
    if garble is not None:
        data = bytearray(files[garble].read_bytes())
        item = b"\xfe\xff\x00\xe0"
        offset_table = data.index(item, data.index(b"\xe0\x7f\x10\x00"))
        fragment = data.index(item, offset_table + 8) + 8
        data[fragment + 8 : fragment + 12] = bytes(4)  # the second segment "starts" inside the RLE header
        files[garble].write_bytes(bytes(data))
    return folder


def check_of(folder: Path, tmp: Path, manifests: list[ModelManifest]) -> ood.InputCheck:
    index, volume = load(folder, tmp)
    with index:
        return ood.assess(volume, facts_for_volume(index, volume), manifests)


# -- the demo and its real variants ----------------------------------------------------------------


def test_the_demo_is_within_the_shipped_models_range(tmp_path: Path, shipped: list[ModelManifest]) -> None:
    index, volume = load(DEMO, tmp_path)
    with index:
        facts = facts_for_volume(index, volume)
    assert (facts.kvp, facts.kernels, facts.slice_thickness_mm) == ((120.0,), ("L",), (5.0,))
    assert facts.headers_read == 3  # first, middle and last slice
    assert facts.patient_age_years == pytest.approx(58.0)
    check = ood.assess(volume, facts, shipped)
    assert check.status is CheckStatus.IN_RANGE and not check.issues
    versions = {m.id: m.version for m in shipped}
    assert check.models == tuple(f"{i}@{versions[i]}" for i in ("lung-nodule-seg", "lung-lesion-cls"))
    assert ood.clear(check) is check
    assert "patient_age_years" not in json.dumps(check.to_dict())  # the age is compared, never kept


def test_a_missing_slice_needs_a_typed_override(tmp_path: Path, shipped: list[ModelManifest]) -> None:
    check = check_of(demo_copy(tmp_path, drop=30), tmp_path, shipped)
    assert check.status is CheckStatus.NEEDS_OVERRIDE
    (gap,) = check.soft
    assert gap.check == "geometry:uneven_spacing" and "10.00 mm between slices 33 and 34" in gap.message
    assert check.geometry_warnings == (gap.message,)
    with pytest.raises(OverrideRequiredError, match=r"10\.00 mm between slices 33 and 34"):
        ood.clear(check)
    cleared = ood.clear(check.with_override(OVERRIDE))
    assert cleared.status is CheckStatus.OVERRIDDEN
    assert type(cleared).from_dict(json.loads(json.dumps(cleared.to_dict()))) == cleared


def test_unreadable_slices_refuse_the_run_even_with_a_reason(tmp_path: Path, shipped: list[ModelManifest]) -> None:
    folder = demo_copy(tmp_path, garble=20)
    check = check_of(folder, tmp_path, shipped)
    assert check.status is CheckStatus.REFUSED
    assert [i.check for i in check.hard] == ["geometry:unreadable_images"]
    with pytest.raises(OutOfDistributionError, match="could not be decoded") as raised:
        ood.clear(check.with_override(OVERRIDE))
    assert not isinstance(raised.value, OverrideRequiredError)


def test_a_wrong_modality_is_refused(tmp_path: Path, shipped: list[ModelManifest]) -> None:
    index, volume = load(DEMO, tmp_path)
    index.close()
    check = ood.assess(replace(volume, modality="MR"), SeriesFacts(), shipped)
    assert check.status is CheckStatus.REFUSED
    assert check.hard[0].message == "The series is MR; the AI (lung-nodule-seg, lung-lesion-cls) is for CT only."
    with pytest.raises(OutOfDistributionError, match="Not analysed"):
        ood.clear(check)


# -- each fact against the manifest ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_volume(tmp_path_factory: pytest.TempPathFactory) -> Volume:
    index, volume = load(DEMO, tmp_path_factory.mktemp("demo"))
    index.close()
    return volume


IN_RANGE = SeriesFacts(kvp=(120.0,), kernels=("L",), slice_thickness_mm=(5.0,), patient_age_years=58.0)


@pytest.mark.parametrize(
    ("facts", "check", "severity", "words"),
    [
        (
            replace(IN_RANGE, kvp=(100.0,)),
            "kvp",
            Severity.NOTE,
            "Tube voltage 100 kVp is outside the 120 kVp of the real",
        ),
        (
            replace(IN_RANGE, kernels=("B70f",)),
            "kernel",
            Severity.NOTE,
            "kernel 'B70f' differs from the kernels of the",
        ),
        (replace(IN_RANGE, body_part="HEAD"), "body_part", Severity.SOFT, "tagged body part 'HEAD'; the AI"),
        (replace(IN_RANGE, slice_thickness_mm=(12.0,)), "slice_thickness", Severity.SOFT, "Slice thickness 12 mm"),
        (replace(IN_RANGE, patient_age_years=12.0), "patient_age", Severity.SOFT, "younger than the 18 years"),
    ],
)
def test_each_acquisition_fact_outside_the_contract_is_named(
    demo_volume: Volume, shipped: list[ModelManifest], facts: SeriesFacts, check: str, severity: Severity, words: str
) -> None:
    """Outside the intended use: an override. Accepted but unlike the few training scans: a note that runs."""
    result = ood.assess(demo_volume, facts, shipped)
    assert [(i.check, i.severity) for i in result.issues] == [(check, severity)]
    assert words in result.issues[0].message
    assert result.status is (CheckStatus.NEEDS_OVERRIDE if severity is Severity.SOFT else CheckStatus.IN_RANGE)
    if severity is Severity.NOTE:
        assert ood.clear(result) is result and f"note: {result.issues[0].message}" in result.lines()
        assert result.notes == result.issues
    if check == "patient_age":  # these words reach exports, de-identified ones too: the age itself is never written
        assert "12" not in result.issues[0].message


@pytest.mark.parametrize("tag", ["CHEST", "Chest", "THORAX", "chest-abdomen"])
def test_chest_tags_are_in_range(demo_volume: Volume, shipped: list[ModelManifest], tag: str) -> None:
    assert not ood.assess(demo_volume, replace(IN_RANGE, body_part=tag), shipped).issues


def _with_spacing(volume: Volume, dz: float) -> Volume:
    affine = volume.affine.copy()
    affine[:3, 0] *= dz / volume.spacing[0]
    return replace(volume, affine=affine)


def test_slice_spacing_outside_the_accepted_range_is_soft_not_refused(
    demo_volume: Volume, shipped: list[ModelManifest]
) -> None:
    check = ood.assess(_with_spacing(demo_volume, 12.0), IN_RANGE, shipped)
    assert [(i.check, i.severity) for i in check.issues] == [("slice_spacing", Severity.SOFT)]
    assert "Slice spacing 12.00 mm is outside the 0.5–10 mm the AI" in check.issues[0].message
    assert ood.clear(check.with_override(OVERRIDE)).status is CheckStatus.OVERRIDDEN


def test_thin_slices_the_model_accepts_run_with_a_note(demo_volume: Volume, shipped: list[ModelManifest]) -> None:
    """0.5-3 mm is accepted (block-averaged onto the 2.5 mm grid) but thinner than the real training scans."""
    check = ood.assess(_with_spacing(demo_volume, 2.0), IN_RANGE, shipped)
    assert [(i.check, i.severity) for i in check.issues] == [("slice_spacing", Severity.NOTE)]
    assert "outside the 3–10 mm of the real training and validation scans" in check.issues[0].message
    assert ood.clear(check).status is CheckStatus.IN_RANGE


def test_contrast_is_checked_only_where_the_manifest_names_it(
    demo_volume: Volume, shipped: list[ModelManifest]
) -> None:
    agent = replace(IN_RANGE, contrast_agent=True)
    assert not ood.assess(demo_volume, agent, shipped).issues
    plain = replace(shipped[0], input_contract=replace(shipped[0].input_contract, contrast="without"))
    (issue,) = ood.assess(demo_volume, agent, [plain]).issues
    assert issue.check == "contrast" and "the AI (lung-nodule-seg) is meant for CT without" in issue.message


# -- the manifest ----------------------------------------------------------------------------------


def test_manifests_without_a_contract_stay_valid_and_bad_contracts_are_named() -> None:
    old = {**base_manifest("seg-fixture", "segmentation"), "files": {"model.onnx": "ab" * 32}}
    assert parse_manifest(old).input_contract == InputContract()
    bad = {**old, "input_contract": {"training_kvp": [140, 100]}}
    with pytest.raises(ModelIntegrityError, match=r"'input_contract\.training_kvp' is an empty range"):
        parse_manifest(bad)
    bad = {**old, "input_contract": {"contrast": "sometimes"}}
    with pytest.raises(ModelIntegrityError, match=r"input_contract\.contrast"):
        parse_manifest(bad)


def test_the_shipped_contract_keeps_the_models_verified(shipped: list[ModelManifest]) -> None:
    for manifest in shipped:  # ``verify`` re-hashed every file listed in the manifest
        contract = manifest.input_contract
        assert contract.training_kvp == (120.0, 120.0) and contract.training_kernels == ("B19f", "L")
        assert contract.min_patient_age_years == 18.0 and "CHEST" in contract.body_parts_examined


# -- analyze_volume keeps the check and copies the geometry warnings --------------------------------


@pytest.fixture
def fixture_models(tmp_path: Path) -> ModelRegistry:
    root = tmp_path / "models"
    write_model(root, "seg-fixture", "segmentation")
    return ModelRegistry(root)


def test_analysis_needs_the_override_and_keeps_it_with_the_result(fixture_models: ModelRegistry) -> None:
    gap = GeometryWarning(WarningKind.UNEVEN_SPACING, "Uneven slice spacing: 4.00 mm between slices 9 and 10.")
    volume = chest_volume().with_warnings(gap)
    manifest = fixture_models.entry("seg-fixture").manifest
    assert manifest is not None
    check = ood.assess(volume, SeriesFacts(), [manifest])
    with pytest.raises(OverrideRequiredError, match="between slices 9 and 10"):
        analyze_volume(volume, fixture_models, seg_model_id="seg-fixture", cls_model_id=None, input_check=check)
    result = analyze_volume(volume, fixture_models, seg_model_id="seg-fixture", cls_model_id=None, threads=1,
                            input_check=check.with_override(OVERRIDE))  # fmt: skip
    assert result.input_check is not None and result.input_check.override == OVERRIDE
    assert gap.message in result.warnings
    payload = result.to_dict()["input_check"]
    assert payload["status"] == "run by override" and payload["override"]["reason"] == OVERRIDE.reason


def test_geometry_warnings_reach_every_result_even_without_a_check(fixture_models: ModelRegistry) -> None:
    tilt = GeometryWarning(WarningKind.GANTRY_TILT, "Gantry tilt of 18.5°.")
    result = analyze_volume(chest_volume().with_warnings(tilt), fixture_models, seg_model_id="seg-fixture",
                            cls_model_id=None, threads=1)  # fmt: skip
    assert tilt.message in result.warnings and result.input_check is None


def test_an_override_lets_spacing_outside_the_range_run(fixture_models: ModelRegistry) -> None:
    thick = chest_volume(spacing=(8.0, 1.5, 1.5))
    manifest = fixture_models.entry("seg-fixture").manifest
    assert manifest is not None
    check = ood.assess(thick, SeriesFacts(), [manifest])
    assert [i.check for i in check.soft] == ["slice_spacing"]
    with pytest.raises(InferenceError, match=r"Slice spacing 8\.00 mm"):  # no check at all: refused as before
        analyze_volume(thick, fixture_models, seg_model_id="seg-fixture", cls_model_id=None)
    result = analyze_volume(thick, fixture_models, seg_model_id="seg-fixture", cls_model_id=None, threads=1,
                            input_check=check.with_override(OVERRIDE))  # fmt: skip
    assert result.probability.shape == thick.shape


def test_a_check_of_another_series_is_refused(fixture_models: ModelRegistry) -> None:
    manifest = fixture_models.entry("seg-fixture").manifest
    assert manifest is not None
    check = ood.assess(replace(chest_volume(), series_instance_uid="9.9.9"), SeriesFacts(), [manifest])
    with pytest.raises(InferenceError, match="another series or model"):
        analyze_volume(chest_volume(), fixture_models, seg_model_id="seg-fixture", cls_model_id=None, input_check=check)


# -- header facts ----------------------------------------------------------------------------------


def test_a_volume_built_in_memory_states_no_facts(tmp_path: Path) -> None:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        assert facts_for_volume(index, chest_volume()) == SeriesFacts()


def test_age_from_birth_and_study_dates_and_anonymised_ages(tmp_path: Path) -> None:
    header = pydicom.dcmread(sorted(DEMO.glob("*.dcm"))[0])
    del header.PatientAge
    header.PatientBirthDate, header.StudyDate = "20000101", "20120101"
    header.BodyPartExamined = "CHEST"
    header.ContrastBolusAgent = ""  # the module is present only when contrast was given (PS3.3 C.7.6.4)
    header.save_as(tmp_path / "child.dcm")
    facts = read_series_facts([tmp_path / "child.dcm"])
    assert facts.patient_age_years == pytest.approx(12.0, abs=0.01)
    assert (facts.body_part, facts.contrast_agent) == ("CHEST", True)
    header.PatientAge = "000Y"  # what anonymisers write: not an age
    header.save_as(tmp_path / "anon.dcm")
    assert read_series_facts([tmp_path / "anon.dcm"]).patient_age_years == pytest.approx(12.0, abs=0.01)
    (tmp_path / "junk.dcm").write_bytes(b"not dicom")
    with pytest.raises(DicomReadError, match="cannot be read"):
        read_series_facts([tmp_path / "junk.dcm"])


# -- the real corpus -------------------------------------------------------------------------------


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the real DICOM corpus is not at {CORPUS} (../shared is absent)")
    return CORPUS


def test_a_real_mr_is_refused(corpus: Path, tmp_path: Path, shipped: list[ModelManifest]) -> None:
    check = check_of(corpus / "mr_ge_3d_t1_mprage", tmp_path, shipped)
    assert check.status is CheckStatus.REFUSED and [i.check for i in check.hard] == ["modality"]


def test_a_real_tilted_head_ct_needs_an_override(corpus: Path, tmp_path: Path, shipped: list[ModelManifest]) -> None:
    folder = tmp_path / "tilt"
    shutil.copytree(corpus / "ct_gantry_tilt" / "ge_hispeed_dual_var_tilt_var_spacing", folder)
    check = check_of(folder, tmp_path, shipped)
    assert check.status is CheckStatus.NEEDS_OVERRIDE and not check.hard
    found = {i.check for i in check.soft}
    assert {"geometry:gantry_tilt", "geometry:uneven_spacing", "body_part", "pixel_spacing"} <= found
    assert "kernel" in {i.check for i in check.issues if i.severity is Severity.NOTE}
    assert np.isclose(check.facts["kvp"][0], 120.0)
