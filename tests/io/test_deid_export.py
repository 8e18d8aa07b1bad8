"""De-identified export of files: choosing them, burned-in text, broken files, progress, cancel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from meddiag_desktop.core.deid_model import DeidentifyOptions
from meddiag_desktop.core.progress import CancelToken
from meddiag_desktop.errors import Cancelled, DeidentifyError
from meddiag_desktop.io.deid_export import deidentify_path
from tests.export_helpers import DEMO

SERIES = DEMO / "lung_ct_A0001"
OPTIONS = DeidentifyOptions("Subject^1", date_offset_days=-30)


def _copy(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    for path in sorted(SERIES.glob("*.dcm"))[:count]:
        shutil.copy(path, folder / path.name)
    return folder


def _edit(path: Path, **values: object) -> None:
    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        if value is None:
            ds.pop(keyword, None)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)


def test_a_study_folder_is_exported_with_one_file_per_image_and_other_files_named(tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    result = deidentify_path(DEMO, tmp_path / "out", OPTIONS, progress=lambda *a: calls.append(a))
    assert len(result.files) == 64 and result.warnings == ()
    assert sorted(Path(s.path).name for s in result.skipped) == ["LICENSE", "README.md"]
    assert all("not a DICOM file" in s.reason for s in result.skipped)
    folder = Path(result.folder)
    assert folder.parent == tmp_path / "out" and folder.name.startswith("Subject_1_")
    series_folders = {Path(f.path).parent.name for f in result.files}
    assert len(series_folders) == 1 and series_folders.pop().startswith("CT_1.2.826.0.1.3680043.8.498.")
    assert not list(folder.rglob("*.partial")) and "A0001" not in str(list(folder.rglob("*")))
    assert calls[-1][0] == calls[-1][1] == 64 and "Reading headers" in calls[0][2]


def test_an_output_folder_inside_the_study_is_not_read_back(tmp_path: Path) -> None:
    folder = _copy(tmp_path, 2)
    first = deidentify_path(folder, folder / "deid", OPTIONS)
    second = deidentify_path(folder, folder / "deid", OPTIONS)
    assert len(first.files) == len(second.files) == 2 and second.skipped == ()


def test_partly_readable_files_are_skipped_with_their_reason_and_the_rest_exported(tmp_path: Path) -> None:
    folder = _copy(tmp_path, 3)
    data = (folder / "1-02.dcm").read_bytes()
    (folder / "1-02.dcm").write_bytes(data[: len(data) // 3])  # cut inside the pixel data
    (folder / "1-03.dcm").write_bytes(data[:700])  # cut inside the header
    (folder / "notes.txt").write_text("Jane Doe")
    result = deidentify_path(folder, tmp_path / "out", OPTIONS)
    assert [Path(f.source).name for f in result.files] == ["1-01.dcm"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(reasons) == {"1-02.dcm", "1-03.dcm", "notes.txt"}
    assert "read only partly" in reasons["1-02.dcm"] and "read only partly" in reasons["1-03.dcm"]


def test_one_pseudonym_stands_for_one_patient(tmp_path: Path) -> None:
    folder = _copy(tmp_path, 2)
    _edit(folder / "1-02.dcm", PatientID="SOMEONE-ELSE")
    with pytest.raises(DeidentifyError, match="2 patients"):
        deidentify_path(folder, tmp_path / "out", OPTIONS)
    assert not (tmp_path / "out").exists()


def test_a_series_is_chosen_by_its_uid_or_a_unique_prefix(tmp_path: Path) -> None:
    folder = _copy(tmp_path, 3)
    _edit(folder / "1-03.dcm", SeriesInstanceUID="1.2.826.0.1.3680043.8.498.777")
    uid = str(pydicom.dcmread(folder / "1-01.dcm").SeriesInstanceUID)
    result = deidentify_path(folder, tmp_path / "out", OPTIONS, series=uid[:40])
    assert sorted(Path(f.source).name for f in result.files) == ["1-01.dcm", "1-02.dcm"]
    with pytest.raises(DeidentifyError, match=r"No DICOM file of series 9\.9"):
        deidentify_path(folder, tmp_path / "out", OPTIONS, series="9.9")
    with pytest.raises(DeidentifyError, match="2 series match"):
        deidentify_path(folder, tmp_path / "out", OPTIONS, series="1.")


@pytest.mark.parametrize(("modality", "flag"), [("XA", None), ("US", None), ("CT", "YES")])
def test_an_image_that_may_show_text_is_held_back_unless_explicitly_included(
    tmp_path: Path, modality: str, flag: str | None
) -> None:
    folder = _copy(tmp_path, 2)
    _edit(folder / "1-02.dcm", Modality=modality, BurnedInAnnotation=flag)
    held = deidentify_path(folder, tmp_path / "a", OPTIONS)
    assert [Path(f.source).name for f in held.files] == ["1-01.dcm"]
    assert len(held.warnings) == 1 and "1-02.dcm" in held.warnings[0] and "identify the patient" in held.warnings[0]
    assert [Path(s.path).name for s in held.skipped] == ["1-02.dcm"]
    assert "not exported unless burned-in images are explicitly included" in held.skipped[0].reason
    included = deidentify_path(folder, tmp_path / "b", DeidentifyOptions("Subject^1", include_burned_in=True))
    assert len(included.files) == 2 and included.warnings == held.warnings and included.skipped == ()


def test_cancel_stops_the_export_and_removes_what_it_wrote(tmp_path: Path) -> None:
    token = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        if message.startswith("De-identifying") and done == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        deidentify_path(_copy(tmp_path, 6), tmp_path / "out", OPTIONS, progress=progress, cancel=token)
    assert list((tmp_path / "out").rglob("*")) == []


def test_an_invalid_pseudonym_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(DeidentifyError, match="pseudonym"):
        deidentify_path(_copy(tmp_path, 1), tmp_path / "out", DeidentifyOptions("Zoë\\Doe"))
    assert not (tmp_path / "out").exists()


@pytest.mark.corpus
def test_corpus_us_and_sc_images_are_flagged_and_broken_files_explained(corpus: Path, tmp_path: Path) -> None:
    zoo = corpus / "codec_zoo"
    names = {
        "US1_UNCR.dcm": zoo / "pydicom_data/US1_UNCR.dcm",  # US, no BurnedInAnnotation
        "GDCMJ2K_TextGBR.dcm": zoo / "pylibjpeg_data/JPEG2000Lossless/GDCMJ2K_TextGBR.dcm",  # SC with text in it
        "JPGLosslessP14SV1_1s_1f_8b.dcm": zoo / "pydicom_data/JPGLosslessP14SV1_1s_1f_8b.dcm",  # US, NO
        "too_short.dcm": zoo / "pydicom_data/emri_small_jpeg_2k_lossless_too_short.dcm",
        "liver_deflate.dcm": zoo / "pydicom_data/liver_deflate.dcm",  # deflated image frames: not writable
        "OT-PAL-8-face.dcm": zoo / "pydicom_data/OT-PAL-8-face.dcm",  # no DICOM file header
    }
    for name, path in names.items():
        folder = tmp_path / name.removesuffix(".dcm")
        folder.mkdir()
        shutil.copy(path, folder / name)
        result = deidentify_path(folder, tmp_path / "out", OPTIONS)
        reasons = " ".join(s.reason for s in result.skipped)
        if name in ("US1_UNCR.dcm", "GDCMJ2K_TextGBR.dcm"):
            assert not result.files and "identify the patient" in result.warnings[0], name
        elif name.startswith("JPGLossless"):
            assert len(result.files) == 1 and result.warnings == (), name
        else:
            assert not result.files and result.warnings == (), name
            expected = {"too_short.dcm": "read only partly", "liver_deflate.dcm": "1.2.840.10008.1.2.8.1"}
            assert expected.get(name, "not a DICOM file") in reasons, name
