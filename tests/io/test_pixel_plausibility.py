"""Corrupt pixel data that decodes without an error is caught (issue 11: a corrupt image shown as valid).

The corpus file is the real broken JPEG Lossless stream (skipped when the corpus is absent); the
crafted file is built from the bundled demo CT, so that test never skips.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.core.records import InstanceRecord, ObjectKind
from meddiag_desktop.core.volume import Volume, WarningKind
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.plausibility import bit_depth_problem, modality_problem
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series
from tests.io.corrupt_files import BAD, demo_files, write_noise_slice


def load_only(folder: Path, tmp_path: Path) -> Volume:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [series] = index.series()
        [volume] = load_series(index, series.series_instance_uid, threads=1)
    return volume


def kinds(volume: Volume) -> set[WarningKind]:
    return {w.kind for w in volume.warnings}


def test_corpus_bad_jpeg_lossless_is_flagged(corpus: Path, tmp_path: Path) -> None:
    source = corpus / BAD
    if not source.is_file():
        pytest.skip(f"{BAD} is not in the corpus")
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(source, folder)
    volume = load_only(folder, tmp_path)
    assert WarningKind.IMPLAUSIBLE_PIXELS in kinds(volume)
    [warning] = [w for w in volume.warnings if w.kind is WarningKind.IMPLAUSIBLE_PIXELS]
    assert "probably corrupt in 1 of 1 image" in warning.message and "impossible for CT" in warning.message
    assert volume.array.any()  # shown as decoded, not an exception and not blanked


def test_crafted_noise_slice_from_the_demo_is_flagged(tmp_path: Path) -> None:
    volume = load_only(write_noise_slice(tmp_path / "noise").parent, tmp_path)
    assert WarningKind.IMPLAUSIBLE_PIXELS in kinds(volume)


def test_the_real_demo_ct_is_plausible(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    for path in demo_files()[::8]:  # eight real slices, apex to base
        shutil.copy(path, folder)
    volume = load_only(folder, tmp_path)
    assert WarningKind.IMPLAUSIBLE_PIXELS not in kinds(volume)


def _record(bits_stored: int, signed: int) -> InstanceRecord:
    return InstanceRecord("x.dcm", 0, 0, "1", "1", "1", "1.2.840.10008.1.2.5", ObjectKind.IMAGE,
                          bits_allocated=16, bits_stored=bits_stored, pixel_representation=signed)  # fmt: skip


def test_values_outside_bits_stored_are_named() -> None:
    frame = np.array([[0, 4095], [4096, 12]], dtype=np.uint16)
    problem = bit_depth_problem(frame, _record(12, 0))
    assert problem is not None and "12-bit unsigned range (0…4095)" in problem
    assert bit_depth_problem(frame.clip(0, 4095), _record(12, 0)) is None
    assert bit_depth_problem(np.array([[-2048, 2047]], np.int16), _record(12, 1)) is None
    assert bit_depth_problem(np.array([[-2049, 0]], np.int16), _record(12, 1)) is not None


def test_ct_padding_and_metal_are_not_corruption() -> None:
    frame = np.full((64, 64), 1024 - 3024 - 1024, dtype=np.int16)  # padding outside the circle (-3024 HU)
    frame[8:56, 8:56] = 24  # -1000 HU air ...
    frame[20:40, 20:40] = 1064  # ... soft tissue
    frame[30:32, 30:32] = 20000  # a metal implant (extended CT scale)
    assert modality_problem(frame, "CT", 1.0, -1024.0) is None
    assert modality_problem(frame * 0 + 30000, "MR", 1.0, 0.0) is None  # no range known for MR
