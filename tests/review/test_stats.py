"""Monitoring: per model, version and month; `meddiag-desktop stats --csv`."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.config import Settings
from meddiag_desktop.review import audit
from meddiag_desktop.review.model import RejectReason
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.stats import CSV_COLUMNS, model_stats, split_model_ref
from meddiag_desktop.review.store import ReviewStore
from tests.review.helpers import ai_run, finding

ACTOR = audit.Actor("radiologist1", "Dr. Test")
SEG_V2 = "lung-nodule-seg@2.0.0#sha256:" + "ef" * 32 + "; lung-lesion-cls@1.1.0#sha256:" + "12" * 32


def _record_at(service: ReviewService, run: object, month: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(audit, "now_utc", lambda: f"{month}-15T10:00:00.000+00:00")
        service.record_run(run)  # type: ignore[arg-type]


def _populate(service: ReviewService, monkeypatch: pytest.MonkeyPatch) -> None:
    # October, model 1.0.0: accept F1, reject F2 (artefact), edit F3 (one voxel more), add R1; signed.
    _record_at(service, ai_run("run-oct"), "2026-10", monkeypatch)
    state = service.open_review("run-oct")
    state = service.accept(state, "F1")
    state = service.reject(state, "F2", RejectReason.ARTEFACT, "")
    mask = state.finding("F3").finding.mask.copy()
    mask[0, 0, 0] = True  # 8 voxels -> 9: Dice 16/17
    state = service.edit(state, replace(state.finding("F3").finding, mask=mask))
    state = service.add(state, finding("R1", offset=30, origin="radiologist"))
    service.sign_off(state, 0.0)
    # November, model 2.0.0, read first: R1 found independently (on F1), R2 missed by the AI.
    _record_at(service, replace(ai_run("run-nov"), model_ref=SEG_V2), "2026-11", monkeypatch)
    state = service.open_review("run-nov", read_first=True)
    state = service.add(state, finding("R1", offset=0, origin="radiologist"))
    state = service.add(state, finding("R2", offset=30, origin="radiologist"))
    state = service.reveal_ai(state)
    state = service.reject(state, "F2", RejectReason.NOT_A_LESION, "")
    service.reject(state, "F3", RejectReason.NOT_A_LESION, "")


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReviewService:
    store = ReviewStore(Settings().review_store_path)
    svc = ReviewService(store, ACTOR)
    _populate(svc, monkeypatch)
    yield svc  # type: ignore[misc]
    store.close()


def test_split_model_ref() -> None:
    assert split_model_ref(SEG_V2) == ("lung-nodule-seg", "2.0.0", "lung-lesion-cls 1.1.0")
    assert split_model_ref("m@1#sha256:aa") == ("m", "1", "")


def test_stats_per_model_version_and_month(service: ReviewService) -> None:
    october, november = model_stats(service)
    assert (october.model, october.version, october.month) == ("lung-nodule-seg", "1.0.0", "2026-10")
    assert (october.reviews, october.signed, october.shown) == (1, 1, 3)
    assert (october.accepted, october.edited, october.rejected, october.undecided, october.added) == (1, 1, 1, 0, 1)
    assert october.reasons == {"artefact": 1}
    assert october.acceptance_rate == pytest.approx(2 / 3) and october.rejection_rate == pytest.approx(1 / 3)
    assert october.dice_n == 2 and october.dice_mean == pytest.approx((1.0 + 16 / 17) / 2)
    assert october.read_first == 0
    assert (november.version, november.classifier, november.month) == ("2.0.0", "lung-lesion-cls 1.1.0", "2026-11")
    assert (november.rejected, november.undecided, november.added, november.signed) == (2, 1, 2, 0)
    assert november.reasons == {"not a lesion": 2}
    assert (november.read_first, november.independent, november.ai_missed, november.ai_only) == (1, 1, 1, 2)


def test_hidden_ai_findings_are_not_counted_as_shown(service: ReviewService, monkeypatch: pytest.MonkeyPatch) -> None:
    _record_at(service, replace(ai_run("run-hidden"), series_uid="1.2.3"), "2026-12", monkeypatch)
    service.open_review("run-hidden", read_first=True)
    december = next(row for row in model_stats(service) if row.month == "2026-12")
    assert (december.month, december.shown, december.read_first) == ("2026-12", 0, 1)


def test_stats_cli_prints_and_writes_csv(service: ReviewService, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    service.store.close()
    out = tmp_path / "stats.csv"
    assert main(["stats", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lung-nodule-seg 1.0.0 · 2026-10: 1 review(s), 1 signed" in printed
    assert "acceptance 67%, rejection 33% (reasons: 1 artefact)" in printed
    assert "read first: 1 review(s), 1 found independently, 1 missed by the AI, 2 found by the AI only" in printed
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["version"], r["month"], r["rejected_artefact"], r["independent_finds"]) for r in rows] == [
        ("1.0.0", "2026-10", "1", "0"), ("2.0.0", "2026-11", "0", "1"),
    ]  # fmt: skip
    assert rows[0]["dice_mean"] == f"{(1 + 16 / 17) / 2:.3f}"


def test_stats_cli_on_an_empty_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats"]) == 0
    assert "No reviews are stored yet." in capsys.readouterr().out
