"""Candidates on the model grid: features that tell a blob from a tube, the manifest's score."""

from __future__ import annotations

import numpy as np
import pytest
from inference_fixtures import base_manifest

from meddiag_desktop.errors import ModelIntegrityError
from meddiag_desktop.inference.candidates import GridMaps, candidate_score, grid_candidates
from meddiag_desktop.inference.manifest import PostprocessSpec, parse_manifest
from meddiag_desktop.inference.resample import Grid

SHA = "0" * 64


def maps_with_blob_and_tube() -> GridMaps:
    shape = (40, 60, 60)
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    prob = np.zeros(shape, np.float32)
    blob = (z - 20) ** 2 * 4 + (y - 20) ** 2 + (x - 20) ** 2 <= 36  # ~12 mm ball on a 2.5 x 1 x 1 mm grid
    tube = ((y - 40) ** 2 + (x - 40) ** 2 <= 9) & (z > 2) & (z < 38)  # 6 mm wide, 87 mm long
    prob[blob] = 0.95
    prob[tube] = 0.8
    lung = ~blob & ~tube & (x < 30)  # the blob sits in lung; the tube does not touch it
    hu = np.where(blob | tube, 30.0, -850.0).astype(np.float32)
    return GridMaps(Grid((0.0, 0.0, 0.0), (2.5, 1.0, 1.0), shape), prob, hu, lung, np.ones(shape, bool))


def post(**extra: object) -> PostprocessSpec:
    fields = {"lung_mask": True, "lung_margin_mm": 5.0, "min_fraction_in_lung_region": 0.5, "min_volume_ml": 0.1}
    return PostprocessSpec(**{**fields, **extra})  # type: ignore[arg-type]


def test_blob_and_tube_features() -> None:
    found = grid_candidates(maps_with_blob_and_tube(), 0.5, post())
    by_prob = {round(c.mean_prob, 2): (c, score) for c, score in found}
    blob, blob_score = by_prob[0.95]
    tube, tube_score = by_prob[0.8]
    assert blob.lung_contact == pytest.approx(1.0) and tube.lung_contact == 0.0
    assert tube.features()["elongation"] > 3 * blob.features()["elongation"]
    assert blob.z_extent_mm == pytest.approx(2.5 * 7) and blob.mean_hu == pytest.approx(30.0)
    assert (blob_score, tube_score) == (pytest.approx(0.95), pytest.approx(0.8))  # no weights: mean probability


def test_logistic_score_and_minimum_drop_the_tube() -> None:
    spec = post(score_weights={"elongation": -2.0, "lung_contact": 3.0}, score_bias=1.0, min_score=0.5)
    found = grid_candidates(maps_with_blob_and_tube(), 0.5, spec)
    assert [round(c.mean_prob, 2) for c, _ in found] == [0.95]
    c, score = found[0]
    f = c.features()
    assert score == pytest.approx(1 / (1 + np.exp(-(1.0 - 2.0 * f["elongation"] + 3.0 * f["lung_contact"]))))
    assert candidate_score(c, spec) == score


def test_manifest_refuses_unknown_score_features() -> None:
    m = base_manifest("m1", "segmentation")
    m["files"] = {"model.onnx": SHA, "MODEL_CARD.md": SHA}
    m["postprocess"].update({"score_weights": {"size_in_bananas": 1.0}, "score_bias": 0.0, "min_score": 0.5})
    with pytest.raises(ModelIntegrityError, match="unknown features"):
        parse_manifest(m, "m1")
    m["postprocess"]["score_weights"] = {"mean_prob": 3.0}
    assert parse_manifest(m, "m1").postprocess.score_weights == {"mean_prob": 3.0}  # type: ignore[union-attr]


def maps_with_halo() -> GridMaps:
    """A sure core (0.9) inside a half-sure halo (0.3), and a lone half-sure blob with no core."""
    shape = (30, 60, 60)
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    prob = np.zeros(shape, np.float32)
    halo = (z - 15) ** 2 * 4 + (y - 20) ** 2 + (x - 20) ** 2 <= 100
    core = (z - 15) ** 2 * 4 + (y - 20) ** 2 + (x - 20) ** 2 <= 16
    lone = (z - 15) ** 2 * 4 + (y - 45) ** 2 + (x - 45) ** 2 <= 64
    prob[halo | lone] = 0.3
    prob[core] = 0.9
    region = np.ones(shape, bool)
    region[:, :, 30:] = False  # the halo reaches nowhere near here; only the core's share counts anyway
    hu = np.full(shape, 30.0, np.float32)
    return GridMaps(Grid((0.0, 0.0, 0.0), (2.5, 1.0, 1.0), shape), prob, hu, None, region)


def test_extent_threshold_grows_a_core_into_its_halo_and_ignores_halos_without_a_core() -> None:
    maps = maps_with_halo()
    [(core_only, _)] = grid_candidates(maps, 0.5, post())
    [(grown, _)] = grid_candidates(maps, 0.5, post(extent_threshold=0.2))
    assert int(grown.mask.sum()) > 5 * int(core_only.mask.sum())
    assert int(grown.mask.sum()) == int(((maps.prob >= 0.2) & (np.arange(60) < 32)[None, None, :]).sum())
    assert grown.max_prob == pytest.approx(0.9)  # what the score sees is unchanged


def test_extent_threshold_is_never_above_the_operating_threshold() -> None:
    spec = post(extent_threshold=0.2)
    assert spec.extent_for(0.5) == 0.2 and spec.extent_for(0.1) == 0.1
    assert post().extent_for(0.5) == 0.5


def test_clip_cuts_the_extent_back_to_the_lung_region() -> None:
    maps = maps_with_halo()
    region = np.zeros_like(maps.region)
    region[:, :, :24] = True  # the core (x 16..24) is inside, most of the halo's right half is not
    maps = GridMaps(maps.grid, maps.prob, maps.hu, None, region)
    [(loose, _)] = grid_candidates(maps, 0.5, post(extent_threshold=0.2))
    [(clipped, _)] = grid_candidates(maps, 0.5, post(extent_threshold=0.2, clip_to_lung_region=True))
    halo = (maps.prob >= 0.2) & (np.arange(60) < 32)[None, None, :]
    assert int(loose.mask.sum()) == int(halo.sum())
    assert int(clipped.mask.sum()) == int((halo & region).sum()) < int(loose.mask.sum())
    assert clipped.volume_ml < loose.volume_ml and clipped.max_prob == pytest.approx(0.9)


def test_clip_leaves_a_candidate_with_no_core_in_the_region_to_the_region_veto() -> None:
    maps = maps_with_halo()
    outside = GridMaps(maps.grid, maps.prob, maps.hu, None, np.zeros_like(maps.region))
    kept = grid_candidates(
        outside, 0.5, post(extent_threshold=0.2, min_fraction_in_lung_region=0.0, clip_to_lung_region=True)
    )
    assert [int(c.mask.sum()) for c, _ in kept] == [
        int(((maps.prob >= 0.2) & (np.arange(60) < 32)[None, None, :]).sum())
    ]
    assert grid_candidates(outside, 0.5, post(extent_threshold=0.2, clip_to_lung_region=True)) == []


def test_manifest_reads_the_clip_flag() -> None:
    m = base_manifest("m1", "segmentation")
    m["files"] = {"model.onnx": SHA, "MODEL_CARD.md": SHA}
    assert parse_manifest(m, "m1").postprocess.clip_to_lung_region is False  # type: ignore[union-attr]
    m["postprocess"]["clip_to_lung_region"] = True
    assert parse_manifest(m, "m1").postprocess.clip_to_lung_region is True  # type: ignore[union-attr]
    m["postprocess"]["clip_to_lung_region"] = "yes"
    with pytest.raises(ModelIntegrityError, match="true or false"):
        parse_manifest(m, "m1")
