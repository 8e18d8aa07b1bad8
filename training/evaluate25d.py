"""Quick model-grid evaluation of a 2.5D segmenter on a held-out real case (development aid).

The honest figures come from ``meddiag-desktop validate`` on the exported ONNX model through
the app's full pipeline; this gives the same kind of figures in seconds during training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from training.seg25d import components, predict_grid

if TYPE_CHECKING:
    from training.net25d import UNet2D
    from training.real_data import GridCase


def evaluate_case(
    model: UNet2D,
    case: GridCase,
    thresholds: tuple[float, ...] = (0.3, 0.5, 0.7),
    min_ml: float = 0.1,
    min_region: float = 0.3,
) -> dict[str, object]:
    prob = predict_grid(model, case.hu)
    voxel_ml = float(np.prod(case.spacing)) / 1000.0
    refs, n_ref = components(case.lesion)
    out: dict[str, object] = {"case": f"{case.name}/{case.variant}"}
    for thr in thresholds:
        labels, n = components(prob >= thr)
        fp, best = 0, np.zeros(n_ref)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        for k in range(1, n + 1):
            if sizes[k] * voxel_ml < min_ml:
                break
            comp = labels == k
            if case.region[comp].mean() < min_region:
                continue
            touched = np.unique(refs[comp])
            touched = touched[touched > 0]
            if len(touched) == 0:
                if not case.ignore[comp].any():
                    fp += 1
                continue
            for r in touched:
                ref = refs == r
                dice = 2 * (comp & ref).sum() / (comp.sum() + ref.sum())
                best[r - 1] = max(best[r - 1], dice)
        ref_ml = [float((refs == r).sum() * voxel_ml) for r in range(1, n_ref + 1)]
        big = [i for i, v in enumerate(ref_ml) if v >= 0.5]
        out[f"t{thr}"] = {
            "fp": fp,
            "dice": [round(float(best[i]), 3) for i in big],
            "ref_ml": [round(ref_ml[i], 1) for i in big],
        }
    return out
