"""End-to-end pipeline on fixture models: findings, veto, classification, provenance, audit."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from inference_fixtures import chest_volume

from meddiag_desktop.core.progress import CancelToken
from meddiag_desktop.errors import Cancelled, InferenceError, ModelIntegrityError
from meddiag_desktop.inference.analyze import analyze_volume, format_findings_table
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.inference.registry import ModelRegistry, sha256_file


def _run(root: Path, **kw: object) -> object:
    return analyze_volume(
        chest_volume(), ModelRegistry(root), seg_model_id="seg-fixture", cls_model_id="cls-fixture", threads=1, **kw
    )  # type: ignore[arg-type]


def test_nodule_is_found_and_body_and_table_are_vetoed(model_root: Path) -> None:
    vol = chest_volume()
    res = analyze_volume(
        vol, ModelRegistry(model_root), seg_model_id="seg-fixture", cls_model_id="cls-fixture", threads=1
    )
    assert len(res.findings) == 1, format_findings_table(res)
    f = res.findings[0]
    np.testing.assert_allclose(f.centroid_index, (10, 30, 22), atol=0.6)
    np.testing.assert_allclose(f.centroid_lps, vol.index_to_lps(np.array([10.0, 30.0, 22.0])), atol=1.0)
    true_ml = 4 / 3 * np.pi * 4.5**3 / 1000
    assert f.volume_ml == pytest.approx(true_ml, rel=0.5)
    assert 6.0 <= f.long_axis_mm <= 13.0
    assert f.mean_hu > -300
    assert res.probability.shape == vol.shape and res.probability.dtype == np.float16
    assert res.probability[10, 30, 22] > 0.9 and res.probability[10, 5, 5] < 0.01


def test_classifier_probabilities_are_calibrated_and_explained(model_root: Path) -> None:
    res = _run(model_root)
    f = res.findings[0]  # type: ignore[attr-defined]
    probs = f.class_probabilities
    assert set(probs) == {"solid", "subsolid"}
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    occ = res.explanations[f.id]  # type: ignore[attr-defined]
    assert occ.array.shape == (8, 16, 16)
    assert occ.class_name == f.top_class
    assert np.abs(occ.array).max() > 0  # occluding the crop changes the prediction


def test_provenance_traces_models_and_input(model_root: Path) -> None:
    vol = chest_volume()
    res = analyze_volume(
        vol, ModelRegistry(model_root), seg_model_id="seg-fixture", cls_model_id="cls-fixture", threads=1
    )
    prov = res.provenance
    assert [m.id for m in prov.models] == ["seg-fixture", "cls-fixture"]
    assert prov.models[0].sha256["model.onnx"] == sha256_file(model_root / "seg-fixture" / "model.onnx")
    assert prov.series_instance_uid == "1.2.3.4"
    assert prov.input_pixel_sha256 == pixel_sha256(vol)
    assert prov.started_utc <= prov.finished_utc and prov.started_utc.endswith("+00:00")
    assert prov.parameters["threshold"] == 0.5
    text = json.dumps(res.to_dict())
    assert "seg-fixture" in text and "F1" in text
    table = format_findings_table(res)
    assert table.splitlines()[2].startswith("F1") and "not a medical device" in table


def test_results_are_deterministic(model_root: Path) -> None:
    a, b = _run(model_root), _run(model_root)
    np.testing.assert_array_equal(a.probability, b.probability)  # type: ignore[attr-defined]
    assert a.findings[0].to_dict() == b.findings[0].to_dict()  # type: ignore[attr-defined]


def test_pixel_hash_changes_with_one_voxel() -> None:
    vol = chest_volume()
    arr = vol.array.copy()
    arr[0, 0, 0] += 1
    assert pixel_sha256(vol) != pixel_sha256(vol.with_array(arr))


def test_tampered_model_is_refused_before_running(model_root: Path) -> None:
    path = model_root / "seg-fixture" / "model.onnx"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="refused"):
        _run(model_root)


def test_out_of_range_spacing_and_wrong_modality_are_refused(model_root: Path) -> None:
    reg = ModelRegistry(model_root)
    thick = chest_volume(spacing=(8.0, 1.5, 1.5))
    with pytest.raises(InferenceError, match=r"Slice spacing 8\.00 mm"):
        analyze_volume(thick, reg, seg_model_id="seg-fixture", cls_model_id=None)
    mr = replace(chest_volume(), modality="MR")
    with pytest.raises(InferenceError, match="is for CT"):
        analyze_volume(mr, reg, seg_model_id="seg-fixture", cls_model_id=None)


def test_cancel_and_progress(model_root: Path) -> None:
    seen: list[str] = []
    _run(model_root, progress=lambda d, t, m: seen.append(m))
    assert "Segmenting" in seen
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        _run(model_root, cancel=token)


def test_higher_threshold_can_remove_findings(model_root: Path) -> None:
    res = _run(model_root, threshold=0.9999)
    assert len(res.findings) <= 1  # type: ignore[attr-defined]
    assert res.provenance.parameters["threshold"] == 0.9999  # type: ignore[attr-defined]
