"""The class of an edited mask, recomputed with the run's own classifier: stored, audited, undone, exported; schema 7.

Real fixture models (tiny ONNX graphs) on the synthetic chest: the run is a real analysis.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest

from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.inference import classify
from meddiag_desktop.inference.analyze import analyze_volume
from meddiag_desktop.inference.findings import measure
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.export_common import AI_CLASS_PROBABILITY, private_code
from meddiag_desktop.io.export_sr import evaluations, measurements
from meddiag_desktop.review import audit
from meddiag_desktop.review.export import request_from_review
from meddiag_desktop.review.history import HistoryKind
from meddiag_desktop.review.model import ClassStatus, Decision
from meddiag_desktop.review.reclassify import (
    CLASS_NOT_RECOMPUTED,
    CLASS_RECOMPUTED,
    ClassResult,
    classifier_ref,
    recompute_class,
    record_class,
)
from meddiag_desktop.review.records import AiRun, model_ref
from meddiag_desktop.review.report_html import class_words
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import SCHEMA_VERSION, STORE_UPGRADED, ReviewStore
from tests.inference.inference_fixtures import chest_volume, write_model

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume

ACTOR = audit.Actor("radiologist1", "Dr Test")
SEG, CLS = "lung-nodule-seg", "lung-lesion-cls"


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    write_model(root, SEG, "segmentation")
    write_model(root, CLS, "classification")
    return root


@pytest.fixture
def volume() -> Volume:
    return chest_volume()


@pytest.fixture
def run(models: Path, volume: Volume) -> AiRun:
    result = analyze_volume(volume, ModelRegistry(models), seg_model_id=SEG, cls_model_id=CLS, threads=1)
    assert result.findings and result.findings[0].top_class
    return AiRun("run-1", volume.series_instance_uid, "1.2.3", model_ref(result), "ab" * 32, {}, result.findings)


@pytest.fixture
def service(tmp_path: Path, run: AiRun) -> Iterator[ReviewService]:
    with _store(tmp_path) as store:
        service = ReviewService(store, ACTOR)
        service.record_run(run)
        yield service


def _store(tmp_path: Path) -> ReviewStore:
    return ReviewStore(tmp_path / "data" / "review.sqlite", tmp_path / "config")


def _edited(original: Finding, volume: Volume, grow: int) -> Finding:
    """What the edit controller stores: the mask grown towards +x by ``grow`` voxels, measured again, no class."""
    full = original.full_mask(volume.shape)
    for _ in range(grow):
        full[:, :, 1:] |= full[:, :, :-1]
    z, y, x = (np.flatnonzero(full.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1)))
    box = tuple(slice(int(a[0]), int(a[-1]) + 1) for a in (z, y, x))
    measured = measure(original.id, full[box], box, volume, np.zeros(volume.shape, dtype=np.float32))
    return replace(measured, label=original.label, origin=original.origin)


def _last_entry(service: ReviewService) -> tuple[str, str, str, dict[str, object]]:
    event, fid, ref, details = service.store.db.execute(
        "SELECT event, finding_id, model_ref, details FROM audit ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return event, fid, ref, json.loads(details)


def _direct(models: Path, volume: Volume, finding: Finding) -> dict[str, float]:
    session = ModelRegistry(models).session(CLS)
    crop, _ = classify.crop_for(volume, finding, session.manifest)
    probs = classify.predict(session, crop[None])[0]
    return dict(zip(session.manifest.class_names, map(float, probs), strict=True))


# -- computing ------------------------------------------------------------------------------------


def test_the_run_classifier_recomputes_the_class_on_the_edited_mask(models: Path, volume: Volume,
                                                                    run: AiRun) -> None:  # fmt: skip
    edited = _edited(run.findings[0], volume, 6)
    assert edited.centroid_lps != run.findings[0].centroid_lps and not edited.class_probabilities
    result = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    assert result.model_ref == classifier_ref(run.model_ref) and result.model_ref.startswith(f"{CLS}@0.0.1#sha256:")
    assert result.probabilities == pytest.approx(_direct(models, volume, edited))
    assert result.probabilities != pytest.approx(run.findings[0].class_probabilities)  # the crop moved with it
    assert not result.why


def test_a_changed_or_removed_classifier_is_not_used_and_says_why(models: Path, volume: Volume, run: AiRun) -> None:
    edited = _edited(run.findings[0], volume, 6)
    changed = json.loads((models / CLS / "manifest.json").read_text())
    changed["version"] = "0.0.2"
    write_model(models, CLS, "classification", changed)  # same graph, another version
    result = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    assert not result.probabilities and result.model_ref == classifier_ref(run.model_ref)
    assert "not the run's version 0.0.1" in result.why and CLS in result.why

    (models / CLS / "manifest.json").unlink()
    gone = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    assert not gone.probabilities and f"No model with id '{CLS}' is installed" in gone.why

    seg_only = recompute_class(ModelRegistry(models), volume, edited, run.model_ref.split(";")[0])
    assert not seg_only.probabilities and "had no classifier" in seg_only.why


def test_a_classifier_file_swapped_under_the_same_manifest_is_refused(models: Path, volume: Volume,
                                                                     run: AiRun) -> None:  # fmt: skip
    edited = _edited(run.findings[0], volume, 6)
    (models / CLS / "model.onnx").write_bytes((models / CLS / "model.onnx").read_bytes() + b"\0")
    result = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    assert not result.probabilities and "sha256" in result.why and "refused" in result.why


# -- storing, restoring, undo ---------------------------------------------------------------------


def test_the_recomputed_class_is_stored_with_the_edit_audited_and_restored(tmp_path: Path, models: Path,
                                                                          volume: Volume, run: AiRun,
                                                                          service: ReviewService) -> None:  # fmt: skip
    state = service.open_review("run-1")
    original = state.finding("F1")
    edited = _edited(original.finding, volume, 6)
    state = service.edit(state, edited)
    assert state.finding("F1").recomputed_class is None and not state.finding("F1").finding.top_class
    result = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    state = record_class(service, state.review_id, result)

    item = state.finding("F1")
    assert item.decision is Decision.EDITED and item.mask_version == 1
    assert item.finding.class_probabilities == pytest.approx(result.probabilities)
    note = item.recomputed_class
    assert note is not None and note.status is ClassStatus.RECOMPUTED and note.mask_version == 1
    assert note.model_ref == result.model_ref
    event, fid, ref, details = _last_entry(service)
    assert (event, fid, ref) == (CLASS_RECOMPUTED, "F1", result.model_ref)
    assert details["mask_version"] == 1 and details["classifier"] == result.model_ref
    assert details["explanation"] == "not recomputed" and details["class"] == item.finding.top_class
    assert service.store.verify_audit().ok

    service.store.close()
    with _store(tmp_path) as reopened:  # a restart
        again = ReviewService(reopened, ACTOR).restore(state.review_id).finding("F1")
        assert again.recomputed_class == note
        assert again.finding.class_probabilities == item.finding.class_probabilities


def test_undo_of_the_edit_brings_back_the_previous_class(models: Path, volume: Volume, run: AiRun,
                                                         service: ReviewService) -> None:  # fmt: skip
    registry = ModelRegistry(models)
    state = service.open_review("run-1")
    ai_class = state.finding("F1").finding.class_probabilities
    first = _edited(state.finding("F1").finding, volume, 4)
    state = service.edit(state, first)
    state = record_class(service, state.review_id, recompute_class(registry, volume, first, run.model_ref))
    first_class = state.finding("F1").finding.class_probabilities
    second = _edited(state.finding("F1").finding, volume, 8)
    state = service.edit(state, second)
    state = record_class(service, state.review_id, recompute_class(registry, volume, second, run.model_ref))
    assert state.finding("F1").mask_version == 2
    assert state.finding("F1").finding.class_probabilities != pytest.approx(first_class)

    state = service.undo_last(state)  # back to mask v1 and its class
    item = state.finding("F1")
    assert item.mask_version == 1 and item.finding.class_probabilities == pytest.approx(first_class)
    assert item.recomputed_class is not None and item.recomputed_class.mask_version == 1
    state = service.undo_last(state)  # back to the AI's own mask and class
    item = state.finding("F1")
    assert item.mask_version == 0 and item.recomputed_class is None and item.finding.class_probabilities == ai_class
    assert service.store.verify_audit().ok


def test_a_class_arriving_after_its_edit_was_undone_is_not_kept(models: Path, volume: Volume, run: AiRun,
                                                                service: ReviewService) -> None:  # fmt: skip
    state = service.open_review("run-1")
    edited = _edited(state.finding("F1").finding, volume, 6)
    state = service.undo_last(service.edit(state, edited))
    late = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    state = record_class(service, state.review_id, late)
    assert state.finding("F1").recomputed_class is None and state.finding("F1").mask_version == 0
    assert service.store.db.execute("SELECT COUNT(*) FROM reclassifications").fetchone()[0] == 0


def test_not_recomputed_is_stored_with_why_and_a_signed_review_refuses_a_late_class(
    volume: Volume, run: AiRun, service: ReviewService
) -> None:
    state = service.open_review("run-1")
    edited = _edited(state.finding("F1").finding, volume, 6)
    state = service.edit(state, edited)
    why = "Not recomputed with the run's classifier: it is not installed any more."
    state = record_class(service, state.review_id, ClassResult(edited, {}, classifier_ref(run.model_ref), why))
    note = state.finding("F1").recomputed_class
    assert note is not None and note.status is ClassStatus.NOT_RECOMPUTED and note.why == why
    assert not state.finding("F1").finding.top_class
    event, _, _, details = _last_entry(service)
    assert event == CLASS_NOT_RECOMPUTED and details["why"] == why

    again = _edited(state.finding("F1").finding, volume, 8)
    state = service.edit(state, again)
    for other in state.findings:
        if not other.decision.decided:
            state = service.accept(state, other.id)
    service.sign_off(state, 0.5)
    with pytest.raises(ReviewStateError, match="signed off meanwhile"):
        record_class(service, state.review_id, ClassResult(again, {"solid": 1.0}, "x@1#sha256:00"))


def test_tampering_with_a_recomputed_class_is_named_by_verify(models: Path, volume: Volume, run: AiRun,
                                                              service: ReviewService) -> None:  # fmt: skip
    state = service.open_review("run-1")
    edited = _edited(state.finding("F1").finding, volume, 6)
    state = service.edit(state, edited)
    record_class(service, state.review_id, recompute_class(ModelRegistry(models), volume, edited, run.model_ref))
    assert service.store.verify_audit().ok
    db = service.store.db
    db.execute("DROP TRIGGER reclassifications_no_update")
    db.execute("""UPDATE reclassifications SET class_probabilities = '{"solid": 0.01, "subsolid": 0.99}'""")
    report = service.store.verify_audit()
    assert not report.ok and "class recomputation 1" in report.reason


def test_exports_of_an_edited_finding_use_the_recomputed_class(models: Path, volume: Volume, run: AiRun,
                                                               service: ReviewService) -> None:  # fmt: skip
    state = service.open_review("run-1")
    edited = _edited(state.finding("F1").finding, volume, 6)
    state = service.edit(state, edited)
    result = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    state = record_class(service, state.review_id, result)
    exported = next(f for f in request_from_review(state, run.model_ref, "Dr Test").findings if f.finding.id == "F1")
    assert exported.finding.class_probabilities == pytest.approx(result.probabilities)
    assert exported.classifier is not None and exported.classifier.id == CLS
    assert result.model_ref.endswith(exported.classifier.sha256)
    top = max(result.probabilities, key=lambda name: result.probabilities[name])
    values = [item.value for item in evaluations(exported)]  # the SR's content items
    assert private_code("CLS", top) in values
    probability = next(m for m in measurements(exported) if m.name == AI_CLASS_PROBABILITY)
    assert float(probability.value) == pytest.approx(result.probabilities[top], abs=1e-4)


# -- schema 7 -------------------------------------------------------------------------------------


def test_a_schema_6_store_gains_the_reclassification_table_and_keeps_every_row(tmp_path: Path, run: AiRun) -> None:
    path = tmp_path / "data" / "review.sqlite"
    with _store(tmp_path) as store:
        service = ReviewService(store, ACTOR)
        service.record_run(run)
        service.accept(service.open_review("run-1"), "F1")
        tables = ("audit", "ai_runs", "ai_findings", "decisions", "reviews", "undos")
        before = {t: store.db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    with closing(sqlite3.connect(path)) as db:  # what a schema-6 store looked like
        db.execute("DROP TABLE reclassifications")
        db.execute("UPDATE meta SET value = '6' WHERE key = 'schema'")
        db.commit()
    with _store(tmp_path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == SCHEMA_VERSION == "7"
        for table, rows in before.items():
            assert store.db.execute(f"SELECT * FROM {table}").fetchall()[: len(rows)] == rows
        last = store.db.execute("SELECT event, details FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        assert last[0] == STORE_UPGRADED and json.loads(last[1]) == {"from_schema": 6, "to_schema": 7}
        assert store.db.execute("SELECT COUNT(*) FROM reclassifications").fetchone()[0] == 0
        assert store.verify_audit().ok


def test_the_report_names_the_recomputed_class_of_an_edited_finding(models: Path, volume: Volume, run: AiRun,
                                                                   service: ReviewService) -> None:  # fmt: skip
    state = service.open_review("run-1")
    edited = _edited(state.finding("F1").finding, volume, 6)
    state = service.edit(state, edited)
    assert class_words(state.finding("F1")) == "not recomputed after edit"
    state = record_class(
        service, state.review_id, recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    )
    item = state.finding("F1")
    top = item.finding.top_class
    assert class_words(item) == f"{top} ({item.finding.class_probabilities[top]:.0%}), recomputed after edit"


def test_the_history_lists_the_recomputed_class_after_its_edit(models: Path, volume: Volume, run: AiRun,
                                                              service: ReviewService) -> None:  # fmt: skip
    state = service.open_review("run-1")
    edited = _edited(state.finding("F1").finding, volume, 6)
    state = service.edit(state, edited)
    result = recompute_class(ModelRegistry(models), volume, edited, run.model_ref)
    top = record_class(service, state.review_id, result).finding("F1").finding.top_class
    kinds = [(item.kind, item.what) for item in service.history(state.review_id)]
    edit_at = kinds.index((HistoryKind.MASK, "F1 mask version 1 saved"))
    p = result.probabilities[top]
    assert kinds.index((HistoryKind.CLASS, f"F1 class {top} {p:.2f}, recomputed (mask version 1)")) > edit_at
