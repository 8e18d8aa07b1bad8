"""The results store: what counts as done, failures replaced by successes, nothing stored twice."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from meddiag_desktop.batch.jobs import SeriesJob
from meddiag_desktop.batch.models import ModelPin
from meddiag_desktop.batch.outcome import FindingSummary, OutcomeStatus, SeriesOutcome
from meddiag_desktop.batch.store import STORE_NAME, ResultsStore, ResultsStoreError, iter_study_records
from meddiag_desktop.core.subgroups import SubgroupHeader

PIN = ModelPin("a" * 64, "b" * 64, "lung-nodule-seg@2.0.0#sha256:" + "a" * 64)
HEADER = SubgroupHeader("F", 61.0, "SIEMENS", "SOMATOM Force", "Br40", 1.0, True)


def job(n: int, files: str = "f") -> SeriesJob:
    return SeriesJob(f"1.2.3.{n}", f"1.2.9.{n}", f"cohort/s{n}", (f"/data/s{n}/1.dcm",), files * 64)


def outcome(n: int, status: OutcomeStatus = OutcomeStatus.ANALYSED, key: str = "") -> SeriesOutcome:
    findings = (FindingSummary("F1", 1.5, 14.0, 0.9, 0.8, ""),) if status is OutcomeStatus.ANALYSED else ()
    key = key or (f"{n:064d}" if status is not OutcomeStatus.FAILED else "")
    message = "Slice spacing too thick" if status is OutcomeStatus.NOT_ANALYSED else ""
    return SeriesOutcome(f"1.2.3.{n}", status, message, key, "c" * 64 if key else "", 10, HEADER, findings)


def test_lasting_results_are_done_failures_are_not(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run = store.start_run(PIN, "local", 3, 0)
        assert store.record(job(1), outcome(1), PIN, run)
        assert store.record(job(2), outcome(2, OutcomeStatus.NOT_ANALYSED), PIN, run)
        assert store.record(job(3), outcome(3, OutcomeStatus.FAILED), PIN, run)
        assert store.done_files(PIN) == {("1.2.3.1", "f" * 64), ("1.2.3.2", "f" * 64)}
        assert store.done_keys(PIN) == {"1.2.3.1": frozenset({f"{1:064d}"}), "1.2.3.2": frozenset({f"{2:064d}"})}
        other = ModelPin("d" * 64, "b" * 64, "other")
        assert store.done_files(other) == set()


def test_a_success_replaces_the_failure_and_nothing_is_stored_twice(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run = store.start_run(PIN, "local", 1, 0)
        store.record(job(1), outcome(1, OutcomeStatus.FAILED), PIN, run)
        store.record(job(1), outcome(1, OutcomeStatus.FAILED), PIN, run)  # failed again: one row
        assert [r["status"] for r in store.rows()] == ["failed"]
        assert store.record(job(1), outcome(1), PIN, run)
        assert not store.record(job(1), outcome(1), PIN, run)  # the same analysis again: refused
        assert [r["status"] for r in store.rows()] == ["analysed"]


def test_already_done_updates_the_files_fingerprint(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run = store.start_run(PIN, "local", 1, 0)
        store.record(job(1), outcome(1), PIN, run)
        moved = job(1, files="e")  # same pixels, files touched or moved
        assert not store.record(moved, outcome(1, OutcomeStatus.ALREADY_DONE, key=f"{1:064d}"), PIN, run)
        assert store.done_files(PIN) == {("1.2.3.1", "e" * 64)}
        assert len(list(store.rows())) == 1


def test_study_records_are_plain_dicts_with_subgroup_fields(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run = store.start_run(PIN, "local", 1, 0)
        store.record(job(1), outcome(1), PIN, run)
        store.finish_run(run)
        assert store.runs()[0]["finished_utc"]
    [record] = iter_study_records(tmp_path)
    json.dumps(record)  # plain values only
    assert record["status"] == "analysed" and record["finding_count"] == 1
    assert record["findings"][0]["score"] == 0.8 and record["model_ref"] == PIN.ref
    assert SubgroupHeader(**{f.name: record[f.name] for f in fields(SubgroupHeader)}) == HEADER
    assert not {"patient_name", "patient_id", "birth_date"} & set(record)


def test_a_folder_without_results_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsStoreError, match=f"holds no batch results \\({STORE_NAME}\\)"):
        list(iter_study_records(tmp_path))
