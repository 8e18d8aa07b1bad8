"""The lung-region clip replayed on recorded findings: what it cuts, and that it agrees with the app's own clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shipped_copy import shipped_seg_copy

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.progress import no_progress
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.validation.cache import AnalysisOutcome, load_outcome
from meddiag_desktop.validation.cases import discover_cases
from meddiag_desktop.validation.results import ModelInfo
from meddiag_desktop.validation.runner import RegistryAnalyser, load_case_volume, validate_cases
from training import cards25d, fold_record
from training.clip_replay import ClipReplay, clipped_finding, clipped_outcome, scan_region

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo"
BOXES = REPO / "resources" / "demo_annotations"


def _finding(fid: str, bbox: tuple[int, int, int, int, int, int]) -> Finding:
    z0, y0, x0, z1, y1, x1 = bbox
    mask = np.ones((z1 - z0, y1 - y0, x1 - x0), dtype=bool)
    return Finding(
        fid, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), bbox, mask.size * 0.001, 10.0, 5.0, 30.0, 60.0, 0.6, 0.9, mask
    )


def test_a_clipped_finding_keeps_only_its_voxels_in_the_region_in_a_tightened_box() -> None:
    region = np.zeros((10, 20, 20), dtype=bool)
    region[:, :, :8] = True
    clipped = clipped_finding(_finding("F1", (2, 4, 4, 6, 10, 12)), region, voxel_ml=0.001)
    assert clipped is not None
    assert clipped.bbox == (2, 4, 4, 6, 10, 8) and clipped.mask.shape == (4, 6, 4) and clipped.mask.all()
    assert clipped.volume_ml == pytest.approx(4 * 6 * 4 * 0.001)
    assert (clipped.max_prob, clipped.mean_hu) == (0.9, 30.0)  # what was not remeasured is the unclipped finding's
    assert clipped_finding(_finding("F2", (2, 4, 10, 6, 10, 12)), region, voxel_ml=0.001) is None


def test_a_clipped_outcome_drops_findings_outside_the_region_with_their_scores() -> None:
    region = np.zeros((10, 20, 20), dtype=bool)
    region[:, :, :8] = True
    inside, outside = _finding("F1", (0, 0, 0, 3, 3, 3)), _finding("F2", (0, 0, 12, 3, 3, 15))
    features = {"F1": {"max_prob": 0.9}, "F2": {"max_prob": 0.8}}
    outcome = AnalysisOutcome((inside, outside), (), "", 1.0, {"F1": 0.7, "F2": 0.6}, features)
    out = clipped_outcome(outcome, region, voxel_ml=0.001)
    assert [f.id for f in out.findings] == ["F1"] and out.scores == {"F1": 0.7}
    assert out.features == {"F1": {"max_prob": 0.9}}


@pytest.mark.slow
def test_the_replayed_clip_agrees_with_the_app_clipping_on_the_model_grid(tmp_path: Path) -> None:
    """On the demo scan with the shipped segmenter, a 0 mm region margin (so the clip bites)."""
    registry = ModelRegistry(REPO / "models", tmp_path / "user")
    tight = {"lung_margin_mm": 0.0}
    plain_id = shipped_seg_copy(tmp_path / "user", "seg-plain", ("coarse_zoom",), tight)
    clip_id = shipped_seg_copy(tmp_path / "user", "seg-clip", ("coarse_zoom",), {**tight, "clip_to_lung_region": True})
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        [case] = discover_cases([DEMO], index, annotations=BOXES).cases
    plain = RegistryAnalyser(registry, plain_id, threads=2)
    [unclipped] = validate_cases([case], plain, tmp_path / "plain", progress=no_progress).cases
    fold_record.write_fold(tmp_path / "plain", plain.model, {}, {}, "test")
    [replayed] = validate_cases([case], ClipReplay(tmp_path / "plain", 0.0), tmp_path / "replay").cases
    [real] = validate_cases([case], RegistryAnalyser(registry, clip_id, threads=2), tmp_path / "real").cases
    [before], [after], [app] = (c.lesions for c in (unclipped, replayed, real))
    assert before.box_coverage is not None and after.box_coverage is not None and app.box_coverage is not None
    assert after.box_coverage <= before.box_coverage and app.box_coverage <= before.box_coverage
    assert after.box_coverage == pytest.approx(app.box_coverage, abs=0.02)
    assert [f.status for f in replayed.findings] == [f.status for f in real.findings]
    region = scan_region(load_case_volume(case), 0.0)
    masks = {
        name: _hit_mask(tmp_path / name, c.pixel_sha256, region.shape)
        for name, c in (("plain", unclipped), ("replay", replayed), ("real", real))
    }
    assert (masks["plain"] & ~region).sum() > 500 and not (masks["replay"] & ~region).any()
    overlap = 2 * (masks["replay"] & masks["real"]).sum() / (masks["replay"].sum() + masks["real"].sum())
    assert overlap > 0.97


def _hit_mask(out: Path, pixels: str, shape: tuple[int, ...]) -> np.ndarray:
    """The largest finding's mask on the scan's grid, from the output folder's cache."""
    [path] = [p for p in (out / "cases").glob("*.json") if pixels in p.read_text()]
    outcome = load_outcome(out / "cases", path.stem)
    assert outcome is not None
    f = max(outcome.findings, key=lambda f: f.volume_ml)
    full = np.zeros(shape, dtype=bool)
    z0, y0, x0, z1, y1, x1 = f.bbox
    full[z0:z1, y0:y1, x0:x1] = f.mask
    return full


def test_the_card_shows_the_replayed_clip_only_when_the_manifest_clips() -> None:
    row = {"patient": "P", "fold_config": "k", "variant": "as acquired", "lesion": "GTV-1"}
    row |= {"dice_plain": 0.52, "dice_clipped": 0.58, "box_coverage_plain": None, "box_coverage_clipped": None}
    box = {**row, "lesion": "A boxes 1", "dice_plain": None, "dice_clipped": None}
    box |= {"box_coverage_plain": 0.89, "box_coverage_clipped": 0.88}
    evidence = {
        "margin_mm": 5.0,
        "rows": [{**row, "false_plain": 2, "false_clipped": 1}, {**box, "false_plain": 6, "false_clipped": 6}],
    }
    text = "\n".join(cards25d.clip_section({"clip_to_lung_region": True}, evidence, {}))
    assert "| P | k | as acquired | GTV-1 | 0.52 | 0.58 | 2 / 1 |" in text
    assert "| P | k | as acquired | A boxes 1 | 89% of box | 88% of box | 6 / 6 |" in text
    assert "table above is without it" in text
    assert cards25d.clip_section({}, evidence, {}) == []
    assert any("cut back to the lung region" in line for line in cards25d._clip_text({"clip_to_lung_region": True}))
    assert cards25d._clip_text({"clip_to_lung_region": False}) == []


def test_the_replayed_model_is_the_fold_model_with_other_settings(tmp_path: Path) -> None:
    model = ModelInfo("lopo-x", "1.0.0", "a" * 64, "b" * 64, "user", 0.4)
    fold_record.write_fold(tmp_path, model, {}, {}, "test")
    replayed = ClipReplay(tmp_path).model
    assert (replayed.id, replayed.sha256) == (model.id, model.sha256)
    assert replayed.settings_sha256 != model.settings_sha256 and "clip" in replayed.source


def test_the_clip_reaches_the_shipped_manifest_but_not_the_folds_whose_records_it_keeps() -> None:
    from training import build_models, build_record, build_steps

    assert build_steps.postprocess_for(build_models.CONFIG)["clip_to_lung_region"] is True
    assert "clip_to_lung_region" not in build_steps.fold_postprocess(build_models.CONFIG)
    assert build_steps.fold_postprocess(build_models.CONFIG)["coarse_zoom"] == build_models.CONFIG["coarse_zoom"]
    without = build_models.overridden(build_models.CONFIG, ["clip_to_lung_region=false"])
    assert fold_record.config_key(without) == fold_record.config_key(build_models.CONFIG)
    assert fold_record.config_key({**without, "coarse_zoom": None}) != fold_record.config_key(build_models.CONFIG)
    assert "clip_to_lung_region" in build_record.POSTPROCESS_KEYS  # packaging may change it without retraining
