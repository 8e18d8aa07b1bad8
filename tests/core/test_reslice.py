"""Resampling: thick slices averaged, finer slices interpolated, coarser pixels as area means; masks follow."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.reslice import (
    area_weights,
    average_mask,
    average_slices,
    coarser_mask,
    coarser_pixels,
    reslice_finer,
    reslice_mask,
    reslice_positions,
    slices_per_group,
)
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


def test_resliced_every_mm_interpolates_between_acquired_slices_and_keeps_the_first() -> None:
    thin = thin_volume(4)  # 3 mm slices of 0, 30, 60, 90
    fine = reslice_finer(thin, 1.0)
    assert fine.shape == (10, 4, 4) and fine.spacing[0] == pytest.approx(1.0) and fine.array.dtype == np.int16
    assert list(fine.array[:, 0, 0]) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert np.allclose(fine.index_to_lps((0, 0, 0)), thin.index_to_lps((0, 0, 0)))
    assert np.allclose(fine.index_to_lps((9, 2, 3)), thin.index_to_lps((3, 2, 3)))
    assert fine.source_sop_instance_uids[:4] == ("1.2.0", "1.2.0", "1.2.1", "1.2.1")  # nearest acquired slice
    positions = reslice_positions(4, 3.0, 1.0)
    mask = np.zeros((4, 4, 4), dtype=bool)
    mask[1] = True
    assert reslice_mask(mask, positions)[:, 0, 0].tolist() == [
        False,
        False,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="finer"):
        reslice_positions(4, 3.0, 3.0)


def test_coarser_pixels_are_area_means_centred_on_their_area() -> None:
    affine = affine_from_dicom((10.0, 20.0, 0.0), (1, 0, 0, 0, 1, 0), (0.5, 0.5), np.array([0.0, 0.0, 2.0]))
    array = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6)
    fine = Volume(array, affine, modality="CT")
    coarse = coarser_pixels(fine, 1.0)  # 2 x 2 blocks
    assert coarse.shape == (2, 3, 3) and coarse.spacing[1:] == pytest.approx((1.0, 1.0))
    assert coarse.array[0, 0, 0] == pytest.approx(array[0, :2, :2].mean())
    assert coarse.array[1, 2, 1] == pytest.approx(array[1, 4:6, 2:4].mean())
    # the coarse pixel's centre is the centre of the four fine pixels it averages
    assert np.allclose(coarse.index_to_lps((0, 0, 0)), fine.index_to_lps((0, 0.5, 0.5)))
    weights = area_weights(6, 1.5)  # a factor that splits fine pixels between coarse ones
    assert weights.shape == (4, 6) and np.allclose(weights.sum(axis=1), 1.0)
    assert weights[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="not coarser"):
        coarser_pixels(fine, 0.5)


def test_coarser_mask_needs_half_the_area_unless_any_part_counts() -> None:
    affine = affine_from_dicom((0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0), (0.5, 0.5), np.array([0.0, 0.0, 2.0]))
    volume = Volume(np.zeros((1, 4, 4), dtype=np.int16), affine, modality="CT")
    mask = np.zeros((1, 4, 4), dtype=bool)
    mask[0, 0, :2] = True  # half of the first coarse pixel
    mask[0, 2, 2] = True  # a quarter of the last one
    assert coarser_mask(mask, volume, 1.0, any_part=False)[0].tolist() == [[True, False], [False, False]]
    assert coarser_mask(mask, volume, 1.0, any_part=True)[0].tolist() == [[True, False], [False, True]]
