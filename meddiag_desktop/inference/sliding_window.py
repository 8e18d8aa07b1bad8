"""Sliding-window inference with overlap and Gaussian blending (as in nnU-Net / MONAI)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress

if TYPE_CHECKING:
    from numpy.typing import NDArray

PatchFn = Callable[["NDArray[np.float32]"], "NDArray[np.float32]"]
"""Maps a ``(N, 1, D, H, W)`` batch to per-voxel probabilities of the same shape."""


def gaussian_weights(patch: tuple[int, int, int], sigma_scale: float = 0.125) -> NDArray[np.float32]:
    """Importance map peaking at the patch centre (sigma = patch/8), floored at 1e-3 of max."""
    axes = []
    for n in patch:
        x = np.arange(n, dtype=np.float64) - (n - 1) / 2
        axes.append(np.exp(-0.5 * (x / max(n * sigma_scale, 1e-6)) ** 2))
    w = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    w /= w.max()
    return np.asarray(np.maximum(w, 1e-3), dtype=np.float32)


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start offsets covering ``[0, size)`` with the given fractional overlap."""
    if size <= patch:
        return [0]
    step = max(1, round(patch * (1.0 - overlap)))
    starts = list(range(0, size - patch, step))
    return [*starts, size - patch]


def sliding_window(
    image: NDArray[np.float32],
    patch: tuple[int, int, int],
    overlap: tuple[float, float, float],
    run_patch: PatchFn,
    pad_value: float,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> NDArray[np.float32]:
    """Blend per-patch probabilities over a ``(z, y, x)`` image; returns the same shape.

    The image is padded with ``pad_value`` up to the patch size where it is smaller.
    """
    shape = image.shape
    pad = [(0, max(0, p - n)) for n, p in zip(shape, patch, strict=True)]
    padded = np.pad(image, pad, constant_values=pad_value) if any(b for _, b in pad) else image
    weights = gaussian_weights(patch)
    acc = np.zeros(padded.shape, dtype=np.float32)
    norm = np.zeros(padded.shape, dtype=np.float32)
    starts = [window_starts(n, p, o) for n, p, o in zip(padded.shape, patch, overlap, strict=True)]
    windows = list(itertools.product(*starts))
    for done, (z, y, x) in enumerate(windows):
        if cancel is not None:
            cancel.raise_if_cancelled("Segmentation")
        sl = (slice(z, z + patch[0]), slice(y, y + patch[1]), slice(x, x + patch[2]))
        prob = run_patch(padded[sl][None, None])[0, 0]
        acc[sl] += np.multiply(prob, weights, out=prob)
        norm[sl] += weights
        progress(done + 1, len(windows), "Segmenting")
    out = acc / norm
    return np.ascontiguousarray(out[: shape[0], : shape[1], : shape[2]])
