"""An Icon Image Sequence (0088,0200) holds a Pixel Data of its own (PS3.3 F.7): the lean reader must
skip it and find the image's Pixel Data where pydicom finds it (issue 12). Built from the bundled
demo CT (RLE, explicit VR little endian), so nothing here skips."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence

from meddiag_desktop.io.header import read_header
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series
from tests.io import hostile_files as hostile

if TYPE_CHECKING:
    from pathlib import Path

ICON_BYTES = bytes(range(64)) * 16  # 32 x 32 x 8 bits


def _icon(*, encapsulated: bool) -> Dataset:
    icon = Dataset()
    icon.Rows = icon.Columns = 32
    icon.SamplesPerPixel, icon.BitsAllocated, icon.BitsStored, icon.HighBit = 1, 8, 8, 7
    icon.PixelRepresentation, icon.PhotometricInterpretation = 0, "MONOCHROME2"
    icon.PixelData = encapsulate([ICON_BYTES[:512], ICON_BYTES[512:]]) if encapsulated else ICON_BYTES
    icon["PixelData"].VR = "OB"
    icon["PixelData"].is_undefined_length = encapsulated
    return icon


def _write_with_icon(folder: Path, name: str, *, sequence_undefined: bool, native: bool = False) -> Path:
    ds = hostile.demo_dataset()
    if native:
        ds.decompress(decoding_plugin="pylibjpeg")
    ds.IconImageSequence = Sequence([_icon(encapsulated=not native)])
    ds["IconImageSequence"].is_undefined_length = sequence_undefined
    path = folder / name
    ds.save_as(path, enforce_file_format=True)
    return path


def _pydicom_pixel_offset(path: Path) -> int:
    element = pydicom.dcmread(path).get_item("PixelData")
    assert isinstance(element, pydicom.dataelem.RawDataElement)
    return int(element.value_tell)


@pytest.mark.parametrize("sequence_undefined", [True, False], ids=["undefined-length", "defined-length"])
def test_pixel_offset_skips_an_icon_with_encapsulated_pixels(tmp_path: Path, sequence_undefined: bool) -> None:
    path = _write_with_icon(tmp_path, "icon.dcm", sequence_undefined=sequence_undefined)
    raw = path.read_bytes()
    icon_at = raw.index(b"\xe0\x7f\x10\x00OB")  # the icon's Pixel Data comes first in the file
    header = read_header(path)
    assert header.pixel_offset == _pydicom_pixel_offset(path) > icon_at
    assert (header.pixel_length, header.pixel_problem) == (-1, "")
    with path.open("rb") as handle:
        handle.seek(header.pixel_offset)
        main_pixels = pydicom.dcmread(path).PixelData
        assert handle.read(len(main_pixels)) == main_pixels


def test_pixel_offset_skips_an_icon_with_native_pixels(tmp_path: Path) -> None:
    path = _write_with_icon(tmp_path, "icon_native.dcm", sequence_undefined=True, native=True)
    header = read_header(path)
    assert header.pixel_offset == _pydicom_pixel_offset(path)
    assert header.pixel_length == 512 * 512 * 2


def test_series_with_icons_indexes_and_loads_like_pydicom(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    paths = [_write_with_icon(folder, f"icon_{i}.dcm", sequence_undefined=i % 2 == 0) for i in range(2)]
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        assert scan(folder, index).problems == ()
        for path in paths:
            ds = pydicom.dcmread(path)
            [series] = [s for s in index.series() if s.series_instance_uid == ds.SeriesInstanceUID]
            [record] = index.instances(series.series_instance_uid)
            assert record.pixel_offset == _pydicom_pixel_offset(path)
            [volume] = load_series(index, series.series_instance_uid)
            expected = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            np.testing.assert_array_equal(volume.array[0], expected)
