"""Headless export: ``analyze PATH --export-dir DIR`` and ``export --list`` / ``export --review ID DIR``."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import highdicom as hd
import pytest

from meddiag_desktop import cli
from meddiag_desktop.cli import main
from meddiag_desktop.config import Settings
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.review import audit
from meddiag_desktop.review.model import RejectReason
from meddiag_desktop.review.records import AiRun
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore
from tests.export_helpers import DEMO, dciodvfy_errors, demo_series, sphere
from tests.inference.inference_fixtures import base_manifest, write_model

MODEL_REF = "lung-nodule-seg@2.1.0#sha256:" + "ab" * 32


def fixture_models(root: Path) -> Path:
    """The tiny ONNX fixtures under the shipped ids (as tests/ui/review_helpers.py builds them, without Qt)."""
    seg = base_manifest("lung-nodule-seg", "segmentation")
    seg["input"].update({"spacing_mm": [5.0, 3.0, 3.0], "patch_size": [16, 64, 64], "overlap": 0.0})
    seg["postprocess"]["min_volume_ml"] = 0.1
    write_model(root, "lung-nodule-seg", "segmentation", seg)
    write_model(root, "lung-lesion-cls", "classification")
    return root


def _audit_exports() -> list[dict[str, object]]:
    with closing(sqlite3.connect(Settings().review_store_path)) as db:
        rows = db.execute("SELECT details FROM audit WHERE event = 'results_exported' ORDER BY seq").fetchall()
    return [json.loads(row[0]) for row in rows]


def _files(folder: Path) -> dict[str, Path]:
    return {p.name.split("_")[0]: p for p in folder.iterdir()}


def test_analyze_exports_an_unverified_seg_and_sr_of_every_ai_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    models = fixture_models(tmp_path / "models")
    monkeypatch.setattr(cli, "Settings", lambda: Settings(builtin_models_dir=models))
    out = tmp_path / "results"
    code = main(["analyze", str(DEMO), "--threads", "1", "--json", str(tmp_path / "f.json"), "--export-dir", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "wrote SEG" in text and "wrote SR" in text and "UNVERIFIED" in text
    findings = json.loads((tmp_path / "f.json").read_text())["findings"]
    assert findings
    files = _files(out)
    assert sorted(files) == ["SEG", "SR"]
    seg = hd.seg.segread(files["SEG"])
    assert [i.SegmentLabel.split()[0] for i in seg.SegmentSequence] == [f["id"] for f in findings]
    for item in seg.SegmentSequence:
        algorithm = item.SegmentationAlgorithmIdentificationSequence[0]
        assert (item.SegmentAlgorithmType, algorithm.AlgorithmName, algorithm.AlgorithmVersion) == (
            "AUTOMATIC", "lung-nodule-seg", "0.0.1"
        )  # fmt: skip
    sr = hd.sr.srread(files["SR"])
    assert sr.VerificationFlag == "UNVERIFIED"
    groups = sr.content.get_volumetric_roi_measurement_groups()
    decisions = {e.value.meaning for g in groups for e in g.get_qualitative_evaluations() if e.name.value == "D1"}
    assert len(groups) == len(findings) and decisions == {"Not yet reviewed"}
    assert [(e["source"], e["verified"], e["lesions"]) for e in _audit_exports()] == [
        ("unreviewed AI run", False, len(findings))
    ]
    if shutil.which("dciodvfy"):  # the files themselves are checked in tests/io/test_export_files.py too
        for path in files.values():
            errors, output = dciodvfy_errors(path)
            assert not errors, output


def _store_signed_review(tmp_path: Path) -> None:
    demo = demo_series(tmp_path / "own-index")
    v = demo.volume
    findings = (sphere(v, "F1", (46, 300, 150), 9.0), sphere(v, "F2", (20, 250, 350), 5.0))
    run = AiRun("run-cli", v.series_instance_uid, demo.study_uid, MODEL_REF, pixel_sha256(v), {}, findings)
    with ReviewStore(Settings().review_store_path) as store:
        service = ReviewService(store, audit.Actor("rita", "Rita Radiologist"))
        service.record_run(run)
        state = service.accept(service.open_review("run-cli"), "F1")
        state = service.reject(state, "F2", RejectReason.ARTEFACT)
        service.sign_off(state, threshold=0.5)
        stale = AiRun("run-stale", v.series_instance_uid, demo.study_uid, MODEL_REF, "00" * 32, {}, findings)
        service.record_run(stale)
        service.open_review("run-stale")
    demo.index.close()


def test_export_lists_reviews_and_writes_a_signed_one_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--list"]) == 0
    assert "No reviews are stored yet" in capsys.readouterr().out
    _store_signed_review(tmp_path)
    assert main(["scan", str(DEMO)]) == 0
    capsys.readouterr()
    assert main(["export", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "signed" in listing and "Rita Radiologist" in listing and "open (not signed)" in listing
    out = tmp_path / "results"
    assert main(["export", "--review", "1", str(out)]) == 0
    assert "VERIFIED (signed off)" in capsys.readouterr().out
    files = _files(out)
    sr = hd.sr.srread(files["SR"])
    assert sr.VerificationFlag == "VERIFIED"
    assert str(sr.VerifyingObserverSequence[0].VerifyingObserverName) == "Rita Radiologist^"
    assert [i.SegmentLabel for i in hd.seg.segread(files["SEG"]).SegmentSequence] == ["F1 nodule"]
    assert [e["source"] for e in _audit_exports()] == ["review 1 v1"]


def test_export_refuses_unknown_reviews_and_changed_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store_signed_review(tmp_path)
    assert main(["export", "--review", "99", str(tmp_path / "a")]) == 2
    assert "No review 99" in capsys.readouterr().err
    assert main(["export", "--review", "1", str(tmp_path / "a")]) == 2
    assert "scan its folder first" in capsys.readouterr().err
    main(["scan", str(DEMO)])
    assert main(["export", "--review", "2", str(tmp_path / "a")]) == 2
    assert "differ from those the AI analysed" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert _audit_exports() == []
