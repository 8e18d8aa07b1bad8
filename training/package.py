"""ONNX export checked against torch, and the git commit a build came from."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SEG_ID, CLS_ID = "lung-nodule-seg", "lung-lesion-cls"


def _export(model: torch.nn.Module, shape: tuple[int, ...], path: Path, sample: np.ndarray) -> dict[str, Any]:
    x = torch.from_numpy(sample.reshape(shape).astype(np.float32))
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["ct"],
        output_names=["logits"],
        dynamo=True,
        external_data=False,
        opset_version=18,
    )
    onnx.checker.check_model(onnx.load(str(path)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"ct": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    diff = float(np.abs(out - ref).max())
    log.info("export %s: max |onnx - torch| = %.2e (output range %.2f..%.2f)", path.name, diff, ref.min(), ref.max())
    if diff > 1e-3:
        raise RuntimeError(f"ONNX export of {path.name} differs from torch by {diff}")
    return {"max_abs_diff_vs_torch": diff, "input_shape": list(shape)}


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
    except OSError:
        return "uncommitted"
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return "uncommitted"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "training", ":!training/folds"],  # fold records are data
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    return f"{commit}-dirty" if status.stdout.strip() else commit  # training code differs from the commit
