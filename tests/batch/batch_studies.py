"""Small studies made from the bundled demo: a slab of its slices, new UIDs, varied headers.

Until the cohort generator (``meddiag_desktop.validation.cohort``) exists these are the batch
tests' own input. The pixel data is copied as is (RLE Lossless), so writing a study is cheap.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

REPO = Path(__file__).resolve().parents[2]
DEMO_SERIES = REPO / "resources" / "demo" / "lung_ct_A0001"
SEXES = ("F", "M", "O")
VENDORS = (("Philips", "Brilliance16"), ("SIEMENS", "SOMATOM Force"), ("GE MEDICAL SYSTEMS", "Revolution"))


@dataclass(frozen=True)
class StudySpec:
    """How one generated study differs from the demo."""

    number: int
    first_slice: int = 10
    slices: int = 10
    pixel_spacing_mm: float | None = None  # set to refuse the study (outside the model's range)
    broken: bool = False  # every file's RLE data undecodable (framing intact): indexed, but cannot be loaded

    @property
    def sex(self) -> str:
        return SEXES[self.number % len(SEXES)]

    @property
    def age(self) -> int:
        return 35 + 7 * self.number

    @property
    def vendor(self) -> tuple[str, str]:
        return VENDORS[self.number % len(VENDORS)]


def demo_files() -> list[Path]:
    return sorted(DEMO_SERIES.glob("*.dcm"))


def write_study(out: Path, spec: StudySpec) -> Path:
    """One study folder holding one CT series; returns the folder."""
    folder = out / f"study_{spec.number:03d}"
    folder.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for i, source in enumerate(demo_files()[spec.first_slice : spec.first_slice + spec.slices]):
        ds = pydicom.dcmread(source)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientName, ds.PatientID = f"Batch^Test{spec.number}", f"BT{spec.number:05d}"
        ds.PatientSex, ds.PatientAge = spec.sex, f"{spec.age:03d}Y"
        ds.Manufacturer, ds.ManufacturerModelName = spec.vendor
        if spec.number % 2:
            ds.ContrastBolusAgent = "IOHEXOL"
        if spec.pixel_spacing_mm is not None:
            ds.PixelSpacing = [spec.pixel_spacing_mm, spec.pixel_spacing_mm]
        target = folder / f"{i:03d}.dcm"
        ds.save_as(target, enforce_file_format=True)
        if spec.broken:
            _garble(target)
    return folder


def _garble(path: Path) -> None:
    """The second RLE segment "starts" inside the RLE header: the scan indexes the file, decoding fails."""
    data = bytearray(path.read_bytes())
    item = b"\xfe\xff\x00\xe0"
    offset_table = data.index(item, data.index(b"\xe0\x7f\x10\x00"))
    fragment = data.index(item, offset_table + 8) + 8
    data[fragment + 8 : fragment + 12] = bytes(4)
    path.write_bytes(bytes(data))


def write_studies(out: Path, specs: list[StudySpec]) -> list[Path]:
    return [write_study(out, spec) for spec in specs]


def copy_study(folder: Path, out: Path) -> Path:
    """The same files under another folder (same UIDs and pixels: the same study)."""
    target = out / folder.name
    shutil.copytree(folder, target)
    return target
