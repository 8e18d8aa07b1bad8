"""``validate --workers 2`` on the generated cohort: one task per case, same results as the sequential path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meddiag_desktop.cli import main

cohort = pytest.importorskip("meddiag_desktop.validation.cohort", reason="the cohort generator is not there yet")


def test_validate_on_a_local_cluster_matches_the_sequential_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out = tmp_path / "cohort", tmp_path / "validation"
    cohort.make_cohort(root, 3, seed=7)
    args = ["validate", str(root), "--manifest", str(root / "manifest.json"), "--out", str(out)]
    assert main([*args, "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "local cluster: 2 worker(s)" in err and "3/3 cases" in err
    on_cluster = json.loads((out / "report.json").read_text())
    assert [s["status"] for s in on_cluster["scans"]] == ["analysed"] * 3
    assert not any(s["from_cache"] for s in on_cluster["scans"])
    # the sequential path finds every case in the cache the workers wrote, with the same results
    assert main(args) == 0
    capsys.readouterr()
    sequential = json.loads((out / "report.json").read_text())
    assert all(s["from_cache"] for s in sequential["scans"])
    strip = lambda scans: [{k: v for k, v in s.items() if k not in ("from_cache", "seconds")} for s in scans]  # noqa: E731
    assert strip(sequential["scans"]) == strip(on_cluster["scans"])
