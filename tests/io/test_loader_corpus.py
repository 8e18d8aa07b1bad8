"""Series -> Volume on the real corpus, checked against SimpleITK and pydicom."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from meddiag_desktop.core.volume import Volume, WarningKind
from meddiag_desktop.errors import DicomReadError, SeriesGeometryError
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.pixels import decode_file
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

LUNG = "lung_pet_ct_dx/A0001_philips_lungkernel_L"
MPRAGE = "mr_ge_3d_t1_mprage"
PHILIPS_TILT = "ct_gantry_tilt/philips_ingenuity_tilt_S21610_S2010"
GE_TILT = "ct_gantry_tilt/ge_hispeed_dual_var_tilt_var_spacing"


def load_folder(folder: Path, tmp_path: Path) -> list[Volume]:
    with SeriesIndex(tmp_path / f"{folder.name}.sqlite") as index:
        scan(folder, index)
        [series] = [s for s in index.series() if s.kind.value == "image"]
        return load_series(index, series.series_instance_uid)


def sitk_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    [uid] = reader.GetGDCMSeriesIDs(str(folder))
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder), uid))
    return reader.Execute()


def assert_matches_sitk(volume: Volume, image: sitk.Image, *, through_plane: bool = True) -> None:
    assert np.allclose(volume.origin, image.GetOrigin(), atol=1e-3)
    spacing_xyz = volume.spacing[::-1]
    direction = np.array(image.GetDirection()).reshape(3, 3)
    assert np.allclose(spacing_xyz[:2], image.GetSpacing()[:2], atol=1e-3)
    assert np.allclose(volume.direction[:, 2], direction[:, 0], atol=1e-3)
    assert np.allclose(volume.direction[:, 1], direction[:, 1], atol=1e-3)
    if through_plane:
        assert spacing_xyz[2] == pytest.approx(image.GetSpacing()[2], abs=1e-3)
        assert np.allclose(volume.direction[:, 0], direction[:, 2], atol=1e-3)
    assert np.array_equal(volume.array.astype(np.float64), sitk.GetArrayFromImage(image).astype(np.float64))


@pytest.mark.parametrize("folder", [LUNG, MPRAGE])
def test_regular_series_match_simpleitk(corpus: Path, tmp_path: Path, folder: str) -> None:
    [volume] = load_folder(corpus / folder, tmp_path)
    assert volume.warnings == ()
    assert_matches_sitk(volume, sitk_series(corpus / folder))


def test_philips_tilt_keeps_true_geometry_and_warns(corpus: Path, tmp_path: Path) -> None:
    [volume] = load_folder(corpus / PHILIPS_TILT, tmp_path)
    assert {w.kind for w in volume.warnings} == {WarningKind.GANTRY_TILT}
    assert "18.5°" in volume.warnings[0].message
    assert_matches_sitk(volume, sitk_series(corpus / PHILIPS_TILT), through_plane=False)
    last = pydicom.dcmread(
        _file_of(corpus / PHILIPS_TILT, volume.source_sop_instance_uids[-1]), stop_before_pixels=True
    )
    assert np.allclose(volume.index_to_lps((volume.shape[0] - 1, 0, 0)), last.ImagePositionPatient, atol=1e-3)


def test_ge_variable_tilt_and_spacing_warn_and_keep_positions(corpus: Path, tmp_path: Path) -> None:
    [volume] = load_folder(corpus / GE_TILT, tmp_path)
    kinds = {w.kind for w in volume.warnings}
    assert WarningKind.UNEVEN_SPACING in kinds
    assert volume.slice_positions is not None
    sitk_image = sitk_series(corpus / GE_TILT)
    assert np.array_equal(volume.array, sitk.GetArrayFromImage(sitk_image).astype(np.float32))
    for z, uid in enumerate(volume.source_sop_instance_uids):
        ds = pydicom.dcmread(_file_of(corpus / GE_TILT, uid), stop_before_pixels=True)
        assert np.allclose(volume.slice_positions[z], ds.ImagePositionPatient, atol=1e-3)


def _file_of(folder: Path, sop_uid: str) -> Path:
    for path in folder.iterdir():
        if path.is_file() and path.name not in ("DIRFILE",):
            try:
                if (
                    pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).SOPInstanceUID
                    == sop_uid
                ):
                    return path
            except pydicom.errors.InvalidDicomError:
                continue
    raise AssertionError(sop_uid)


def test_missing_slice_is_reported_as_a_gap(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "gap"
    shutil.copytree(corpus / LUNG, folder)
    [volume] = load_folder(folder, tmp_path)
    middle_uid = volume.source_sop_instance_uids[31]
    _file_of(folder, middle_uid).unlink()
    [gapped] = load_folder(folder, tmp_path / "again" if (tmp_path / "again").mkdir() is None else tmp_path)
    [warning] = gapped.warnings
    assert warning.kind is WarningKind.UNEVEN_SPACING
    assert "10.00 mm between slices 31 and 32" in warning.message


def test_nine_transfer_syntaxes_decode_identically(corpus: Path, tmp_path: Path) -> None:
    volumes = load_folder(corpus / "transfer_syntax_mr_siemens", tmp_path)
    assert len(volumes) == 9
    reference = volumes[0].array
    assert reference.std() > 0
    for volume in volumes[1:]:
        assert np.array_equal(volume.array, reference)


def test_demo_rle_equals_corpus_uncompressed(corpus: Path, tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lung_ct_A0001"
    [original] = load_folder(corpus / LUNG, tmp_path / "a" if (tmp_path / "a").mkdir() is None else tmp_path)
    [recoded] = load_folder(demo, tmp_path)
    assert np.array_equal(original.array, recoded.array)
    assert np.allclose(original.affine, recoded.affine)


def test_enhanced_mr_uses_per_frame_functional_groups(corpus: Path, tmp_path: Path) -> None:
    path = (
        corpus / "enhanced_mr" / "IM_0027_fMAP.dcm"
        if (corpus / "enhanced_mr" / "IM_0027_fMAP.dcm").exists()
        else next(p for p in (corpus / "enhanced_mr").rglob("*fMAP*"))
    )
    folder = tmp_path / "fmap"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    volumes = load_folder(folder, tmp_path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    positions = [f.PlanePositionSequence[0].ImagePositionPatient for f in ds.PerFrameFunctionalGroupsSequence]
    assert sum(v.shape[0] for v in volumes) == len(positions) == 64
    for volume in volumes:
        for z in range(volume.shape[0]):
            assert any(np.allclose(volume.index_to_lps((z, 0, 0)), p, atol=1e-3) for p in positions)


def test_every_codec_zoo_file_decodes_or_says_why(corpus: Path, tmp_path: Path) -> None:
    outcomes: dict[str, str] = {}
    with SeriesIndex(tmp_path / "zoo.sqlite") as index:
        scan(corpus / "codec_zoo", index)
        records = [r for s in index.series() for r in index.instances(s.series_instance_uid) if r.kind.value == "image"]
    for record in records:
        name = Path(record.path).name
        try:
            frames = decode_file(record)
            assert frames.shape[:3] == (record.frames, record.rows, record.columns), name
            outcomes[name] = "ok"
        except DicomReadError as exc:
            assert name in str(exc) and "Traceback" not in str(exc)
            outcomes[name] = str(exc)
    # JPEGLossless_1s_1f_i_16_16_bad.dcm decodes without a decoder error (to implausible values);
    # only the two files whose codestreams are actually broken can be caught at decode time.
    for broken in ("RG2_JPLY.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm"):
        assert outcomes[broken] != "ok", broken
    for codec in ("HTJ2K", "J2K", "JLSL", "RLE", "big_endian", "JPEG-LL", "ybr", "PAL", "JPEGBaseline", "JPEGExtended"):
        assert any(codec.lower() in n.lower() and o == "ok" for n, o in outcomes.items()), codec
    assert sum(o == "ok" for o in outcomes.values()) >= 90


def test_unreadable_image_in_a_series_is_blank_and_named(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "rg2"
    folder.mkdir()
    for path in (corpus / "codec_zoo").rglob("RG2_*.dcm"):
        shutil.copy(path, folder / path.name)
    volumes = load_folder(folder, tmp_path)
    warnings = [w for v in volumes for w in v.warnings if w.kind is WarningKind.UNREADABLE_IMAGES]
    assert len(warnings) == 1 and "RG2_JPLY.dcm" in warnings[0].message


def test_read_frame_equals_the_volume_slice(corpus: Path, tmp_path: Path) -> None:
    from meddiag_desktop.io.series_loader import plan_series, read_frame, read_volume

    with SeriesIndex(tmp_path / "f.sqlite") as index:
        scan(corpus / MPRAGE, index)
        [series] = index.series()
        [plan] = plan_series(index, series.series_instance_uid)
        assert np.array_equal(read_frame(plan, 77), read_volume(plan).array[77])


def test_decode_pool_gives_identical_pixels(tmp_path: Path) -> None:
    from meddiag_desktop.io.decode_pool import DecodePool
    from meddiag_desktop.io.series_loader import plan_series, read_volume

    demo = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lung_ct_A0001"
    with SeriesIndex(tmp_path / "p.sqlite") as index:
        scan(demo, index)
        [series] = index.series()
        [plan] = plan_series(index, series.series_instance_uid)
        in_process = read_volume(plan, threads=2).array
        with DecodePool(2) as pool:
            assert np.array_equal(read_volume(plan, threads=4, decode_pool=pool).array, in_process)


def test_deleted_copy_of_a_series_is_skipped(corpus: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    shutil.copytree(corpus / LUNG, first)
    shutil.copytree(corpus / LUNG, second)
    with SeriesIndex(tmp_path / "i.sqlite") as index:
        scan(first, index)
        scan(second, index)
        shutil.rmtree(first)  # gone from disk, still in the index until it is re-scanned
        [series] = index.series()
        [volume] = load_series(index, series.series_instance_uid)
        assert volume.shape == (64, 512, 512)
        shutil.rmtree(second)
        with pytest.raises(SeriesGeometryError, match="no longer on disk"):
            load_series(index, series.series_instance_uid)


def test_demo_keeps_original_uids_so_annotations_match() -> None:
    demo = Path(__file__).resolve().parents[2] / "resources"
    uids = {
        pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
        for p in (demo / "demo" / "lung_ct_A0001").glob("*.dcm")
    }
    boxes = {p.stem for p in (demo / "demo_annotations" / "A0001").glob("*.xml")}
    assert len(uids & boxes) == 11  # the other 9 boxes name slices of a reconstruction not shipped
