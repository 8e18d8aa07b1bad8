"""Overrides of the AI input check: recorded and audited, sealed, kept with the run, in the SR and the report.

Also the review store's schema 4 (a new table only: a schema-3 store keeps every row) and the CLI's
``analyze --override-ood`` on a real gap (the bundled demo with one slice left out).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import pytest
from pydicom.dataset import Dataset

from meddiag_desktop.cli import main
from meddiag_desktop.config import Settings
from meddiag_desktop.core.ood import CheckStatus, InputCheck, OodOverride, SeriesFacts
from meddiag_desktop.core.volume import GeometryWarning, Volume, WarningKind
from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.inference import ood
from meddiag_desktop.inference.manifest import load_manifest
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.review import audit
from meddiag_desktop.review.export import export_review
from meddiag_desktop.review.ood_record import OOD_OVERRIDE_EVENT, record_override, run_input_check, run_payload
from meddiag_desktop.review.records import AiRun
from meddiag_desktop.review.report_html import write_review_report
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import SCHEMA_VERSION, STORE_UPGRADED, ReviewStore
from tests.export_helpers import MODEL_REF, DemoSeries, sphere
from tests.review.helpers import ai_run

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo" / "lung_ct_A0001"
REASON = "only series of this patient; findings checked against the prior study"
GAP = GeometryWarning(WarningKind.UNEVEN_SPACING, "Uneven slice spacing (usually 5.00 mm): 10.00 mm between slices "
                      "33 and 34.")  # fmt: skip


@pytest.fixture(scope="module")
def gapped(demo: DemoSeries) -> Volume:
    """The demo's pixels with the loader's gap warning (the SR and report copy the volume's warnings)."""
    return demo.volume.with_warnings(GAP)


@pytest.fixture(scope="module")
def check(gapped: Volume) -> InputCheck:
    manifests = [load_manifest(REPO / "models" / m) for m in ("lung-nodule-seg", "lung-lesion-cls")]
    facts = SeriesFacts(kvp=(120.0,), kernels=("L",), slice_thickness_mm=(5.0,))
    found = ood.assess(gapped, facts, manifests)
    assert found.status is CheckStatus.NEEDS_OVERRIDE
    return found


def overridden_run(service: ReviewService, demo: DemoSeries, gapped: Volume, check: InputCheck) -> InputCheck:
    """Override (recorded), then the run that carries it, opened for review."""
    cleared = record_override(service, check, demo.study_uid, "; ".join(check.models), REASON)
    v = gapped
    ai = (sphere(v, "F1", (46, 300, 150), 10.0), sphere(v, "F2", (20, 250, 350), 8.0))
    payload = {"warnings": [GAP.message], **run_payload(cleared)}
    service.record_run(AiRun("run-o", v.series_instance_uid, demo.study_uid, MODEL_REF, pixel_sha256(v), payload, ai))
    return cleared


# -- recording -------------------------------------------------------------------------------------


def test_an_override_is_its_own_sealed_fact_and_audit_entry(
    service: ReviewService, demo: DemoSeries, gapped: Volume, check: InputCheck
) -> None:
    cleared = overridden_run(service, demo, gapped, check)
    o = cleared.override
    assert o is not None and o.override_id == 1 and o.reason == REASON
    assert (o.os_user, o.display_name) == ("rita", "Rita Radiologist")
    rows = service.store.db.execute("SELECT event, details, facts FROM audit ORDER BY seq").fetchall()
    events = [r[0] for r in rows]
    assert events[-2:] == [OOD_OVERRIDE_EVENT, "ai_run"]
    details = json.loads(rows[-2][1])
    assert details["reason"] == REASON and details["issues"] == ["geometry:uneven_spacing"]
    assert json.loads(rows[-2][2])[0][:2] == ["ood_override", [1]]
    run_details = json.loads(rows[-1][1])
    assert (run_details["input_check"], run_details["ood_override"]) == ("run by override", 1)
    stored = run_input_check(service.store.db, "run-o")
    assert stored == cleared and stored.status is CheckStatus.OVERRIDDEN
    assert service.store.verify_audit().ok


@pytest.mark.parametrize(
    ("reason", "words"), [("ok", "at least 10 characters"), ("          ", "at least 10 characters")]
)
def test_an_override_needs_a_typed_reason(service: ReviewService, check: InputCheck, reason: str, words: str) -> None:
    with pytest.raises(ReviewStateError, match=words):
        record_override(service, check, "1.2.3", "", reason)
    assert service.store.db.execute("SELECT COUNT(*) FROM ood_overrides").fetchone()[0] == 0


def test_hard_issues_and_checks_in_range_cannot_be_overridden(service: ReviewService, check: InputCheck) -> None:
    refused = replace(check, issues=(*check.issues, ood.OodIssue("modality", ood.Severity.HARD, "The series is MR.")))
    with pytest.raises(ReviewStateError, match="cannot be analysed, even with a reason: The series is MR"):
        record_override(service, refused, "1.2.3", "", REASON)
    with pytest.raises(ReviewStateError, match="nothing to override"):
        record_override(service, replace(check, issues=()), "1.2.3", "", REASON)


def test_a_run_without_a_check_reads_as_not_recorded(service: ReviewService) -> None:
    service.record_run(ai_run())
    assert run_input_check(service.store.db, "run-1") is None


# -- tampering -------------------------------------------------------------------------------------


def attacker(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    return db


def test_editing_the_override_reason_is_detected(
    service: ReviewService, demo: DemoSeries, gapped: Volume, check: InputCheck
) -> None:
    overridden_run(service, demo, gapped, check)
    with closing(attacker(service.store.path)) as db:
        db.execute("UPDATE ood_overrides SET reason = 'reviewed by the consultant, all fine'")
    report = service.store.verify_audit()
    text = "\n".join(report.problems)
    assert "input-check override 1 (sealed by entry" in text and "no longer match" in text
    assert "AI run run-o and input-check override 1 disagree" in text


def test_a_run_claiming_an_unrecorded_override_is_named(service: ReviewService, check: InputCheck) -> None:
    ghost = check.with_override(OodOverride(REASON, "rita", "", "2025-01-01T00:00:00+00:00", override_id=7))
    service.record_run(replace(ai_run("run-g"), series_uid=check.series_uid, provenance=run_payload(ghost)))
    problems = service.store.verify_audit().problems
    assert problems == ("AI run run-g says it ran under input-check override 7, which is not recorded",)


def test_a_run_on_a_series_its_check_did_not_clear_is_named(service: ReviewService, check: InputCheck) -> None:
    service.record_run(replace(ai_run("run-n"), series_uid=check.series_uid, provenance=run_payload(check)))
    (problem,) = service.store.verify_audit().problems
    assert problem.startswith("AI run run-n ran on a series its input check needs an override (Uneven slice")


# -- beside each finding in the exports ------------------------------------------------------------


def _sr_items(ds: Dataset) -> Iterator[tuple[str, str]]:
    for item in ds.get("ContentSequence", []):
        name = item.ConceptNameCodeSequence[0].CodeMeaning
        if "TextValue" in item:
            yield name, str(item.TextValue)
        elif "ConceptCodeSequence" in item:
            yield name, str(item.ConceptCodeSequence[0].CodeMeaning)
        yield from ((f"{name} > {n}", v) for n, v in _sr_items(item))


def _groups(path: str) -> dict[str, list[tuple[str, str]]]:
    """Per finding ("Lesion F1"), the group's items as (concept, value)."""
    groups = {}
    for group in hd.sr.srread(path).ContentSequence[-1].ContentSequence:
        items = [(n.rsplit(" > ", 1)[-1], v) for n, v in _sr_items(group)]
        groups[next(v for n, v in items if n == "Tracking Identifier")] = items
    return groups


def test_the_sr_carries_the_override_beside_each_ai_finding_and_the_warning_beside_all(
    service: ReviewService, demo: DemoSeries, gapped: Volume, check: InputCheck, tmp_path: Path
) -> None:
    overridden_run(service, demo, gapped, check)
    state = service.accept(service.open_review("run-o"), "F1")
    state = service.add(state, sphere(gapped, "R1", (30, 200, 330), 7.0, origin="radiologist"))
    written = export_review(service, state, demo.index, gapped, tmp_path / "out")
    groups = _groups(written.objects[-1].path)
    assert set(groups) == {"Lesion F1", "Lesion F2", "Lesion R1"}
    for fid in ("Lesion F1", "Lesion F2"):
        items = dict(groups[fid])
        assert items["AI input check"] == "run by override"
        assert items["Reason the AI was run outside its validated range"].startswith(REASON + " (by Rita Radiologist")
        assert "10.00 mm between slices 33 and 34" in items["AI input check issue"]
    manual = dict(groups["Lesion R1"])
    assert "AI input check" not in manual  # drawn by the radiologist: no AI input
    assert manual["Series geometry warning"] == GAP.message  # but its volume is measured across the gap too


def test_an_sr_of_a_run_before_input_checks_says_so(service: ReviewService, demo: DemoSeries, tmp_path: Path) -> None:
    v = demo.volume
    run = AiRun("run-old", v.series_instance_uid, demo.study_uid, MODEL_REF, pixel_sha256(v), {},
                (sphere(v, "F1", (46, 300, 150), 10.0),))  # fmt: skip
    service.record_run(run)
    written = export_review(service, service.open_review("run-old"), demo.index, v, tmp_path / "out")
    assert dict(_groups(written.objects[-1].path)["Lesion F1"])["AI input check"] == "not recorded"


def test_the_report_shows_the_override_and_the_warnings(
    service: ReviewService, demo: DemoSeries, gapped: Volume, check: InputCheck, tmp_path: Path
) -> None:
    overridden_run(service, demo, gapped, check)
    state = service.open_review("run-o")
    page = write_review_report(service, state, gapped, tmp_path / "r.html", None).read_text(encoding="utf-8")
    assert "The AI run's input check: <b>run by override</b>" in page
    assert f"Reason: <b>{REASON}</b>" in page and "Rita Radiologist (rita)" in page
    assert page.count(f"run by override: {REASON}; series warnings apply") == 2  # one per AI finding
    assert "10.00 mm between slices 33 and 34" in page


# -- schema 4 --------------------------------------------------------------------------------------


def test_a_schema_3_store_gains_the_override_table_and_keeps_every_row(tmp_path: Path, check: InputCheck) -> None:
    path, actor = tmp_path / "review.sqlite", audit.Actor("radiologist1", "Dr Test")
    with ReviewStore(path) as store:
        service = ReviewService(store, actor)
        service.record_run(ai_run())
        state = service.accept(service.open_review("run-1"), "F1")
        service.sign_off(service.accept(service.accept(state, "F2"), "F3"), 0.5)
        tables = {t: store.db.execute(f"SELECT * FROM {t}").fetchall() for t in ("audit", "ai_runs", "decisions")}
    with closing(sqlite3.connect(path)) as db:  # what a schema-3 store looked like
        db.execute("DROP TABLE ood_overrides")
        db.execute("DROP TABLE measurements")  # schema 5
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
        db.commit()
    with ReviewStore(path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == SCHEMA_VERSION
        for table, rows in tables.items():
            assert store.db.execute(f"SELECT * FROM {table}").fetchall()[: len(rows)] == rows
        last = store.db.execute("SELECT event, details FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        assert last[0] == STORE_UPGRADED and json.loads(last[1]) == {"from_schema": 3, "to_schema": int(SCHEMA_VERSION)}
        assert store.verify_audit().ok
        record_override(ReviewService(store, actor), check, "1.2.3", "", REASON)
        assert store.verify_audit().ok
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.db.execute("UPDATE ood_overrides SET reason = 'x'")


# -- the command line ------------------------------------------------------------------------------


def test_cli_analyze_refuses_a_gap_unless_overridden_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "gap"
    shutil.copytree(DEMO, folder)
    sorted(folder.glob("*.dcm"))[30].unlink()
    assert main(["analyze", str(folder), "--no-classifier"]) == 2
    err = capsys.readouterr().err
    assert "10.00 mm between slices 33 and 34" in err and '--override-ood "why"' in err
    assert main(["analyze", str(folder), "--no-classifier", "--override-ood", "ok"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    out_json = tmp_path / "findings.json"
    assert main(["analyze", str(folder), "--no-classifier", "--override-ood", REASON, "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "Input check overridden (override 1, recorded in the audit log)" in printed
    assert "warning: Uneven slice spacing" in printed  # the gap is printed with the findings
    data = json.loads(out_json.read_text())
    assert data["input_check"]["status"] == "run by override" and data["input_check"]["override"]["reason"] == REASON
    assert any("10.00 mm between slices 33 and 34" in w for w in data["warnings"])
    with ReviewStore(Settings().review_store_path) as store:
        (details,) = [json.loads(r[0]) for r in store.db.execute(
            "SELECT details FROM audit WHERE event = ?", (OOD_OVERRIDE_EVENT,))]  # fmt: skip
        assert details["reason"] == REASON and store.verify_audit().ok
