"""Resampling round trips, sliding-window blending, cancellation and progress."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from meddiag_desktop.core.progress import CancelToken
from meddiag_desktop.errors import Cancelled
from meddiag_desktop.inference.resample import centred_grid, covering_grid, from_grid, to_grid
from meddiag_desktop.inference.sliding_window import gaussian_weights, sliding_window, window_starts


def _oblique_affine() -> np.ndarray:
    a = np.eye(4)
    a[:3, 0] = [0.0, 0.6, 2.4]  # sheared slice step (gantry tilt)
    a[:3, 1] = [0.0, 0.9, 0.0]
    a[:3, 2] = [-0.9, 0.0, 0.0]  # columns run towards patient right (flipped)
    a[:3, 3] = [40.0, -30.0, 10.0]
    return a


def test_round_trip_restores_values_and_centroid() -> None:
    affine = _oblique_affine()
    arr = np.zeros((16, 40, 40), np.float32)
    arr[6:10, 14:26, 12:22] = 100.0
    grid = covering_grid(affine, arr.shape, (1.2, 0.45, 0.45))
    on_grid = to_grid(arr, affine, grid, fill=-1024.0)
    idx = np.argwhere(on_grid > 50).mean(0)
    lps = grid.affine[:3, :3] @ idx + grid.affine[:3, 3]
    idx0 = np.argwhere(arr > 50).mean(0)
    np.testing.assert_allclose(lps, affine[:3, :3] @ idx0 + affine[:3, 3], atol=0.3)
    back = from_grid(on_grid, grid, affine, arr.shape)
    assert back.shape == arr.shape
    assert np.abs(back - arr)[3:-3, 3:-3, 3:-3].mean() < 3.0
    assert (back[7:9, 17:23, 14:20] > 90).all()


def test_centred_grid_is_centred() -> None:
    g = centred_grid(np.array([1.0, 2.0, 3.0]), (5.0, 1.5, 1.5), (8, 32, 32))
    centre = g.affine[:3, :3] @ (np.array(g.shape) - 1) / 2 + g.affine[:3, 3]
    np.testing.assert_allclose(centre, [1.0, 2.0, 3.0])


def test_window_starts_cover_everything() -> None:
    assert window_starts(10, 16, 0.5) == [0]
    starts = window_starts(100, 32, 0.25)
    assert starts[0] == 0 and starts[-1] == 68
    assert all(b - a <= 24 for a, b in itertools.pairwise(starts))


def test_gaussian_blending_of_consistent_predictions_is_exact() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((13, 37, 29)).astype(np.float32)
    calls: list[tuple[int, int]] = []
    out = sliding_window(
        image,
        (8, 16, 16),
        (0.5, 0.5, 0.5),
        lambda b: b * 0.5,
        pad_value=0.0,
        progress=lambda d, t, m: calls.append((d, t)),
    )
    np.testing.assert_allclose(out, image * 0.5, rtol=1e-5, atol=1e-6)
    assert calls[-1][0] == calls[-1][1] == len(calls)


def test_small_input_is_padded() -> None:
    image = np.ones((3, 5, 7), np.float32)
    out = sliding_window(image, (8, 16, 16), (0.25, 0.25, 0.25), lambda b: b, pad_value=0.0)
    assert out.shape == image.shape
    np.testing.assert_allclose(out, 1.0, rtol=1e-6)


def test_weights_peak_at_centre() -> None:
    w = gaussian_weights((8, 16, 16))
    assert w.max() == pytest.approx(1.0, abs=0.05) and w.min() >= 1e-3
    assert w[4, 8, 8] > w[0, 0, 0]


def test_cancel_stops_between_windows() -> None:
    token = CancelToken()

    def run(b: np.ndarray) -> np.ndarray:
        token.cancel()
        return b

    with pytest.raises(Cancelled):
        sliding_window(np.zeros((16, 32, 32), np.float32), (8, 16, 16), (0.0, 0.0, 0.0), run, 0.0, cancel=token)


def test_antialias_averages_whole_blocks_and_keeps_positions() -> None:
    from meddiag_desktop.inference.resample import antialias, block_factors

    assert block_factors((1.0, 0.7, 0.98), (2.5, 1.5, 1.5)) == (2, 2, 1)
    assert block_factors((3.0, 1.5, 1.5), (2.5, 1.5, 1.5)) == (1, 1, 1)
    array = np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3)
    affine = np.zeros((4, 4))
    affine[3, 3] = 1.0
    affine[0, 2], affine[1, 1], affine[2, 0] = 0.98, 0.7, 1.0  # x along columns, y rows, z slices
    out, new = antialias(array, affine, (2.5, 1.5, 1.5))
    assert out.shape == (2, 2, 3)  # the fifth slice does not fill a block
    np.testing.assert_allclose(out[0, 0], array[0:2, 0:2].mean(axis=(0, 1)))
    # the first block mean sits at the centre of its 2 x 2 source voxels
    np.testing.assert_allclose(new[:3, 3], affine[:3, 3] + 0.5 * affine[:3, 0] + 0.5 * affine[:3, 1])
    np.testing.assert_allclose(np.linalg.norm(new[:3, :3], axis=0), [2.0, 1.4, 0.98])
    same, same_affine = antialias(array, affine, (1.0, 0.7, 0.98))
    assert same is array and same_affine is affine


def test_to_grid_in_slabs_equals_one_pass() -> None:
    from meddiag_desktop.inference.resample import covering_grid, to_grid

    rng = np.random.default_rng(3)
    array = rng.normal(0, 100, (23, 30, 28)).astype(np.float32)
    affine = np.zeros((4, 4))
    affine[3, 3] = 1.0
    affine[0, 2], affine[1, 1], affine[2, 0] = 0.8, 0.8, 1.25
    affine[0, 0] = 0.2  # a gantry-tilt shear: slices step sideways
    grid = covering_grid(affine, array.shape, (2.5, 1.5, 1.5))
    one = to_grid(array, affine, grid, fill=-1024.0, slab=10_000)
    slabs = to_grid(array, affine, grid, fill=-1024.0, slab=3)
    np.testing.assert_allclose(slabs, one, atol=1e-4)
