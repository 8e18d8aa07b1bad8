"""Exported files: valid DICOM by dciodvfy (dicom3tools), atomic writes, never overwriting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from meddiag_desktop.core.export_model import ObjectKind
from meddiag_desktop.errors import ExportError
from meddiag_desktop.io.export import export_results
from meddiag_desktop.io.export_common import default_export_dir
from tests.export_helpers import DEMO, DemoSeries, dciodvfy_errors, demo_series, request, review_findings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSeries:
    return demo_series(tmp_path_factory.mktemp("demo-index"))


@pytest.mark.parametrize("case", ["unverified", "verified", "one-lesion"])
def test_dciodvfy_finds_no_error_in_the_seg_or_the_sr(demo: DemoSeries, tmp_path: Path, case: str) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed; run packaging/ensure_system_packages.sh")
    findings = review_findings(demo.volume)
    chosen = findings[1:2] + findings[3:] if case == "one-lesion" else findings  # one segment: shared identification
    req = request(demo.volume, signed=case == "verified", findings=chosen)
    result = export_results(demo.index, demo.volume, req, tmp_path)
    assert [o.kind for o in result.objects] == [ObjectKind.SEG, ObjectKind.SR]
    for item in result.objects:
        errors, output = dciodvfy_errors(Path(item.path))
        assert not errors, f"{item.kind.value}:\n{output}"
        assert ("Comprehensive3DSR" if item.kind is ObjectKind.SR else "Segmentation") in output


def test_exports_never_overwrite_each_other_and_leave_no_temporary_files(demo: DemoSeries, tmp_path: Path) -> None:
    first = export_results(demo.index, demo.volume, request(demo.volume), tmp_path)
    second = export_results(demo.index, demo.volume, request(demo.volume), tmp_path)
    paths = {o.path for o in first.objects + second.objects}
    assert len(paths) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths)
    for item in first.objects:
        assert pydicom.dcmread(item.path).SOPInstanceUID == item.sop_instance_uid
        assert Path(item.path).name.startswith(f"{item.kind.value}_") and item.sop_instance_uid in item.path


def test_files_appear_only_when_complete(demo: DemoSeries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    real_save = pydicom.Dataset.save_as

    def watched(self: pydicom.Dataset, stream: object, **kwargs: object) -> None:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        real_save(self, stream, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pydicom.Dataset, "save_as", watched)
    result = export_results(demo.index, demo.volume, request(demo.volume), tmp_path)
    seg_name = Path(result.objects[0].path).name
    # while an object is written only a hidden temporary file exists; the SEG is complete before the SR starts
    assert [[n for n in names if not n.startswith(".")] for names in seen] == [[], [seg_name]]
    assert [[n for n in names if n.endswith(".partial")] != [] for names in seen] == [True, True]


def test_a_failed_write_leaves_nothing_behind(
    demo: DemoSeries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: pydicom.Dataset, stream: object, **kwargs: object) -> None:
        stream.write(b"half a file")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pydicom.Dataset, "save_as", fail)
    with pytest.raises(ExportError, match="No space left on device"):
        export_results(demo.index, demo.volume, request(demo.volume), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_a_plain_error(demo: DemoSeries, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="Choose another folder"):
        export_results(demo.index, demo.volume, request(demo.volume), blocker / "results")


def test_default_folder_is_meddiag_results_beside_the_study(demo: DemoSeries) -> None:
    folder = default_export_dir(demo.index, demo.volume.series_instance_uid)
    assert folder == DEMO / "meddiag-results"
    assert not folder.exists()
