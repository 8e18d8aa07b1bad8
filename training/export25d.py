"""ONNX export of the 2.5D segmenter, checked against PyTorch on a real-CT patch."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from training.net25d import UNet2D, VolumeWrapper
from training.seg25d import normalise

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

PATCH = (24, 256, 256)
OVERLAP = (0.34, 0.25, 0.25)  # z windows step 16 slices: every slice gets its +-4 neighbours in one window


def real_patch(hu: np.ndarray) -> np.ndarray:
    """A PATCH-sized block from the middle of a model-grid volume, air-padded where smaller."""
    out = np.full(PATCH, -1024.0, dtype=np.float32)
    starts = [max(0, (n - p) // 2) for n, p in zip(hu.shape, PATCH, strict=True)]
    block = hu[tuple(slice(s, s + p) for s, p in zip(starts, PATCH, strict=True))]
    out[: block.shape[0], : block.shape[1], : block.shape[2]] = block
    return out


def export_segmenter(model: UNet2D, path: Path, sample_hu: np.ndarray) -> dict[str, Any]:
    """Write ``path`` (single-file ONNX, opset 18) and check onnxruntime against torch."""
    wrapper = VolumeWrapper(model.eval()).eval()
    x = torch.from_numpy(normalise(real_patch(sample_hu))[None, None])
    torch.onnx.export(
        wrapper, (x,), str(path), input_names=["ct"], output_names=["logits"], dynamo=True,
        external_data=False, opset_version=18,
    )  # fmt: skip
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"ct": x.numpy()})[0]
    with torch.no_grad():
        ref = wrapper(x).numpy()
    diff = float(np.abs(out - ref).max())
    log.info("export %s: max |onnx - torch| = %.2e (logits %.1f..%.1f)", path.name, diff, ref.min(), ref.max())
    if diff > 1e-3:
        raise RuntimeError(f"ONNX export of {path.name} differs from torch by {diff}")
    return {"max_abs_diff_vs_torch": diff, "input_shape": [1, 1, *PATCH], "size_bytes": path.stat().st_size}
