"""Thick slices by averaging: values, geometry and label masks."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.reslice import average_mask, average_slices, slices_per_group
from meddiag_desktop.core.volume import Volume, affine_from_dicom


def thin_volume(n: int = 10) -> Volume:
    affine = affine_from_dicom((0.0, 0.0, 100.0), (1, 0, 0, 0, 1, 0), (0.8, 0.8), np.array([0.0, 0.0, 3.0]))
    array = np.repeat(np.arange(n, dtype=np.int16)[:, None, None] * 30, 4, axis=1).repeat(4, axis=2)
    uids = tuple(f"1.2.{i}" for i in range(n))
    return Volume(array, affine, modality="CT", source_sop_instance_uids=uids)


def test_three_mm_averaged_to_nine_keeps_positions_and_means() -> None:
    thin = thin_volume()
    thick = average_slices(thin, 9.0)
    assert thick.shape == (3, 4, 4)  # the tenth slice does not fill a group
    assert thick.spacing[0] == pytest.approx(9.0) and thick.spacing[1] == pytest.approx(0.8)
    assert thick.array.dtype == np.int16
    assert list(thick.array[:, 0, 0]) == [30, 120, 210]  # means of 0,30,60 / 90,120,150 / ...
    # the thick slice centre is the middle source slice's position
    assert np.allclose(thick.index_to_lps((1, 0, 0)), thin.index_to_lps((4, 0, 0)))
    assert thick.source_sop_instance_uids == ("1.2.1", "1.2.4", "1.2.7")


def test_group_size_and_identity() -> None:
    thin = thin_volume()
    assert slices_per_group(thin, 8.0) == 3 and slices_per_group(thin, 5.0) == 2
    assert average_slices(thin, 3.0) is thin
    with pytest.raises(ValueError, match="positive"):
        slices_per_group(thin, 0.0)


def test_mask_needs_half_of_its_source_voxels() -> None:
    mask = np.zeros((6, 2, 2), dtype=bool)
    mask[0:2] = True  # two of the first group of three
    mask[5] = True  # one of the second
    thick = average_mask(mask, 3)
    assert thick[:, 0, 0].tolist() == [True, False]
