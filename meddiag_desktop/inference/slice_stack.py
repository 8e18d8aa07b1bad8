"""Inference for 2.5D models (manifest layout ``NSHW``): each slice with its neighbours as channels.

A 2.5D network segments one axial slice at a time from a stack of neighbouring slices, so it
needs no overlapping 3D windows along z: every slice is run exactly once, with its full
neighbourhood (slices beyond the ends repeat the nearest one). In-plane, the whole body crop
goes through in one piece when it fits ``patch_size[1:]``; larger crops are tiled with overlap
and Gaussian blending. Heights and widths are padded to a multiple of ``ALIGN``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.inference.sliding_window import window_starts

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from meddiag_desktop.inference.sliding_window import PatchFn

ALIGN = 16  # NSHW models accept any height and width that is a multiple of this


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def gaussian_2d(shape: tuple[int, int]) -> NDArray[np.float32]:
    axes = [np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / (n / 8)) ** 2) for n in shape]
    return np.asarray(np.maximum(axes[0][:, None] * axes[1][None, :], 1e-3), dtype=np.float32)


def _tiles(size: int, limit: int, overlap: float) -> list[tuple[int, int]]:
    """``(start, length)`` of in-plane tiles along one axis."""
    if size <= limit:
        return [(0, size)]
    return [(s, limit) for s in window_starts(size, limit, overlap)]


def slice_stack(
    image: NDArray[np.float32],
    offsets: tuple[int, ...],
    patch: tuple[int, int, int],
    overlap: tuple[float, float, float],
    run_batch: PatchFn,
    pad_value: float,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    *,
    prepare: Callable[[NDArray[np.float32]], NDArray[np.float32]] | None = None,
    out: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:
    """Per-voxel probabilities over a ``(z, y, x)`` image, one forward pass per slice.

    ``run_batch`` maps a ``(B, len(offsets), H, W)`` batch to ``(B, 1, H, W)`` probabilities.
    ``prepare`` (e.g. HU windowing) is applied to each batch as it is cut, so the image can be
    a view of the raw volume rather than a normalised copy; ``pad_value`` is then in prepared
    units. The probabilities are written into ``out`` (zeroed, ``image``'s shape) when given.
    """
    depth, height, width = image.shape
    batch, max_h, max_w = patch
    neighbours = np.clip(np.arange(depth)[:, None] + np.asarray(offsets)[None, :], 0, depth - 1)
    tiles = [(y, x) for y in _tiles(height, max_h, overlap[1]) for x in _tiles(width, max_w, overlap[2])]
    out = np.zeros(image.shape, dtype=np.float32) if out is None else out
    norm = np.zeros(image.shape[1:], dtype=np.float32) if len(tiles) > 1 else None
    steps, done = len(tiles) * -(-depth // batch), 0
    for (y0, h), (x0, w) in tiles:
        weight = gaussian_2d((h, w)) if norm is not None else None
        for z0 in range(0, depth, batch):
            if cancel is not None:
                cancel.raise_if_cancelled("Segmentation")
            block = image[neighbours[z0 : z0 + batch]][:, :, y0 : y0 + h, x0 : x0 + w]
            if prepare is not None:
                block = prepare(block)
            pad = ((0, 0), (0, 0), (0, _aligned(h) - h), (0, _aligned(w) - w))
            prob = run_batch(np.pad(block, pad, constant_values=pad_value))[:, 0, :h, :w]
            target = out[z0 : z0 + len(block), y0 : y0 + h, x0 : x0 + w]
            target += prob if weight is None else prob * weight
            done += 1
            progress(done, steps, "Segmenting")
        if norm is not None and weight is not None:
            norm[y0 : y0 + h, x0 : x0 + w] += weight
    if norm is not None:
        out /= norm
    return out
