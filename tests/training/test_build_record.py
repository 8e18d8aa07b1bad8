"""The build record and the restore stage: models/ repackaged without retraining (needs torch)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

torch = pytest.importorskip("torch")

from training import build_record, build_steps, manifests, package25d  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

CFG = {"seed": 1, "seg_base_width": 4, "lopo_folds": []}
METRICS = {
    "seg": {"lopo_folds_missing": []},
    "cls": {"temperature": 1.25, "heldout_synthetic": {"auc": 0.9}},
    "export": {
        manifests.SEG_ID: {"max_abs_diff_vs_torch": 2e-4, "inputs_checked": [[2, 7, 16, 16]], "size_bytes": 9},
        manifests.CLS_ID: {"max_abs_diff_vs_torch": 1e-6, "input_shape": [1, 1, 16, 32, 32]},
    },
    "stage_seconds": {"train": 60.0, "export": 1.5},
}
SCORE = {"weights": {"max_prob": 3.0, "mean_hu": 0.0}, "bias": -4.0, "min_score": 0.25}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """models/ and the record in ``tmp_path``; a fixed commit."""
    monkeypatch.setattr(build_steps, "MODELS", tmp_path / "models")
    monkeypatch.setattr(build_record, "RECORD", tmp_path / "build_record.json")
    monkeypatch.setattr(build_steps, "git_commit", lambda: "test-commit")
    return tmp_path


def _built_work(work: Path) -> Path:
    """A work folder as the export, classifier, score and evaluate stages leave it (fake ONNX bytes)."""
    work.mkdir()
    (work / "seg.onnx").write_bytes(b"fake segmenter")
    (work / "cls.onnx").write_bytes(b"fake classifier")
    (work / "metrics.json").write_text(json.dumps(METRICS))
    (work / "cls_info.json").write_text(json.dumps(METRICS["cls"]))
    score = {"patients": ["P1", "P2"], "folds": {"P1": SCORE}, "final": SCORE}
    (work / "candidate_score.json").write_text(json.dumps(score))
    return work


def _models(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted((repo / "models").rglob("*")) if p.is_file()}


def test_the_package_stage_records_metrics_export_and_stage_seconds(repo: Path) -> None:
    package25d.stage_package(_built_work(repo / "work"), CFG)
    record = build_record.read()
    assert record["metrics"]["export"] == METRICS["export"]
    assert record["metrics"]["stage_seconds"] == METRICS["stage_seconds"]
    assert record["cls_info"]["temperature"] == 1.25
    assert record["candidate_score"] == SCORE
    assert record["config"] == CFG
    seg_sha = build_record.sha256(repo / "models" / manifests.SEG_ID / "model.onnx")
    assert record["onnx_sha256"][manifests.SEG_ID] == seg_sha == build_record.sha256(repo / "work" / "seg.onnx")


def test_restore_then_package_rebuilds_the_same_models(repo: Path) -> None:
    package25d.stage_package(_built_work(repo / "work"), CFG)
    shipped = _models(repo)
    noted = {**build_record.read(), "note": "reconstructed by hand"}
    build_record.dump(noted, build_record.RECORD)
    build_steps.stage_restore(repo / "restored", CFG)
    restored = repo / "restored"
    assert json.loads((restored / "metrics.json").read_text()) == METRICS
    assert json.loads((restored / "cls_info.json").read_text())["temperature"] == 1.25
    assert json.loads((restored / "candidate_score.json").read_text())["final"] == SCORE
    # A later change of the configuration is not what these models were trained with: the cards keep the record's.
    package25d.stage_package(restored, {**CFG, "seed": 2})
    assert _models(repo) == shipped
    assert '"seed": 1' in (repo / "models" / manifests.SEG_ID / "MODEL_CARD.md").read_text()
    assert build_record.read() == noted  # rewritten as it was, its note about these ONNX files kept


def test_packaging_a_restored_network_takes_the_new_post_processing_and_the_card_says_so(repo: Path) -> None:
    package25d.stage_package(_built_work(repo / "work"), CFG)
    build_steps.stage_restore(repo / "restored", CFG)
    package25d.stage_package(repo / "restored", {**CFG, "seed": 2, "coarse_zoom": 1.5})
    seg = repo / "models" / manifests.SEG_ID
    manifest = json.loads((seg / "manifest.json").read_text())
    assert manifest["postprocess"]["coarse_zoom"] == 1.5 and manifest["postprocess"]["min_score"] == 0.25
    assert build_record.read()["config"] == {**CFG, "coarse_zoom": 1.5}  # the seed stays the trained one
    card = (seg / "MODEL_CARD.md").read_text()
    assert "## Coarse pass for large masses" in card and "shrunk 1.5x" in card


def test_restore_refuses_an_onnx_file_that_is_not_the_recorded_one(repo: Path) -> None:
    package25d.stage_package(_built_work(repo / "work"), CFG)
    (repo / "models" / manifests.CLS_ID / "model.onnx").write_bytes(b"retrained classifier")
    with pytest.raises(build_record.BuildRecordError, match=r"sha256 .* without updating the record"):
        build_steps.stage_restore(repo / "restored", CFG)
    assert not (repo / "restored").exists()


def test_restore_does_not_overwrite_another_build_but_accepts_its_own(repo: Path) -> None:
    work = _built_work(repo / "work")
    package25d.stage_package(work, CFG)
    build_steps.stage_restore(work, CFG)  # the end of a full build: the record restores this very folder
    assert "patients" in json.loads((work / "candidate_score.json").read_text())  # left as the build wrote it
    other = _built_work(repo / "other")
    (other / "seg.onnx").write_bytes(b"another segmenter")
    with pytest.raises(build_record.BuildRecordError, match="another build"):
        build_steps.stage_restore(other, CFG)
    assert (other / "seg.onnx").read_bytes() == b"another segmenter"


def test_a_record_without_export_or_stage_seconds_is_refused(repo: Path) -> None:
    package25d.stage_package(_built_work(repo / "work"), CFG)
    record: dict[str, Any] = json.loads(build_record.RECORD.read_text())
    del record["metrics"]["stage_seconds"]
    build_record.dump(record, build_record.RECORD)
    with pytest.raises(build_record.BuildRecordError, match=r"lacks metrics\.stage_seconds"):
        build_steps.stage_restore(repo / "restored", CFG)


@pytest.mark.parametrize("metrics", [None, {"seg": {}, "cls": {}, "export": {}}])
def test_packaging_without_full_metrics_leaves_the_record_alone(repo: Path, metrics: dict[str, Any] | None) -> None:
    work = _built_work(repo / "work")
    if metrics is None:
        (work / "metrics.json").unlink()
    else:
        (work / "metrics.json").write_text(json.dumps(metrics))
    package25d.stage_package(work, CFG)
    assert (repo / "models" / manifests.SEG_ID / "manifest.json").exists()
    assert not build_record.RECORD.exists()


def _segmenter_only_rebuild(repo: Path, cfg: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped models from a first build at ``old-commit``; then keep_classifier into a new work folder."""
    with monkeypatch.context() as m:
        m.setattr(build_steps, "git_commit", lambda: "old-commit")
        package25d.stage_package(_built_work(repo / "work"), CFG)
    work = repo / "rebuild"
    build_steps.stage_keep_classifier(work, cfg)
    return work


def test_a_segmenter_only_rebuild_keeps_the_classifier_and_the_commit_that_trained_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _segmenter_only_rebuild(repo, {**CFG, "seg_central_masses": 0.4}, monkeypatch)
    assert (work / "cls.onnx").read_bytes() == b"fake classifier"
    assert json.loads((work / "cls_info.json").read_text()) == METRICS["cls"]
    assert build_record.kept_classifier(work)["export"] == METRICS["export"][manifests.CLS_ID]  # type: ignore[index]
    (work / "seg.onnx").write_bytes(b"new segmenter")
    (work / "metrics.json").write_text(json.dumps(METRICS))
    package25d.stage_package(work, {**CFG, "seg_central_masses": 0.4})
    provenance = {
        model_id: json.loads((repo / "models" / model_id / "manifest.json").read_text())["provenance"]
        for model_id in (manifests.SEG_ID, manifests.CLS_ID)
    }
    assert provenance[manifests.CLS_ID]["git_commit"] == "old-commit"
    assert provenance[manifests.SEG_ID]["git_commit"] == "test-commit"
    record = build_record.read()
    assert record["trained_commit"] == {manifests.SEG_ID: "test-commit", manifests.CLS_ID: "old-commit"}
    build_steps.stage_restore(repo / "restored", CFG)  # and a later restore keeps both commits
    assert build_record.trained_commits(repo / "restored") == record["trained_commit"]


def test_a_kept_classifier_that_was_replaced_is_no_longer_taken_for_the_kept_one(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _segmenter_only_rebuild(repo, CFG, monkeypatch)
    (work / "cls.onnx").write_bytes(b"retrained classifier")
    assert build_record.kept_classifier(work) is None
    assert build_record.trained_commits(work)[manifests.CLS_ID] == "test-commit"


def test_the_classifier_is_not_kept_when_its_recipe_changed(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(build_record.BuildRecordError, match="cls_epochs"):
        _segmenter_only_rebuild(repo, {**CFG, "cls_epochs": 20}, monkeypatch)
    assert not (repo / "rebuild" / "cls.onnx").exists()


def test_a_full_build_does_not_run_keep_classifier() -> None:
    assert "classifier" in build_steps.FULL_BUILD and "keep_classifier" not in build_steps.FULL_BUILD
    assert "keep_classifier" in build_steps.STAGES
