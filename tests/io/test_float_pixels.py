"""Float Pixel Data (7FE0,0008) and Double Float Pixel Data (7FE0,0009), PS3.3 C.7.6.24: the values
the file holds, never their bit patterns read as 32-bit integers (issue 12)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from meddiag_desktop.io.header import read_header
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

PARAMETRIC_MAP = "1.2.840.10008.5.1.4.1.1.30"
SLICE = (np.arange(64, dtype=np.float64).reshape(8, 8) - 20.0) / 3.0  # negative, fractional, not integers


def _write_float_series(folder: Path, *, double: bool = False, syntax: str = ExplicitVRLittleEndian) -> str:
    """Two single-frame slices of one series; returns its Series Instance UID."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    for z in range(2):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = syntax
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = PARAMETRIC_MAP
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = generate_uid(), series_uid, "MR"
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 8, 8, 1, "MONOCHROME2"
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 2.0 * z], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.InstanceNumber = [1, 1], z + 1
        if double:
            ds.BitsAllocated, ds.DoubleFloatPixelData = 64, (SLICE + z).astype("<f8").tobytes()
        else:
            ds.BitsAllocated, ds.FloatPixelData = 32, (SLICE + z).astype("<f4").tobytes()
        ds.save_as(folder / f"slice_{z}.dcm", enforce_file_format=True)
    return str(series_uid)


def _load(folder: Path, index_path: Path, series_uid: str) -> np.ndarray:
    with SeriesIndex(index_path) as index:
        assert scan(folder, index).problems == ()
        [volume] = load_series(index, series_uid)
    return volume.array


def test_header_names_the_float_pixel_element(tmp_path: Path) -> None:
    _write_float_series(tmp_path / "f")
    _write_float_series(tmp_path / "d", double=True)
    assert read_header(tmp_path / "f" / "slice_0.dcm").pixel_tag == 0x7FE00008
    assert read_header(tmp_path / "d" / "slice_0.dcm").pixel_tag == 0x7FE00009


def test_single_frame_float_pixels_load_as_their_values(tmp_path: Path) -> None:
    series_uid = _write_float_series(tmp_path / "study")
    array = _load(tmp_path / "study", tmp_path / "index.sqlite", series_uid)
    np.testing.assert_allclose(array, np.stack([SLICE, SLICE + 1]).astype(np.float32), rtol=0, atol=1e-6)


def test_double_float_and_implicit_vr_load_as_their_values(tmp_path: Path) -> None:
    double_uid = _write_float_series(tmp_path / "double", double=True)
    implicit_uid = _write_float_series(tmp_path / "implicit", syntax=ImplicitVRLittleEndian)
    expected = np.stack([SLICE, SLICE + 1]).astype(np.float32)
    np.testing.assert_allclose(_load(tmp_path / "double", tmp_path / "i.sqlite", double_uid), expected, atol=1e-6)
    np.testing.assert_allclose(_load(tmp_path / "implicit", tmp_path / "i.sqlite", implicit_uid), expected, atol=1e-6)


def test_float_rows_of_an_index_from_before_are_re_read(tmp_path: Path) -> None:
    """Schema 2 stored float files as integers at a pixel offset: the upgrade makes the next scan re-read them."""
    series_uid = _write_float_series(tmp_path / "study")
    db_path = tmp_path / "index.sqlite"
    _load(tmp_path / "study", db_path, series_uid)
    offset = read_header(tmp_path / "study" / "slice_0.dcm").pixel_offset
    with closing(sqlite3.connect(db_path)) as db, db:  # what the old reader had stored
        db.execute("UPDATE instances SET pixel_offset = ?, pixel_length = 256", (offset,))
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    array = _load(tmp_path / "study", db_path, series_uid)
    np.testing.assert_allclose(array, np.stack([SLICE, SLICE + 1]).astype(np.float32), atol=1e-6)


def test_corpus_parametric_maps_load_as_pydicom_decodes_them(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "maps"
    folder.mkdir()
    for name in ("parametric_map_float.dcm", "parametric_map_double_float.dcm"):
        (folder / name).write_bytes((corpus / "codec_zoo" / "pydicom_data" / name).read_bytes())
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        for name in ("parametric_map_float.dcm", "parametric_map_double_float.dcm"):
            ds = pydicom.dcmread(folder / name)
            volumes = load_series(index, ds.SeriesInstanceUID)
            expected = ds.pixel_array.astype(np.float32).reshape(-1, ds.Rows, ds.Columns)
            got = np.concatenate([v.array for v in volumes])
            np.testing.assert_allclose(np.sort(got.ravel()), np.sort(expected.ravel()), atol=1e-5)
