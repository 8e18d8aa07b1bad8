"""A decoder that fails on broken data is named as broken data; a missing decoder as unsupported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meddiag_desktop.errors import DicomReadError, UnsupportedDicomError
from meddiag_desktop.io import pixels
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan

DEMO_SLICE = sorted((Path(__file__).resolve().parents[2] / "resources" / "demo" / "lung_ct_A0001").glob("*.dcm"))[20]


def _garbled_record(tmp_path: Path) -> object:
    """The demo's RLE slice with its second segment "starting" inside the RLE header (framing intact)."""
    folder = tmp_path / "study"
    folder.mkdir()
    target = folder / "slice.dcm"
    shutil.copy(DEMO_SLICE, target)
    data = bytearray(target.read_bytes())
    item = b"\xfe\xff\x00\xe0"
    fragment = data.index(item, data.index(item, data.index(b"\xe0\x7f\x10\x00")) + 8) + 8
    data[fragment + 8 : fragment + 12] = bytes(4)
    target.write_bytes(bytes(data))
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [series] = index.series()
        [record] = index.instances(series.series_instance_uid)
    return record


def test_rle_data_a_decoder_rejects_is_broken_pixel_data_not_a_missing_decoder(tmp_path: Path) -> None:
    record = _garbled_record(tmp_path)
    with pytest.raises(DicomReadError, match="broken pixel data") as raised:
        pixels.decode_file(record)  # type: ignore[arg-type]
    assert not isinstance(raised.value, UnsupportedDicomError)


def test_a_decoder_missing_its_dependencies_is_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _garbled_record(tmp_path)

    def no_decoder(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(
            "Unable to decompress 'RLE Lossless' pixel data because all plugins are missing dependencies:\n\tx"
        )

    monkeypatch.setattr(pixels, "pixel_array", no_decoder)
    with pytest.raises(UnsupportedDicomError, match="no decoder for RLE Lossless"):
        pixels.decode_file(record)  # type: ignore[arg-type]
