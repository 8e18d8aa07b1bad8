"""``meddiag-desktop batch`` end to end on a 2-worker LocalCluster: store, export, audit, rerun."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from batch_studies import StudySpec, write_studies

from meddiag_desktop.batch import cluster
from meddiag_desktop.batch.store import ResultsStore, iter_study_records
from meddiag_desktop.cli import main


def _batch(root: Path, out: Path, *extra: str) -> int:
    return main(["batch", str(root), "--out", str(out), "--workers", "2", "--no-classifier", *extra])


def test_batch_stores_every_series_exports_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "cohort", tmp_path / "results"
    specs = [StudySpec(1), StudySpec(2), StudySpec(3, pixel_spacing_mm=1.7), StudySpec(4, broken=True)]
    write_studies(root, specs)
    first_file = sorted((root / "study_001").iterdir())[0]
    (root / "cut.dcm").write_bytes(first_file.read_bytes()[:3000])  # an incomplete copy: not a series
    assert _batch(root, out, "--export-seg-sr") == 1  # one series failed: the exit code says so
    captured = capsys.readouterr()
    assert "note: left out cohort/cut.dcm: " in captured.out
    assert "local cluster: 2 worker(s) x 1 thread(s)" in captured.err
    assert "Dask dashboard: http://127.0.0.1:" in captured.err
    assert "4/4 series  1 failed" in captured.err and "ETA" in captured.err
    assert "4 series found; 0 done before (not analysed again); 2 analysed, 1 not analysed" in captured.out
    assert "failed: cohort/study_004: " in captured.out and "Decision support only" in captured.out

    records = {r["folder"]: r for r in iter_study_records(out)}
    assert [records[f"cohort/study_00{n}"]["status"] for n in range(1, 5)] == [
        "analysed", "analysed", "not analysed", "failed",
    ]  # fmt: skip
    assert "Pixel spacing 1.70 x 1.70 mm is outside the range" in records["cohort/study_003"]["message"]
    first = records["cohort/study_001"]
    assert (first["sex"], first["age_years"], first["manufacturer"], first["model_name"]) == (
        "M", 42.0, "SIEMENS", "SOMATOM Force",
    )  # fmt: skip
    assert first["contrast"] is True and first["slice_thickness_mm"] == 5.0 and first["slices"] == 10

    exported = [Path(e["path"]) for r in records.values() for e in r["exported"]]
    assert exported and all(p.is_file() and p.is_relative_to(out / "exports") for p in exported)
    analysed_with_findings = [r for r in records.values() if r["exported"]]
    assert main(["audit", "export", "--csv", str(tmp_path / "audit.csv")]) == 0
    with (tmp_path / "audit.csv").open(encoding="utf-8") as fh:
        events = [row for row in csv.DictReader(fh) if row["event"] == "results_exported"]
    assert len(events) == len(analysed_with_findings)  # each export is one audit entry

    # the same command again, with study_001's files touched: the two untouched done series are skipped
    # by their files, study_001 by its pixels (on the worker), and the failed one is tried again
    for path in (root / "study_001").iterdir():
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert _batch(root, out, "--export-seg-sr") == 1
    assert "4 series found; 3 done before (not analysed again); 0 analysed, 0 not analysed" in capsys.readouterr().out
    with ResultsStore(out) as store:
        assert [(r["series"], r["skipped"]) for r in store.runs()] == [(4, 0), (2, 2)]
    again = list(iter_study_records(out))
    assert len(again) == 4 and {r["key"] for r in again} == {r["key"] for r in records.values()}
    assert sorted(p.name for p in (out / "exports").iterdir()) == sorted({p.parent.name for p in exported})


def test_a_scheduler_with_cluster_sizes_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["batch", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"])
    assert code == 2 and "sized by whoever started its workers" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_a_plain_error(
    four_studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    code = main(["batch", str(four_studies), "--out", str(tmp_path / "r"), "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and "nothing was analysed" in err
    with ResultsStore(tmp_path / "r") as store:
        assert store.runs() == []  # no run is recorded without a cluster
