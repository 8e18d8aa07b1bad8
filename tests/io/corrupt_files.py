"""Corrupt-but-decodable pixel data: the corpus's broken JPEG Lossless file and a crafted demo slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import RLELossless

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
BAD = "codec_zoo/pylibjpeg_data/JPEGLossless/JPEGLossless_1s_1f_i_16_16_bad.dcm"


def demo_files() -> list[Path]:
    files = sorted(DEMO.rglob("*.dcm"))
    assert files, f"the bundled demo CT is missing from {DEMO}"
    return files


def write_noise_slice(folder: Path) -> Path:
    """A demo slice whose RLE pixel data decodes cleanly into noise over the whole int16 range."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(demo_files()[30])
    noise = np.random.default_rng(11).integers(0, 65535, size=(ds.Rows, ds.Columns), dtype=np.uint16)
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 0
    ds.compress(RLELossless, noise, generate_instance_uid=False)
    target = folder / "noise.dcm"
    ds.save_as(target)
    return target
