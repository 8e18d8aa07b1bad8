"""Linear interpolation of a reformat's coarse axis, for display only (issue 11: blocky reformats)."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.display_resample import upsample_factor, upsample_plane, upsample_rows


def test_factor_makes_rows_about_as_tall_as_columns_are_wide() -> None:
    assert upsample_factor(5.0, 0.84) == 6
    assert upsample_factor(0.84, 0.84) == 1
    assert upsample_factor(10.0, 0.5) == 8  # capped
    assert upsample_factor(0.0, 0.5) == 1


def test_rows_are_linear_between_slices_and_keep_the_geometry() -> None:
    plane = np.array([[0.0, 10.0], [60.0, 70.0], [120.0, 130.0]], dtype=np.float32)
    out = upsample_rows(plane, 6)
    assert out.shape == (18, 2)
    # sub-row j sits at source index (j + 0.5) / 6 - 0.5: clamped at the ends, linear between
    assert out[0, 0] == out[2, 0] == 0.0
    assert out[3, 0] == pytest.approx(5.0) and out[8, 0] == pytest.approx(55.0)
    assert out[-1, 0] == 120.0
    assert np.all(np.diff(out[:, 0]) >= 0) and len(np.unique(out[:, 0])) > 10  # smooth, not 3 blocks
    assert out[:, 1] - out[:, 0] == pytest.approx(np.full(18, 10.0))


def test_plane_interpolates_only_the_coarse_axis() -> None:
    plane = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert upsample_plane(plane, 1, 1) is plane
    wide = upsample_plane(plane, 1, 2)
    assert wide.shape == (3, 8) and wide[:, 0].tolist() == plane[:, 0].tolist()
    assert upsample_plane(plane, 3, 1).shape == (9, 4)
