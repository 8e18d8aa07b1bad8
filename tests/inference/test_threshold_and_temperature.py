"""The operating threshold and the temperature of the manifest (or the override) are the ones applied.

The fixture segmenter's logit is known in closed form (``inference_fixtures.seg_graph``), so the
probabilities can be checked against ``sigmoid(logit / T)`` and the masks against the threshold
recorded in the run's parameters.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from inference_fixtures import CLIP, SEG_THRESHOLD_HU, base_manifest, chest_volume, write_model

from meddiag_desktop.inference.analyze import AnalysisResult, analyze_volume
from meddiag_desktop.inference.registry import ModelRegistry

FLOAT16_SLACK = 2e-3  # the probability map is stored as float16
LUNG_CENTRE = (10, 28, 18)  # deep inside the synthetic right lung: uniform -850 HU all around
LUNG_HU = -850.0


def _seg_model(root: Path, *, threshold: float = 0.5, temperature: float = 1.0) -> Path:
    manifest = base_manifest("seg-fixture", "segmentation")
    manifest["output"].update(threshold=threshold, temperature=temperature)
    write_model(root, "seg-fixture", "segmentation", manifest)
    return root


def _cls_model(root: Path, temperature: float) -> Path:
    manifest = base_manifest("cls-fixture", "classification")
    manifest["output"]["temperature"] = temperature
    write_model(root, "cls-fixture", "classification", manifest)
    return root


def _analyze(root: Path, *, cls: bool = False, threshold: float | None = None) -> AnalysisResult:
    return analyze_volume(
        chest_volume(), ModelRegistry(root), seg_model_id="seg-fixture",
        cls_model_id="cls-fixture" if cls else None, threads=1, threshold=threshold,
    )  # fmt: skip


def _fixture_logit(hu: float) -> float:
    """``seg_graph``: 40 * (normalised HU - normalised SEG_THRESHOLD_HU)."""
    span = CLIP[1] - CLIP[0]
    return 40.0 * ((hu - CLIP[0]) / span - (SEG_THRESHOLD_HU - CLIP[0]) / span)


def _assert_mask_edge_is_the_threshold(result: AnalysisResult) -> None:
    """Inside each finding's box, the mask is exactly where the probability map reaches the recorded threshold."""
    threshold = result.provenance.parameters["threshold"]
    for finding in result.findings:
        prob = result.probability[finding.bbox_slices].astype(np.float32)
        assert prob[finding.mask].min() >= threshold - FLOAT16_SLACK, finding.id
        assert prob[~finding.mask].max() < threshold + FLOAT16_SLACK, finding.id


@pytest.mark.parametrize("threshold", [0.2, 0.8])
def test_threshold_override_is_recorded_and_is_the_mask_edge(tmp_path: Path, threshold: float) -> None:
    result = _analyze(_seg_model(tmp_path), threshold=threshold)
    assert result.provenance.parameters["threshold"] == threshold
    assert len(result.findings) == 1
    _assert_mask_edge_is_the_threshold(result)


def test_nodule_volume_shrinks_as_the_threshold_rises(tmp_path: Path) -> None:
    root = _seg_model(tmp_path)
    volumes = [_analyze(root, threshold=t).findings[0].volume_ml for t in (0.2, 0.5, 0.8)]
    assert volumes[0] > volumes[1] > volumes[2], volumes


def test_manifest_threshold_is_used_without_an_override(tmp_path: Path) -> None:
    low = _analyze(_seg_model(tmp_path / "low", threshold=0.2))
    high = _analyze(_seg_model(tmp_path / "high", threshold=0.8))
    assert low.provenance.parameters["threshold"] == 0.2 and high.provenance.parameters["threshold"] == 0.8
    _assert_mask_edge_is_the_threshold(low)
    _assert_mask_edge_is_the_threshold(high)
    assert low.findings[0].volume_ml > high.findings[0].volume_ml


@pytest.mark.parametrize("temperature", [2.0, 4.0])
def test_segmentation_probability_is_sigmoid_of_logit_over_temperature(tmp_path: Path, temperature: float) -> None:
    result = _analyze(_seg_model(tmp_path, temperature=temperature))
    expected = 1.0 / (1.0 + math.exp(-_fixture_logit(LUNG_HU) / temperature))
    assert float(result.probability[LUNG_CENTRE]) == pytest.approx(expected, rel=0.01)


def test_class_log_odds_scale_with_one_over_temperature(tmp_path: Path) -> None:
    """Temperature scaling divides the logits by T, so the log-odds of T = 1 are T times those of T."""

    def log_odds(temperature: float) -> float:
        root = _cls_model(_seg_model(tmp_path / str(temperature)), temperature)
        probs = _analyze(root, cls=True).findings[0].class_probabilities
        return math.log(probs["solid"] / probs["subsolid"])

    plain, scaled = log_odds(1.0), log_odds(4.0)
    assert abs(plain) > 1.0  # far enough from 0.5 that a missing scaling shows
    assert plain == pytest.approx(4.0 * scaled, rel=1e-3)
