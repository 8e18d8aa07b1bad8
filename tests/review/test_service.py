"""The review workflow: decisions, edits, additions, sign-off, amendment, restore, two writers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.model import Decision, RejectReason, ReviewStatus
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore
from tests.review.helpers import ai_run, finding

ACTOR = audit.Actor("radiologist1", "Dr. Test")


@pytest.fixture
def service(tmp_path: Path) -> ReviewService:
    store = ReviewStore(tmp_path / "review.sqlite")
    svc = ReviewService(store, ACTOR)
    svc.record_run(ai_run())
    yield svc  # type: ignore[misc]
    store.close()


def test_full_review_is_restored_exactly(service: ReviewService, tmp_path: Path) -> None:
    state = service.open_review("run-1")
    assert [f.decision for f in state.findings] == [Decision.PENDING] * 3
    state = service.accept(state, "F1")
    state = service.reject(state, "F2", RejectReason.ARTEFACT, "streak from a port")
    edited_mask = state.finding("F3").finding.mask.copy()
    edited_mask[0, 0, 0] = True
    state = service.edit(state, replace(state.finding("F3").finding, mask=edited_mask, volume_ml=0.05))
    state = service.add(state, finding(service.next_added_id(state), offset=20, origin="radiologist"))
    state = service.sign_off(state, threshold=0.4)

    with ReviewStore(tmp_path / "review.sqlite") as again:
        restored = ReviewService(again, ACTOR).restore(state.review_id)
    assert restored.status is ReviewStatus.SIGNED
    assert restored.signoff is not None and restored.signoff.display_name == "Dr. Test"
    assert restored.signoff.threshold == 0.4
    decisions = {f.id: (f.decision, f.reason, f.note) for f in restored.findings}
    assert decisions == {
        "F1": (Decision.ACCEPTED, None, ""),
        "F2": (Decision.REJECTED, RejectReason.ARTEFACT, "streak from a port"),
        "F3": (Decision.EDITED, None, ""),
        "R1": (Decision.ADDED, None, ""),
    }
    assert np.array_equal(restored.finding("F3").finding.mask, edited_mask)
    assert restored.finding("F3").mask_version == 1
    assert restored.finding("R1").origin == "radiologist"
    original = service.store.db.execute("SELECT mask FROM ai_findings WHERE finding_id = 'F3'").fetchone()[0]
    from meddiag_desktop.review.masks import decode_mask

    assert not decode_mask(original)[0, 0, 0]  # the AI's mask is kept unchanged


def test_sign_off_needs_every_finding_decided(service: ReviewService) -> None:
    state = service.accept(service.open_review("run-1"), "F1")
    with pytest.raises(ReviewStateError, match="2 findings are not decided yet \\(F2, F3\\)"):
        service.sign_off(state, 0.5)


def test_signed_review_is_read_only_until_amended(service: ReviewService) -> None:
    state = service.open_review("run-1")
    for fid in ("F1", "F2", "F3"):
        state = service.accept(state, fid)
    state = service.sign_off(state, 0.5)
    with pytest.raises(ReviewStateError, match="read-only"):
        service.reject(state, "F1", RejectReason.DUPLICATE)
    with pytest.raises(ReviewStateError, match="reason"):
        service.amend(state, "  ")
    state = service.amend(state, "F1 is the same nodule as F2")
    assert state.version == 2 and state.status is ReviewStatus.OPEN
    state = service.reject(state, "F1", RejectReason.DUPLICATE)
    assert service.sign_off(state, 0.5).version == 2
    signed = service.store.db.execute("SELECT version FROM review_versions WHERE signed_utc IS NOT NULL").fetchall()
    assert [v for (v,) in signed] == [1, 2]


def test_reject_other_needs_free_text(service: ReviewService) -> None:
    with pytest.raises(ReviewStateError, match="say why"):
        service.reject(service.open_review("run-1"), "F1", RejectReason.OTHER, "")


def test_every_action_is_audited_with_model_and_uids(service: ReviewService) -> None:
    state = service.open_review("run-1")
    service.record_event(state, "finding_shown", "F1")
    service.accept(state, "F1")
    events = [r[0] for r in service.store.db.execute("SELECT event FROM audit ORDER BY seq")]
    assert events == ["store_created", "ai_run", "review_opened", "finding_shown", "finding_accepted"]
    model_ref = service.store.db.execute("SELECT model_ref FROM audit WHERE event = 'ai_run'").fetchone()[0]
    assert model_ref.startswith("lung-nodule-seg@1.0.0#sha256:")
    assert service.store.verify_audit().ok


def test_two_instances_on_one_store(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    with ReviewStore(path) as first_store, ReviewStore(path) as second_store:
        first, second = ReviewService(first_store, ACTOR), ReviewService(second_store, audit.Actor("radiologist2"))
        first.record_run(ai_run())
        state_a = first.open_review("run-1")
        state_b = second.open_review("run-1")
        state_a = first.accept(state_a, "F1")
        state_b = second.reject(state_b, "F2", RejectReason.KNOWN_BENIGN)
        state_a = first.accept(state_a, "F3")
        first.sign_off(state_a, 0.5)
        with pytest.raises(ReviewStateError, match="signed off"):
            second.accept(state_b, "F3")  # stale in-memory state: the store's truth wins
        assert first_store.verify_audit().ok
        assert first.restore(state_a.review_id).finding("F2").decision is Decision.REJECTED


def test_run_maps_are_kept_for_display(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    probability = rng.random((4, 8, 8)).astype(np.float16)
    with ReviewStore(tmp_path / "maps.sqlite") as store:
        service = ReviewService(store, ACTOR)
        service.record_run(replace(ai_run("run-maps"), maps={"probability": probability}))
        maps = service.run_maps("run-maps")
    assert set(maps) == {"probability"}
    assert np.abs(maps["probability"] - probability.astype(np.float32)).max() <= 1 / 510 + 1e-3
