"""ONNX export of the 2.5D segmenter (layout ``NSHW``), checked against PyTorch on real CT."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from training.net25d import OFFSETS
from training.seg25d import normalise

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

# (slices per batch, max height, max width): a 480 mm field of view at 1.5 mm goes through whole.
PATCH = (8, 320, 320)
OVERLAP = (0.0, 0.25, 0.25)


def slice_batch(hu: np.ndarray, size: int = 160, batch: int = 2) -> np.ndarray:
    """``batch`` neighbour stacks ``(B, K, size, size)`` from the middle of a model-grid volume."""
    d, h, w = hu.shape
    zs = np.clip(d // 2 + np.arange(batch)[:, None] + np.asarray(OFFSETS)[None, :], 0, d - 1)
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    block = np.full((batch, len(OFFSETS), size, size), -1024.0, dtype=np.float32)
    part = hu[zs][:, :, y0 : y0 + size, x0 : x0 + size]
    block[:, :, : part.shape[2], : part.shape[3]] = part
    return normalise(block)


def export_segmenter(model: torch.nn.Module, path: Path, sample_hu: np.ndarray) -> dict[str, Any]:
    """Write ``path`` (single-file ONNX, opset 18, dynamic batch/height/width); check vs torch."""
    model = model.eval()
    x = torch.from_numpy(slice_batch(sample_hu))
    torch.onnx.export(
        model, (x,), str(path), input_names=["ct"], output_names=["logits"], dynamo=False, opset_version=18,
        dynamic_axes={"ct": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}},
    )  # fmt: skip
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    diffs, prob_diffs = [], []
    for sample in (x, torch.from_numpy(slice_batch(sample_hu, size=224, batch=3))):
        out = session.run(None, {"ct": sample.numpy()})[0]
        with torch.no_grad():
            ref = model(sample).numpy()
        diffs.append(float(np.abs(out - ref).max()))
        prob_diffs.append(float(np.abs(_sigmoid(out) - _sigmoid(ref)).max()))
    diff, prob_diff = max(diffs), max(prob_diffs)
    log.info("export %s: max |onnx - torch| = %.2e (logits), %.2e (probabilities)", path.name, diff, prob_diff)
    # The ensemble's logit is log(p) - log(1 - p) of a mean probability: float rounding near p = 0 or
    # 1 shows up magnified in it, so the check is on the probabilities the app thresholds.
    if prob_diff > 1e-4:
        raise RuntimeError(f"ONNX export of {path.name} differs from torch by {prob_diff} in probability")
    return {
        "max_abs_diff_vs_torch": diff,
        "max_prob_diff_vs_torch": prob_diff,
        "inputs_checked": [list(x.shape), [3, len(OFFSETS), 224, 224]],
        "size_bytes": path.stat().st_size,
    }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
