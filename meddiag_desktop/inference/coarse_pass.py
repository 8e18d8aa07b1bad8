"""A second, coarser segmentation pass that lets findings reach the whole of a large mass.

The segmenter learned lesions up to about 80 mm. A 9 cm tumour filling a lower lobe is, at
full resolution, unlike anything it saw: it marks the part that looks like a familiar lesion
and leaves the rest. Shrunk by ``zoom``, the same mass has a familiar size. The coarse pass
only *widens*: a voxel's probability is raised to at most just under the operating threshold,
so it can join an existing finding's extent (hysteresis) but never start a finding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from meddiag_desktop.core.progress import ProgressFn
from meddiag_desktop.inference.preprocess import AIR_HU, ModelInput, input_on_grid
from meddiag_desktop.inference.resample import Grid, antialias, covering_grid, to_grid

Segment = Callable[[ModelInput, ProgressFn], NDArray[np.float32]]


def shrunk_input(prep: ModelInput, zoom: float) -> ModelInput:
    """The model-grid HU resampled onto a grid ``zoom`` times coarser (to be fed as if it were not)."""
    spacing = (prep.grid.spacing[0] * zoom, prep.grid.spacing[1] * zoom, prep.grid.spacing[2] * zoom)
    grid = covering_grid(prep.grid.affine, prep.grid.shape, spacing)
    array, affine = antialias(prep.hu, prep.grid.affine, spacing)
    return input_on_grid(grid, to_grid(array, affine, grid, fill=AIR_HU))


def widen(
    prob: NDArray[np.float32], coarse: NDArray[np.float32], coarse_grid: Grid, grid: Grid, threshold: float
) -> None:
    """Raise ``prob`` (in place) towards the coarse pass's probability, never to ``threshold``."""
    up = to_grid(coarse, coarse_grid.affine, grid, fill=0.0)
    np.minimum(up, np.nextafter(np.float32(threshold), np.float32(0.0)), out=up)
    np.maximum(prob, up, out=prob, where=prob < threshold)


def with_coarse_pass(
    prep: ModelInput, prob: NDArray[np.float32], zoom: float, threshold: float, segment: Segment, progress: ProgressFn
) -> None:
    """Run ``segment`` on ``prep`` shrunk by ``zoom`` and widen ``prob`` (on ``prep.grid``) with it."""
    small = shrunk_input(prep, zoom)

    def report(done: int, total: int, _message: str) -> None:
        progress(done, total, "Segmenting (coarse pass for large masses)")

    widen(prob, segment(small, report), small.grid, prep.grid, threshold)
