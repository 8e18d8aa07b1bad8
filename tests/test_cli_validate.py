"""``meddiag-desktop validate`` end to end on the bundled demo and its radiologists' boxes, real model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from meddiag_desktop.cli import main

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
BOXES = REPO / "resources" / "demo_annotations"


def test_validate_demo_prints_tables_writes_reports_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["validate", str(DEMO), "--annotations", str(BOXES), "--out", str(out), "--threads", "2"]) == 0
    captured = capsys.readouterr()
    assert "case 1/1 demo/lung_ct_A0001" in captured.err  # the progress line
    text = captured.out
    scan_row = next(line for line in text.splitlines() if line.startswith("P1 ") and "analysed" in line)
    assert "demo/lung_ct_A0001" in scan_row and "Philips" in scan_row and "5.0" in scan_row
    lesion_row = next(line for line in text.splitlines() if "A boxes 1" in line)
    assert " box " in lesion_row and ("hit" in lesion_row or "MISSED" in lesion_row)
    assert f"wrote {out / 'report.json'}" in text and f"wrote {out / 'report.html'}" in text
    assert "Decision support only; not a medical device." in text
    data = json.loads((out / "report.json").read_text())
    [scan] = data["scans"]
    assert scan["status"] == "analysed" and scan["thickness_band"] == "3.5-6 mm" and scan["vendor"] == "Philips"
    [lesion] = scan["lesions"]
    assert lesion["shape"] == "box" and lesion["dice"] is None and lesion["size_band"] == ">=30 mm"
    assert any("9 of 20 box files" in note for note in scan["notes"])  # the other reconstruction's boxes
    assert data["model"]["id"] == "lung-nodule-seg" and len(data["model"]["sha256"]) == 64
    page = (out / "report.html").read_text()
    assert all(s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]*)"', page))
    assert "http://" not in page and "https://" not in page
    # a second run finds the case in the cache and does not run the model again
    assert main(["validate", str(DEMO), "--annotations", str(BOXES), "--out", str(out)]) == 0
    capsys.readouterr()
    again = json.loads((out / "report.json").read_text())
    assert again["scans"][0]["from_cache"] is True and again["scans"][0]["lesions"] == scan["lesions"]


def test_validate_without_references_is_a_plain_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEMO), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "No CT series with reference labels" in err and "1 CT series have no reference labels" in err


@pytest.mark.slow
def test_demo_resliced_finer_and_with_coarser_pixels_gives_the_same_mass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped model accepts 1 mm slice spacing and 1.5 mm pixels and finds the mass as on the scan itself."""
    out = tmp_path / "out"
    args = ["validate", str(DEMO), "--annotations", str(BOXES), "--out", str(out), "--threads", "2"]
    assert main([*args, "--reslice", "1", "--pixels", "1.5"]) == 0
    capsys.readouterr()
    scans = {s["variant"]: s for s in json.loads((out / "report.json").read_text())["scans"]}
    assert set(scans) == {"as acquired", "resliced every 1 mm", "pixels averaged to 1.5 mm"}
    assert all(s["status"] == "analysed" for s in scans.values()), [s["message"] for s in scans.values()]
    assert scans["resliced every 1 mm"]["slice_spacing_mm"] == pytest.approx(1.0)
    acquired = scans["as acquired"]["lesions"][0]["box_coverage"]
    assert acquired >= 0.5
    for variant in ("resliced every 1 mm", "pixels averaged to 1.5 mm"):
        [mass] = scans[variant]["lesions"]
        assert mass["hit"] and mass["box_coverage"] >= 0.9 * acquired, (variant, mass["box_coverage"], acquired)
        assert len(scans[variant]["findings"]) <= len(scans["as acquired"]["findings"]) + 1
