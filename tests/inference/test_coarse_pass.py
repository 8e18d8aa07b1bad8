"""The coarse pass for large masses widens findings and never starts one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from inference_fixtures import base_manifest, chest_volume, write_model

from meddiag_desktop.inference.analyze import analyze_volume
from meddiag_desktop.inference.candidates import GridMaps, grid_candidates
from meddiag_desktop.inference.coarse_pass import shrunk_input, widen, with_coarse_pass
from meddiag_desktop.inference.manifest import PostprocessSpec
from meddiag_desktop.inference.preprocess import ModelInput, input_on_grid
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.inference.resample import Grid

GRID = Grid((0.0, 0.0, 0.0), (2.0, 1.0, 1.0), (20, 48, 48))
THRESHOLD = 0.4


def core_in_half_seen_mass() -> np.ndarray:
    """A sure core (0.9) in one corner of a mass the full-resolution pass barely sees (0.1)."""
    z, y, x = np.mgrid[:20, :48, :48]
    prob = np.zeros(GRID.shape, np.float32)
    prob[(z - 10) ** 2 + (y - 24) ** 2 + (x - 24) ** 2 <= 144] = 0.1
    prob[(z - 10) ** 2 + (y - 24) ** 2 + (x - 16) ** 2 <= 9] = 0.9
    return prob


def coarse_sure_of(prep_grid: Grid, centres: list[tuple[float, float, float]], radius_mm: float) -> np.ndarray:
    """A coarse-grid map: 0.95 within ``radius_mm`` of each LPS ``(x, y, z)`` centre."""
    idx = np.stack(np.mgrid[: prep_grid.shape[0], : prep_grid.shape[1], : prep_grid.shape[2]], -1).astype(float)
    lps_zyx = idx * np.asarray(prep_grid.spacing) + np.asarray(prep_grid.origin_lps)[::-1]
    out = np.zeros(prep_grid.shape, np.float32)
    for c in centres:
        out[np.linalg.norm(lps_zyx - np.asarray(c)[::-1], axis=-1) <= radius_mm] = 0.95
    return out


def post(**extra: object) -> PostprocessSpec:
    fields = {"lung_mask": False, "lung_margin_mm": 5.0, "min_fraction_in_lung_region": 0.0, "min_volume_ml": 0.01}
    return PostprocessSpec(**{**fields, "extent_threshold": 0.2, **extra})  # type: ignore[arg-type]


def test_widen_raises_voxels_to_just_under_the_threshold_and_keeps_cores() -> None:
    prob = core_in_half_seen_mass()
    coarse_grid = Grid(GRID.origin_lps, (4.0, 2.0, 2.0), (10, 24, 24))
    coarse = coarse_sure_of(coarse_grid, [(24.0, 24.0, 20.0), (44.0, 4.0, 2.0)], 11.0)
    before = prob.copy()
    widen(prob, coarse, coarse_grid, GRID, THRESHOLD)
    assert np.array_equal(prob >= THRESHOLD, before >= THRESHOLD)  # no new core anywhere
    assert np.all(prob[before >= THRESHOLD] == before[before >= THRESHOLD])
    assert np.all(prob >= before)
    raised = prob > before
    assert raised.sum() > 1000 and prob[raised].max() == pytest.approx(THRESHOLD, abs=1e-6)


def test_the_widened_finding_takes_the_mass_and_a_coarse_only_blob_is_no_finding() -> None:
    prob = core_in_half_seen_mass()
    coarse_grid = Grid(GRID.origin_lps, (4.0, 2.0, 2.0), (10, 24, 24))
    coarse = coarse_sure_of(coarse_grid, [(24.0, 24.0, 20.0), (44.0, 4.0, 2.0)], 11.0)
    hu = np.zeros(GRID.shape, np.float32)
    [(alone, _)] = grid_candidates(GridMaps(GRID, prob.copy(), hu, None, None), THRESHOLD, post())
    widen(prob, coarse, coarse_grid, GRID, THRESHOLD)
    [(widened, _)] = grid_candidates(GridMaps(GRID, prob, hu, None, None), THRESHOLD, post())
    assert widened.mask.sum() > 20 * alone.mask.sum()
    assert widened.max_prob == pytest.approx(0.9)  # what the score sees is the full-resolution core


def test_shrunk_input_covers_the_same_body_at_the_zoomed_spacing() -> None:
    hu = np.full(GRID.shape, -1000.0, np.float32)
    hu[4:16, 8:40, 8:40] = 40.0
    prep = input_on_grid(GRID, hu)
    small = shrunk_input(prep, 2.0)
    assert small.grid.spacing == (4.0, 2.0, 2.0) and small.grid.origin_lps == GRID.origin_lps
    assert small.grid.shape == (10, 24, 24)
    assert small.hu[5, 12, 12] == pytest.approx(40.0) and small.hu[0, 0, 0] == pytest.approx(-1000.0)

    seen: list[tuple[int, ...]] = []
    messages: list[str] = []

    def segment(p: ModelInput, report: object) -> np.ndarray:
        seen.append(p.hu.shape)
        report(1, 1, "Segmenting")  # type: ignore[operator]
        return np.zeros(p.grid.shape, np.float32)

    prob = np.zeros(GRID.shape, np.float32)
    with_coarse_pass(prep, prob, 2.0, THRESHOLD, segment, lambda d, t, m: messages.append(m))
    assert seen == [(10, 24, 24)] and messages == ["Segmenting (coarse pass for large masses)"]


def test_analysis_with_a_coarse_pass_keeps_the_findings_and_reports_the_pass(tmp_path: Path) -> None:
    m = base_manifest("seg-coarse", "segmentation")
    m["postprocess"]["coarse_zoom"] = 1.5
    write_model(tmp_path, "seg-coarse", "segmentation", m)
    write_model(tmp_path, "seg-fixture", "segmentation")
    reg = ModelRegistry(tmp_path)
    messages: list[str] = []
    one = analyze_volume(chest_volume(), reg, seg_model_id="seg-fixture", cls_model_id=None, threads=1)
    two = analyze_volume(
        chest_volume(), reg, seg_model_id="seg-coarse", cls_model_id=None, threads=1,
        progress=lambda d, t, msg: messages.append(msg),
    )  # fmt: skip
    assert "Segmenting (coarse pass for large masses)" in messages
    assert [f.id for f in two.findings] == [f.id for f in one.findings] == ["F1"]
    assert two.provenance.parameters["postprocess"]["coarse_zoom"] == 1.5
    assert two.findings[0].volume_ml >= one.findings[0].volume_ml
