"""Training code: networks, lesion simulation, calibration, export parity (needs torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training import lesions, package  # noqa: E402
from training.nets import CropClassifier  # noqa: E402
from training.train import fit_temperature  # noqa: E402


def test_inserted_lesion_is_labelled_and_spares_bone() -> None:
    rng = np.random.default_rng(0)
    shape = (12, 64, 64)
    coords = (np.arange(12) * 5.0, (np.arange(64) - 32) * 1.5, (np.arange(64) - 32) * 1.5)
    hu = np.full(shape, -850.0, np.float32)
    hu[:, :, :4] = 700.0  # bone column at the edge
    lung = np.ones(shape, bool)
    lung[:, :, :4] = False
    label = np.zeros(shape, bool)
    p = lesions.random_lesion(rng, np.array([30.0, 0.0, 0.0]), 20.0)
    p = lesions.LesionParams(**{**p.__dict__, "kind": "solid", "solid_hu": 40.0, "spikes": ()})
    lesions.insert(hu, lung, label, coords, p, rng, z_sub=5)
    assert label.sum() > 50
    assert label[6, 32, 32] and abs(float(hu[6, 32, 32]) - 40.0) < 30  # the lesion centre
    assert float(hu[label].max()) < 45 and float(hu[label].min()) > -850
    assert (hu[:, :, :4] == 700.0).all()
    assert p.label == 0 and lesions.CLASS_NAMES[p.label] == "solid"


def test_temperature_scaling_recovers_true_temperature() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (4000, 2))
    p = np.exp(logits / 2.5)
    p /= p.sum(1, keepdims=True)
    labels = (rng.random(4000) < p[:, 1]).astype(np.int64)
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.15)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning")
def test_export_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = CropClassifier(n_classes=2).eval()
    sample = np.random.default_rng(2).random((1, 1, 8, 32, 32), dtype=np.float32)
    check = package._export(model, (1, 1, 8, 32, 32), tmp_path / "m.onnx", sample)
    assert check["max_abs_diff_vs_torch"] < 1e-4


def test_lesion_placement_goes_deep_enough_or_on_the_lung_border() -> None:
    lung = np.zeros((20, 40, 40), bool)
    lung[3:17, 5:35, 8:30] = True
    coords = tuple(np.arange(n) * s for n, s in zip(lung.shape, (2.5, 1.5, 1.5), strict=True))
    placement = lesions.Placement(lung, coords)
    rng = np.random.default_rng(3)
    for _ in range(20):
        deep = placement.sample(rng, 12.0, attached=False)
        assert deep is not None
        idx = np.round(deep / np.array([2.5, 1.5, 1.5])).astype(int)
        # at least 0.4 x 12 mm from the border in every direction
        margins = np.minimum(idx - [3, 5, 8], [16, 34, 29] - idx) * np.array([2.5, 1.5, 1.5])
        assert margins.min() >= 4.8 - 1.5
    for _ in range(20):
        edge = placement.sample(rng, 12.0, attached=True)
        assert edge is not None
        idx = np.round(edge / np.array([2.5, 1.5, 1.5])).astype(int)
        margins = np.minimum(idx - [3, 5, 8], [16, 34, 29] - idx)
        assert margins[1:].min() <= 3  # within a few voxels of the in-plane border (jittered)
    assert lesions.Placement(np.zeros_like(lung), coords).sample(rng, 12.0, attached=False) is None
