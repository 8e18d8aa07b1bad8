"""The batch task run in-process (no dask): outcome, refusal, failure, skip by pixels, export."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from batch_helpers import SEG_ONLY, jobs_under, options
from batch_studies import StudySpec, write_study

from meddiag_desktop.batch import task
from meddiag_desktop.batch.models import ModelPin
from meddiag_desktop.batch.outcome import OutcomeStatus
from meddiag_desktop.batch.task import analyse_series, export_folder


def test_analyses_a_study_and_reads_its_subgroup_headers(four_studies: Path, tmp_path: Path) -> None:
    [job] = jobs_under(four_studies / "study_001", tmp_path / "i.sqlite")
    outcome = analyse_series(job, options())
    assert outcome.status is OutcomeStatus.ANALYSED, outcome.message
    assert outcome.slices == 10 and len(outcome.pixel_sha256) == 64 and len(outcome.key) == 64
    assert outcome.findings and all(f.score is not None for f in outcome.findings)
    h = outcome.header
    assert (h.sex, h.age_years, h.manufacturer, h.model_name) == ("M", 42.0, "SIEMENS", "SOMATOM Force")
    assert h.kernel == "L" and h.slice_thickness_mm == 5.0 and h.contrast is True


def test_a_stored_key_is_not_analysed_again(
    four_studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [job] = jobs_under(four_studies / "study_002", tmp_path / "i.sqlite")
    first = analyse_series(job, options())
    monkeypatch.setattr(task, "analyze_volume", lambda *a, **k: pytest.fail("analysed twice"))
    again = analyse_series(job, options(), frozenset({first.key}))
    assert again.status is OutcomeStatus.ALREADY_DONE and again.key == first.key


def test_refused_and_broken_studies_come_back_in_words(tmp_path: Path) -> None:
    write_study(tmp_path / "in", StudySpec(7, pixel_spacing_mm=1.7))
    write_study(tmp_path / "in", StudySpec(8, broken=True))
    refused, broken = jobs_under(tmp_path / "in", tmp_path / "i.sqlite")
    outcome = analyse_series(refused, options())
    assert outcome.status is OutcomeStatus.NOT_ANALYSED
    assert "Pixel spacing 1.70 x 1.70 mm is outside the range" in outcome.message
    assert outcome.header.manufacturer == "SIEMENS"  # headers are kept for the subgroup report
    outcome = analyse_series(broken, options())
    assert outcome.status is OutcomeStatus.FAILED and outcome.key == ""
    assert outcome.message.startswith("000.dcm: "), outcome.message  # names the image, in words
    assert outcome.header.manufacturer == "GE MEDICAL SYSTEMS"  # a failure counts in its subgroup too


def test_a_worker_with_other_models_refuses_to_run(four_studies: Path, tmp_path: Path) -> None:
    [job] = jobs_under(four_studies / "study_003", tmp_path / "i.sqlite")
    wrong = replace(options(), pin=ModelPin("0" * 64, "0" * 64, "lung-nodule-seg@0.0.1#sha256:0000"))
    outcome = analyse_series(job, wrong)
    assert outcome.status is OutcomeStatus.FAILED
    assert "differ from those the batch was started with" in outcome.message


def test_export_writes_seg_and_sr_once_per_result(four_studies: Path, tmp_path: Path) -> None:
    [job] = jobs_under(four_studies / "study_004", tmp_path / "i.sqlite")
    exports = tmp_path / "exports"
    outcome = analyse_series(job, options(SEG_ONLY, exports))
    assert outcome.status is OutcomeStatus.ANALYSED and outcome.findings
    folder = export_folder(exports, job.series_instance_uid, outcome.key)
    kinds = sorted(o.kind.value for o in outcome.exported)
    assert kinds == ["SEG", "SR"] and all(Path(o.path).parent == folder for o in outcome.exported)
    # a task run again (its worker died after exporting) replaces the folder: one SEG and one SR, not two
    analyse_series(job, options(SEG_ONLY, exports))
    assert len(list(folder.iterdir())) == 2 and [p.name for p in exports.iterdir()] == [folder.name]
