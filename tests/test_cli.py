"""The headless commands, run as a user would, in a subprocess with isolated user folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from meddiag_desktop.cli import main

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


def test_scan_prints_series_table_and_problems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert "CT" in out and "5mm" in out and "64" in out
    assert "README.md: not a DICOM file" in out
    assert "A0001" not in out.split("files not shown")[0]  # no patient identifiers in the table


def test_info_prints_geometry_by_uid_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    main(["scan", str(DEMO)])
    line = next(row for row in capsys.readouterr().out.splitlines() if " 5mm " in row)
    uid = line.split()[-1]
    assert main(["info", uid[:-6]]) == 0
    out = capsys.readouterr().out
    assert "64 x 512 x 512" in out
    assert "spacing (slice, row, column): 5.0000, 0.8418, 0.8418 mm" in out
    assert "no geometry warnings" in out


def test_bad_path_is_a_plain_error_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ}
    result = subprocess.run(
        [sys.executable, "-m", "meddiag_desktop", "scan", str(tmp_path / "nope")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_unknown_series_is_a_plain_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "9.9.9"]) == 2
    assert "No indexed series" in capsys.readouterr().err


def test_audit_verify_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3
    from contextlib import closing
    from dataclasses import replace

    from meddiag_desktop.config import Settings
    from meddiag_desktop.review import audit
    from meddiag_desktop.review.service import ReviewService
    from meddiag_desktop.review.store import ReviewStore
    from tests.review.helpers import ai_run

    path = Settings().review_store_path
    with ReviewStore(path) as store:
        service = ReviewService(store, audit.Actor("radiologist1"))
        # a model that is not installed: its file is not checked (tests/review/test_tamper.py checks models)
        service.record_run(replace(ai_run(), model_ref="test-model@0.1#sha256:" + "ab" * 32))
        service.accept(service.open_review("run-1"), "F1")
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "all 4 entries verify" in out and "test-model@0.1 (used by 1 run(s)) not installed" in out
    assert main(["audit", "export", "--csv", str(tmp_path / "a.csv")]) == 0
    assert (tmp_path / "a.csv").read_text().count("\n") == 5
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET finding_id = 'F2' WHERE seq = 4")
    assert main(["audit", "verify"]) == 1
    assert "BROKEN at entry 4" in capsys.readouterr().out


def test_analyze_demo_prints_findings_and_writes_provenance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "findings.json"
    assert main(["analyze", str(DEMO), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "F1" in text and "Decision support only" in text
    data = json.loads(out.read_text())
    assert {m["id"] for m in data["provenance"]["models"]} == {"lung-nodule-seg", "lung-lesion-cls"}
    assert len(data["provenance"]["input_pixel_sha256"]) == 64
    z0, _, _, z1, _, _ = data["findings"][0]["bbox"]
    assert z0 <= 46 < z1  # the radiologists' boxes centre on slice 46 of the demo
