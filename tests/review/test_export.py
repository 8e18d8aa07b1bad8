"""A stored review -> export records -> SEG + SR, each export one audit entry."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import highdicom as hd
from pydicom.valuerep import DT

from meddiag_desktop.core.export_model import AlgorithmKind, ExportDecision, ObjectKind
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.review.export import export_review, parse_model_ref, request_from_review
from meddiag_desktop.review.model import RejectReason, ReviewState
from meddiag_desktop.review.records import AiRun
from meddiag_desktop.review.service import ReviewService
from tests.export_helpers import MODEL_REF, DemoSeries, sphere


def _reviewed(service: ReviewService, demo: DemoSeries) -> ReviewState:
    v = demo.volume
    ai = (sphere(v, "F1", (46, 300, 150), 10.0), sphere(v, "F2", (20, 250, 350), 8.0),
          sphere(v, "F3", (35, 180, 200), 5.0), sphere(v, "F4", (25, 220, 300), 5.0))  # fmt: skip
    run = AiRun("run-x", v.series_instance_uid, demo.study_uid, MODEL_REF, pixel_sha256(v), {}, ai)
    service.record_run(run)
    state = service.open_review("run-x")
    state = service.accept(state, "F1")
    state = service.edit(state, sphere(v, "F2", (20, 250, 350), 6.0))
    state = service.add(state, sphere(v, "R1", (30, 200, 330), 7.0, origin="radiologist"))
    return service.reject(state, "F3", RejectReason.OTHER, "calcified granuloma")  # F4 stays pending


def test_review_decisions_map_to_export_decisions_and_algorithm_kinds(service: ReviewService, demo: DemoSeries) -> None:
    request = request_from_review(_reviewed(service, demo), MODEL_REF, "Rita Radiologist")
    by_id = {f.id: f for f in request.findings}
    assert {k: (f.decision, f.algorithm) for k, f in by_id.items()} == {
        "F1": (ExportDecision.ACCEPTED, AlgorithmKind.AUTOMATIC),
        "F2": (ExportDecision.EDITED, AlgorithmKind.SEMIAUTOMATIC),
        "F3": (ExportDecision.REJECTED, AlgorithmKind.AUTOMATIC),
        "F4": (ExportDecision.NOT_REVIEWED, AlgorithmKind.AUTOMATIC),
        "R1": (ExportDecision.ADDED, AlgorithmKind.MANUAL),
    }
    assert (by_id["F3"].reject_reason, by_id["F3"].note) == ("other", "calcified granuloma")
    assert by_id["F2"].mask_version == 1
    assert by_id["F1"].model == parse_model_ref(MODEL_REF)[0] and by_id["F1"].model.version == "2.1.0"
    assert by_id["R1"].model is None
    assert [f.id for f in request.lesions] == ["F1", "F2", "F4", "R1"]
    assert not request.context.verified and request.context.reviewer == "Rita Radiologist"


def _audit_exports(service: ReviewService) -> list[dict[str, object]]:
    rows = service.store.db.execute(
        "SELECT details, model_ref FROM audit WHERE event = 'results_exported' ORDER BY seq"
    )
    return [{**json.loads(details), "model_ref": ref} for details, ref in rows]


def test_export_before_and_after_signoff_is_audited(service: ReviewService, demo: DemoSeries, tmp_path: Path) -> None:
    state = _reviewed(service, demo)
    before = export_review(service, state, demo.index, demo.volume, tmp_path / "out")
    assert hd.sr.srread(before.of_kind(ObjectKind.SR).path).VerificationFlag == "UNVERIFIED"
    state = service.accept(state, "F4")
    signed = service.sign_off(state, threshold=0.5)
    after = export_review(service, signed, demo.index, demo.volume, tmp_path / "out")
    sr = hd.sr.srread(after.of_kind(ObjectKind.SR).path)
    assert sr.VerificationFlag == "VERIFIED"
    observer = sr.VerifyingObserverSequence[0]
    assert str(observer.VerifyingObserverName) == "Rita Radiologist^"
    assert DT(observer.VerificationDateTime) == datetime.fromisoformat(signed.signoff.time_utc)
    entries = _audit_exports(service)
    assert [(e["source"], e["verified"], e["lesions"], e["findings"]) for e in entries] == [
        ("review 1 v1", False, 4, 5), ("review 1 v1", True, 4, 5)
    ]  # fmt: skip
    assert entries[1]["files"] == [
        {"kind": o.kind.value, "file": Path(o.path).name, "sop_instance_uid": o.sop_instance_uid} for o in after.objects
    ]
    assert str(tmp_path) not in json.dumps(entries)  # folder names may hold patient names: never logged
    assert entries[0]["model_ref"] == MODEL_REF
    assert service.store.verify_audit().ok
