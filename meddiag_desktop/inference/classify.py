"""Finding classification on a crop, temperature-calibrated, with occlusion sensitivity.

Occlusion sensitivity (Zeiler & Fergus 2014) needs no gradients: blocks of the crop are
replaced by aerated-lung intensity, and the drop in the predicted class's probability is
recorded per block. All runs go through the same onnxruntime session.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.inference.preprocess import normalise
from meddiag_desktop.inference.resample import Grid, centred_grid, to_grid

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.manifest import ModelManifest
    from meddiag_desktop.inference.session import ModelSession

OCCLUSION_HU = -850.0  # aerated lung


@dataclass(frozen=True, eq=False)
class OcclusionMap:
    """Per-voxel drop in the top class's probability when its block is occluded.

    ``array`` is on ``grid`` (axis-aligned LPS, see :class:`~.resample.Grid`); positive values
    mark regions that support the prediction.
    """

    finding_id: str
    class_name: str
    array: NDArray[np.float32]
    grid: Grid


def softmax(logits: NDArray[np.float32], temperature: float) -> NDArray[np.float32]:
    """Row-wise softmax of ``logits / temperature`` (temperature scaling calibration)."""
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)


def crop_for(volume: Volume, finding: Finding, manifest: ModelManifest) -> tuple[NDArray[np.float32], Grid]:
    """The normalised classifier crop centred on a finding's LPS centroid."""
    assert manifest.crop is not None
    grid = centred_grid(np.asarray(finding.centroid_lps), manifest.crop.spacing_mm, manifest.crop.size_vox)
    hu = to_grid(volume.array, volume.affine, grid, fill=-1024.0)
    return normalise(hu, manifest.input), grid


def predict(session: ModelSession, crops: NDArray[np.float32]) -> NDArray[np.float32]:
    """Calibrated class probabilities for a ``(N, D, H, W)`` stack of normalised crops."""
    m = session.manifest
    logits = np.concatenate([session.run(crops[i : i + 1, None]) for i in range(len(crops))])
    return softmax(logits, m.output.temperature)


def occlusion_map(
    session: ModelSession,
    crop: NDArray[np.float32],
    grid: Grid,
    finding_id: str,
    block: tuple[int, int, int] = (2, 8, 8),
) -> OcclusionMap:
    """Occlusion sensitivity of the top class over non-overlapping blocks of the crop."""
    m = session.manifest
    base = predict(session, crop[None])[0]
    top = int(np.argmax(base))
    fill = float(normalise(np.array([OCCLUSION_HU], dtype=np.float32), m.input)[0])
    starts = [range(0, n, b) for n, b in zip(crop.shape, block, strict=True)]
    out = np.zeros(crop.shape, dtype=np.float32)
    for z, y, x in itertools.product(*starts):
        sl = (slice(z, z + block[0]), slice(y, y + block[1]), slice(x, x + block[2]))
        occluded = crop.copy()
        occluded[sl] = fill
        out[sl] = base[top] - predict(session, occluded[None])[0, top]
    return OcclusionMap(finding_id, m.class_names[top], out, grid)
