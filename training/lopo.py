"""Leave-one-patient-out evaluation on the four real patients, through the app's own pipeline.

For each patient a model is trained on the other three, exported to ONNX and installed as a
user model in a folder of its own; ``meddiag_desktop.validation`` then runs it on the held-out
patient, natively and with slices averaged to about 8 mm, exactly as ``meddiag-desktop
validate`` would. Every figure about a patient therefore comes from a model that never saw it.
Each fold is cached in the work folder, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import torch

from meddiag_desktop.core.progress import no_progress
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.validation.cases import VariantPlan, discover_cases
from meddiag_desktop.validation.output import write_report
from meddiag_desktop.validation.runner import RegistryAnalyser, validate_cases
from training import fold_record, real_data
from training.package import _git_commit

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from torch.nn import Module

    from meddiag_desktop.validation.results import ValidationReport
    from meddiag_desktop.validation.runner import Analyser

log = logging.getLogger(__name__)

THICK_MM = (8.0,)
LOPO_PLAN = VariantPlan(thicknesses=THICK_MM)


def patient_folder(name: str) -> Path:
    folder = real_data.series_folder(name)
    return folder if name == real_data.A0001 else folder.parent  # the NSCLC folder holds ct/ and rtstruct.dcm


def validate_with(
    names: tuple[str, ...], analyser: Analyser, out: Path, index_path: Path, plan: VariantPlan = LOPO_PLAN
) -> ValidationReport:
    """Run the validation library on the named real patients (native and ``plan``'s variants) and write the report."""
    with SeriesIndex(index_path) as index:
        found = discover_cases(
            [patient_folder(n) for n in names], index,
            annotations=real_data.CORPUS / "lung_pet_ct_dx" / "annotations" / "A0001", variants=plan,
        )  # fmt: skip
    report = validate_cases(found.cases, analyser, out, progress=no_progress, notes=found.notes)
    write_report(report, out)
    return report


def run_folds(
    work: Path,
    cfg: dict[str, Any],
    train_fold: Callable[[tuple[str, ...], str], Module],
    install: Callable[[Module, Path, str], None],
    new_model: Callable[[], Module],
    only: tuple[str, ...] = real_data.PATIENTS,
) -> dict[str, Any]:
    """Validate each fold on its held-out patient: from the fold record when this configuration
    has one (``training.fold_record``), else by training, installing and running its model, then
    recording it.

    ``only`` restricts the run to some folds, so that folds can run in separate processes or
    sessions; each fold keeps its own index and summary, and ``lopo_summary.json`` gathers the
    finished ones.
    """
    for held in only:
        fold = work / "lopo" / held
        fold.mkdir(parents=True, exist_ok=True)
        recorded = fold_record.restore(fold, cfg)
        if recorded is not None:
            analyser = fold_record.RecordedAnalyser(recorded)
            report = validate_with((held,), analyser, fold / "validation", fold / "index.sqlite")
        else:
            report = _train_and_validate(fold, cfg, train_fold, install, new_model)
            fold_record.save(fold, cfg)
        cases = [c.to_dict() for c in report.cases]
        (fold / "summary.json").write_text(json.dumps(cases, indent=2))
        log.info("fold %s: %s", held, json.dumps(cases)[:400])
    return gather_summary(work)


def _train_and_validate(
    fold: Path,
    cfg: dict[str, Any],
    train_fold: Callable[[tuple[str, ...], str], Module],
    install: Callable[[Module, Path, str], None],
    new_model: Callable[[], Module],
) -> ValidationReport:
    held, weights, model_id = fold.name, fold / "seg.pt", f"lopo-{fold.name.lower()}"
    if not weights.exists():
        t0, commit = time.time(), _git_commit()  # the code that trains it, read before it can change
        model = train_fold(tuple(p for p in real_data.PATIENTS if p != held), held)
        torch.save(model.state_dict(), weights)
        (fold / "train_seconds.txt").write_text(f"{time.time() - t0:.0f}\n")
        (fold / "train_commit.txt").write_text(commit)
    if not (fold / "models" / model_id / "manifest.json").exists():
        model = new_model()
        model.load_state_dict(torch.load(weights, weights_only=True))
        install(model.eval(), fold / "models", model_id)
    t0 = time.time()
    registry = ModelRegistry(real_data.REPO / "models", fold / "models")
    analyser = RegistryAnalyser(registry, model_id, threads=torch.get_num_threads())
    report = validate_with((held,), analyser, fold / "validation", fold / "index.sqlite")
    (fold / "validate_seconds.txt").write_text(f"{time.time() - t0:.0f}\n")
    seconds = {step: float((fold / f"{step}_seconds.txt").read_text()) for step in ("train", "validate")}
    trained = fold / "train_commit.txt"
    commit = trained.read_text() if trained.exists() else "unknown (trained before commits were recorded)"
    fold_record.write_fold(fold, analyser.model, seconds, cfg, commit)
    return report


def gather_summary(work: Path) -> dict[str, Any]:
    """The validation cases of every finished fold, by held-out patient; written to ``lopo_summary.json``."""
    summary = {
        held: json.loads((work / "lopo" / held / "summary.json").read_text())
        for held in real_data.PATIENTS
        if (work / "lopo" / held / "summary.json").exists()
    }
    (work / "lopo_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def fold_seconds(work: Path) -> dict[str, float]:
    """Training plus validation time of each finished fold (folds may have run in parallel)."""
    out = {}
    for held in real_data.PATIENTS:
        files = [work / "lopo" / held / f"{step}_seconds.txt" for step in ("train", "validate")]
        if all(f.exists() for f in files):
            out[f"lopo {held}"] = float(sum(float(f.read_text()) for f in files))
    return out


def missing_folds(summary: dict[str, Any]) -> list[str]:
    return [p for p in real_data.PATIENTS if p not in summary]
