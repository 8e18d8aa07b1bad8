"""2.5D inference: every slice once, with its neighbours as channels; tiling only when needed."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.progress import CancelToken
from meddiag_desktop.errors import Cancelled
from meddiag_desktop.inference.slice_stack import ALIGN, slice_stack

OFFSETS = (-2, 0, 1)


def centre_channel(batch: np.ndarray) -> np.ndarray:
    return batch[:, OFFSETS.index(0) : OFFSETS.index(0) + 1] * 0.5


def test_each_slice_gets_its_own_neighbours() -> None:
    image = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((1, 20, 24), np.float32)
    seen: list[np.ndarray] = []

    def run(batch: np.ndarray) -> np.ndarray:
        assert batch.shape[1:] == (3, 32, 32)  # padded up to a multiple of ALIGN
        seen.append(batch[:, :, 0, 0].copy())
        return centre_channel(batch)

    out = slice_stack(image, OFFSETS, (4, 64, 64), (0.0, 0.25, 0.25), run, pad_value=-1.0)
    np.testing.assert_allclose(out, image * 0.5)
    rows = np.concatenate(seen)
    # slice z sees z-2, z, z+1, clamped at the ends
    assert rows.tolist() == [[0, 0, 1], [0, 1, 2], [0, 2, 3], [1, 3, 4], [2, 4, 5], [3, 5, 5]]
    assert ALIGN == 16


def test_large_slices_are_tiled_and_blended_exactly() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((5, 70, 50)).astype(np.float32)
    shapes: list[tuple[int, ...]] = []

    def run(batch: np.ndarray) -> np.ndarray:
        shapes.append(batch.shape)
        return centre_channel(batch)

    out = slice_stack(image, OFFSETS, (8, 32, 32), (0.0, 0.25, 0.25), run, pad_value=0.0)
    np.testing.assert_allclose(out, image * 0.5, rtol=1e-5, atol=1e-6)
    assert len(shapes) == 3 * 2 and all(s[2:] == (32, 32) for s in shapes)


def test_progress_and_cancel() -> None:
    calls: list[tuple[int, int]] = []
    image = np.zeros((10, 16, 16), np.float32)
    slice_stack(image, OFFSETS, (4, 16, 16), (0.0, 0.0, 0.0), centre_channel, 0.0, lambda d, t, m: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    token = CancelToken()

    def run(batch: np.ndarray) -> np.ndarray:
        token.cancel()
        return centre_channel(batch)

    with pytest.raises(Cancelled):
        slice_stack(image, OFFSETS, (4, 16, 16), (0.0, 0.0, 0.0), run, 0.0, cancel=token)


def test_prepare_runs_on_each_batch_and_results_land_in_the_given_array() -> None:
    """The analysis windows HU batch by batch (no normalised copy) and writes into its grid."""
    image = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((1, 20, 24), np.float32)
    grid = np.zeros((8, 20, 24), np.float32)
    pads: list[float] = []

    def run(batch: np.ndarray) -> np.ndarray:
        pads.append(float(batch[0, 0, -1, -1]))  # a padded pixel: pad_value is in prepared units
        return centre_channel(batch)

    out = slice_stack(
        image, OFFSETS, (4, 64, 64), (0.0, 0.25, 0.25), run, -1.0, prepare=lambda b: b * 10.0 + 1.0, out=grid[1:7]
    )
    assert out.base is grid or out is grid[1:7].base or np.shares_memory(out, grid)
    np.testing.assert_allclose(grid[1:7], (image * 10.0 + 1.0) * 0.5)
    assert grid[0].max() == 0.0 and grid[7].max() == 0.0
    assert pads == [-1.0, -1.0]
