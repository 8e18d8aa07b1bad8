"""NIfTI / NRRD label volumes written with SimpleITK -> lesions on a series' grid, by physical position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from meddiag_desktop.core.labels import LabelRole
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.errors import LabelReadError
from meddiag_desktop.io.label_volumes import label_volume_labels
from tests.validation.helpers import chest_hu, ct_datasets, label_image_on, volume_of


@pytest.fixture
def volume() -> Volume:
    return volume_of(ct_datasets(chest_hu((10, 30, 40)), spacing=(2.5, 0.8, 0.8)))


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_each_value_is_one_lesion_on_the_same_grid(volume: Volume, tmp_path: Path, suffix: str) -> None:
    labels = np.zeros(volume.shape, dtype=np.uint8)
    labels[2:5, 5:10, 5:12] = 1
    labels[6:8, 20:25, 30:35] = 3
    labels[6, 2:4, 2:4] = 3  # a second piece of lesion 3: still one lesion (it has one value)
    path = tmp_path / f"labels{suffix}"
    sitk.WriteImage(label_image_on(volume, labels), str(path))
    found = {label.name: label for label in label_volume_labels(path, volume)}
    assert set(found) == {"label 1", "label 3"}
    assert np.array_equal(found["label 1"].mask, labels == 1)
    assert np.array_equal(found["label 3"].mask, labels == 3)
    assert found["label 3"].role is LabelRole.LESION and found["label 3"].source in ("NIfTI", "NRRD")


def test_a_binary_mask_gives_one_lesion_per_connected_component(volume: Volume, tmp_path: Path) -> None:
    labels = np.zeros(volume.shape, dtype=np.uint8)
    labels[2:5, 5:10, 5:12] = 1  # 105 voxels
    labels[6:8, 20:25, 30:35] = 1  # 50 voxels
    path = tmp_path / "mask.nii"
    sitk.WriteImage(label_image_on(volume, labels), str(path))
    found = label_volume_labels(path, volume)
    assert [label.name for label in found] == ["lesion 1", "lesion 2"]
    assert found[0].mask.sum() == 105 and found[1].mask.sum() == 50
    assert np.array_equal(found[0].mask | found[1].mask, labels == 1)


def test_another_grid_is_mapped_by_physical_position(volume: Volume, tmp_path: Path) -> None:
    """A 1.6 mm grid with its own origin: every series voxel takes the label at its centre."""
    fine = np.zeros((25, 15, 20), dtype=np.uint8)  # 1.25 x 1.6 x 1.6 mm voxels
    fine[4:10, 3:6, 5:9] = 2
    image = sitk.GetImageFromArray(fine)
    image.SetSpacing((1.6, 1.6, 1.25))
    image.SetOrigin(tuple(float(v) for v in volume.origin + np.array([0.4, 0.4, 0.0])))
    path = tmp_path / "fine.nrrd"
    sitk.WriteImage(image, str(path))
    [label] = label_volume_labels(path, volume)
    assert label.mask.sum() * 2.5 * 0.8 * 0.8 == pytest.approx((fine == 2).sum() * 1.25 * 1.6 * 1.6, rel=0.3)
    for index in np.argwhere(np.ones(volume.shape, dtype=bool))[::7]:
        lps = volume.index_to_lps(index.astype(float))
        src = np.rint(np.asarray(image.TransformPhysicalPointToContinuousIndex(tuple(lps)))).astype(int)[::-1]
        inside = np.all(src >= 0) and np.all(src < fine.shape)
        expected = bool(inside and fine[tuple(src)] == 2)
        assert label.mask[tuple(index)] == expected, index


def test_labels_outside_the_series_are_refused(volume: Volume, tmp_path: Path) -> None:
    image = label_image_on(volume, np.ones(volume.shape, dtype=np.uint8))
    image.SetOrigin(tuple(float(v) for v in volume.origin + np.array([0.0, 0.0, 500.0])))
    path = tmp_path / "far.nii.gz"
    sitk.WriteImage(image, str(path))
    with pytest.raises(LabelReadError, match="does not overlap this series"):
        label_volume_labels(path, volume)


def test_empty_label_volume_has_no_lesions_and_floats_must_be_integers(volume: Volume, tmp_path: Path) -> None:
    path = tmp_path / "empty.nii.gz"
    sitk.WriteImage(label_image_on(volume, np.zeros(volume.shape, dtype=np.uint8)), str(path))
    assert label_volume_labels(path, volume) == []
    prob = np.zeros(volume.shape, dtype=np.float32)
    prob[3, 3, 3] = 0.7
    path = tmp_path / "prob.nii.gz"
    sitk.WriteImage(label_image_on(volume, prob), str(path))
    with pytest.raises(LabelReadError, match="non-integer"):
        label_volume_labels(path, volume)
    (tmp_path / "bad.nii").write_text("not an image")
    with pytest.raises(LabelReadError, match="could not be read"):
        label_volume_labels(tmp_path / "bad.nii", volume)
