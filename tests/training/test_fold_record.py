"""Fold records: leave-one-patient-out folds kept across sessions, and a candidate score applied to them."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from shipped_copy import shipped_seg_copy

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.progress import no_progress
from meddiag_desktop.inference.candidates import MAX_FINDINGS
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.validation.cache import AnalysisOutcome, cache_key, load_outcome, save_outcome, series_digest
from meddiag_desktop.validation.cases import discover_cases
from meddiag_desktop.validation.results import FindingResult, ModelInfo, ValidationReport
from meddiag_desktop.validation.runner import RegistryAnalyser, validate_cases
from training import fold_record

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo"
BOXES = REPO / "resources" / "demo_annotations"
CFG = {"seed": 3, "seg_steps": 10, "lopo_folds": []}
MODEL = ModelInfo("lopo-x", "1.0.0", "a" * 64, "b" * 64, "user", 0.4)


def _finding(fid: str, z: int) -> Finding:
    mask = np.zeros((2, 3, 3), dtype=bool)
    mask[:, 1, 1] = True
    return Finding(
        fid, (z + 0.5, 1.0, 1.0), (0.0, 0.0, float(z)), (z, 0, 0, z + 2, 3, 3), 0.01, 5.0, 2.0, 30.0, 60.0, 0.7, 0.9,
        mask,
    )  # fmt: skip


def _outcome(max_probs: list[float]) -> AnalysisOutcome:
    findings = tuple(_finding(f"F{i + 1}", 4 * i) for i in range(len(max_probs)))
    features = {f.id: {"max_prob": p, "mean_hu": 10.0, "score": 0.5} for f, p in zip(findings, max_probs, strict=True)}
    return AnalysisOutcome(findings, ("a warning",), "", 1.0, {f.id: 0.5 for f in findings}, features)


SCORE = {"weights": {"max_prob": 10.0}, "bias": -7.0, "min_score": 0.5}  # keeps max_prob above 0.7


def test_rescore_drops_findings_under_the_cut_and_numbers_the_rest_in_order() -> None:
    scored = fold_record.rescore(_outcome([0.9, 0.5, 0.95, 0.69]), SCORE)
    assert [f.id for f in scored.findings] == ["F1", "F2"]
    assert [f.bbox[0] for f in scored.findings] == [0, 8]  # the old F1 and F3, in their order
    assert scored.scores == pytest.approx({"F1": 1 / (1 + np.exp(-2.0)), "F2": 1 / (1 + np.exp(-2.5))})
    assert scored.features["F2"]["max_prob"] == 0.95 and scored.features["F2"]["score"] == scored.scores["F2"]
    assert scored.warnings == ("a warning",)


def test_rescore_refuses_what_it_cannot_replay() -> None:
    with pytest.raises(RuntimeError, match="cap"):  # the model may have dropped candidates past the cap
        fold_record.rescore(_outcome([0.9] * MAX_FINDINGS), SCORE)
    outcome = _outcome([0.9])
    with pytest.raises(RuntimeError, match="no recorded candidate features"):
        fold_record.rescore(AnalysisOutcome(outcome.findings, features={}), SCORE)


def test_the_key_names_the_recipe_not_the_folds_asked_for() -> None:
    assert fold_record.config_key(CFG) == fold_record.config_key({**CFG, "lopo_folds": ["A0001"]})
    assert fold_record.config_key(CFG) != fold_record.config_key({**CFG, "seg_steps": 11})


def _about(variant: str, model: ModelInfo, pixels: str) -> dict[str, str]:
    return {
        "folder": "p/ct", "variant": variant, "series_sha256": series_digest("1.2.3"), "model_sha256": model.sha256,
        "settings_sha256": model.settings_sha256, "pixel_sha256": pixels,
    }  # fmt: skip


def _save_case(cases: Path, variant: str, model: ModelInfo, pixels: str, outcome: AnalysisOutcome) -> str:
    key = cache_key("1.2.3", variant, model.sha256, model.settings_sha256, pixels)
    save_outcome(cases, key, outcome, _about(variant, model, pixels))
    return key


def test_a_fold_is_recorded_and_restored_with_its_own_cases_only(tmp_path: Path) -> None:
    fold = tmp_path / "work" / "lopo" / "LUNG1-002"
    cases = fold / "validation" / "cases"
    kept = _save_case(cases, "as acquired", MODEL, "c" * 64, _outcome([0.9]))
    other = ModelInfo("lopo-x", "1.0.0", "d" * 64, "b" * 64)  # an earlier model in the same work folder
    _save_case(cases, "as acquired", other, "c" * 64, _outcome([0.8]))
    fold_record.write_fold(fold, MODEL, {"train": 1800.0, "validate": 120.0}, CFG, "abc123")
    root = tmp_path / "folds"
    target = fold_record.save(fold, CFG, root)
    assert target == root / fold_record.config_key(CFG) / "LUNG1-002"
    assert sorted(p.stem for p in (target / "cases").iterdir()) == [kept]

    fresh = tmp_path / "next-session" / "lopo" / "LUNG1-002"
    assert fold_record.restore(fresh, {**CFG, "seg_steps": 11}, root) is None  # another recipe: train anew
    assert fold_record.restore(fresh, CFG, root) == MODEL
    assert load_outcome(fresh / "validation" / "cases", kept) is not None
    assert (fresh / "train_seconds.txt").read_text() == "1800\n"
    assert json.loads((fresh / "fold.json").read_text())["trained_commit"] == "abc123"


def test_a_fold_without_cases_of_its_model_is_not_recorded(tmp_path: Path) -> None:
    fold = tmp_path / "lopo" / "A0001"
    other = ModelInfo("lopo-x", "1.0.0", "d" * 64, "b" * 64)
    _save_case(fold / "validation" / "cases", "as acquired", other, "c" * 64, _outcome([0.8]))
    fold_record.write_fold(fold, MODEL, {"train": 1.0, "validate": 1.0}, CFG, "abc123")
    with pytest.raises(RuntimeError, match="no validation case of its model"):
        fold_record.save(fold, CFG, tmp_path / "folds")


def test_rescored_cases_are_found_under_the_scored_model(tmp_path: Path) -> None:
    source, target = tmp_path / "cases", tmp_path / "scored"
    _save_case(source, "averaged to ~8 mm", MODEL, "e" * 64, _outcome([0.9, 0.5]))
    scored = fold_record.rescore_cases(source, target, MODEL, SCORE)
    assert (scored.sha256, scored.id) == (MODEL.sha256, MODEL.id) and scored.settings_sha256 != MODEL.settings_sha256
    key = cache_key("1.2.3", "averaged to ~8 mm", scored.sha256, scored.settings_sha256, "e" * 64)
    outcome = load_outcome(target, key)
    assert outcome is not None and [f.id for f in outcome.findings] == ["F1"]
    data = json.loads((target / f"{key}.json").read_text())
    assert data["folder"] == "p/ct" and data["settings_sha256"] == scored.settings_sha256


# The coarse pass merges the demo's weak candidates into the mass, leaving the score nothing to
# drop there; the equivalence under test does not depend on it, so both sides go without it.
SINGLE_PASS = ("coarse_zoom",)


def _cases_and_findings(report: ValidationReport) -> list[tuple[object, ...]]:
    return [
        (case.variant, [asdict(lesion) for lesion in case.lesions], [_finding_row(f) for f in case.findings])
        for case in report.cases
    ]


def _finding_row(f: FindingResult) -> tuple[object, ...]:
    return (f.id, f.status, round(f.score, 9), f.volume_ml, f.hit_of)


@pytest.mark.slow
def test_a_score_applied_to_recorded_findings_gives_what_the_model_with_that_score_gives(tmp_path: Path) -> None:
    """The equivalence the score stage relies on, on the demo scan with the shipped segmenter."""
    registry = ModelRegistry(REPO / "models", tmp_path / "user")
    unscored_id = shipped_seg_copy(
        tmp_path / "user", "seg-unscored", ("score_weights", "score_bias", "min_score", *SINGLE_PASS)
    )
    scored_id = shipped_seg_copy(tmp_path / "user", "seg-scored", SINGLE_PASS)
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        cases = discover_cases([DEMO], index, annotations=BOXES).cases
    unscored = RegistryAnalyser(registry, unscored_id, threads=2)
    validate_cases(cases, unscored, tmp_path / "unscored", progress=no_progress)
    shipped = registry.verify("lung-nodule-seg").manifest.postprocess
    assert shipped is not None and shipped.min_score > 0
    score = {"weights": shipped.score_weights, "bias": shipped.score_bias, "min_score": shipped.min_score}
    recorded, replay = tmp_path / "unscored" / "cases", tmp_path / "replay" / "cases"
    scored = fold_record.rescore_cases(recorded, replay, unscored.model, score)
    replayed = validate_cases(cases, fold_record.RecordedAnalyser(scored), tmp_path / "replay", progress=no_progress)
    real = validate_cases(cases, RegistryAnalyser(registry, scored_id, threads=2), tmp_path / "real")
    assert all(c.from_cache for c in replayed.cases)
    assert _cases_and_findings(replayed) == _cases_and_findings(real)
    everything = json.loads(next((tmp_path / "unscored" / "cases").glob("*.json")).read_text())["findings"]
    assert len(everything) > len(real.cases[0].findings)  # the score did drop findings


def test_the_candidate_score_learns_from_the_recorded_features_of_each_validated_finding(tmp_path: Path) -> None:
    from training import candidate_score

    fold = tmp_path / "lopo" / "LUNG1-003"
    cases = fold / "validation" / "cases"
    _save_case(cases, "as acquired", MODEL, "1" * 64, _outcome([0.9, 0.3]))
    _save_case(cases, "averaged to ~8 mm", MODEL, "2" * 64, _outcome([0.6]))
    fold_record.write_fold(fold, MODEL, {"train": 1.0, "validate": 1.0}, CFG, "abc123")
    summary = [
        {"status": "analysed", "series_instance_uid": "1.2.3", "variant": "as acquired", "pixel_sha256": "1" * 64,
         "findings": [{"id": "F1", "status": "hit"}, {"id": "F2", "status": "false"}]},
        {"status": "analysed", "series_instance_uid": "1.2.3", "variant": "averaged to ~8 mm", "pixel_sha256": "2" * 64,
         "findings": [{"id": "F1", "status": "overlap"}]},
        {"status": "not analysed", "series_instance_uid": "1.2.3", "variant": "resliced", "pixel_sha256": "3" * 64,
         "findings": []},
    ]  # fmt: skip
    (fold / "summary.json").write_text(json.dumps(summary))
    samples = candidate_score.collect(tmp_path, ("LUNG1-003",))
    rows = [(s.variant, s.features["max_prob"], s.positive, s.false) for s in samples]
    assert rows == [
        ("as acquired", 0.9, True, False),
        ("as acquired", 0.3, False, True),
        ("averaged to ~8 mm", 0.6, False, False),
    ]
