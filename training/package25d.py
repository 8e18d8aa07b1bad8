"""Evaluation and packaging stages: metrics from every source, then models/ with cards."""

from __future__ import annotations

import json
import logging
import shutil
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from meddiag_desktop.inference.findings import component_boxes, components, measure
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.validation.results import ModelInfo
from meddiag_desktop.validation.runner import FunctionAnalyser
from training import build_record, build_steps, cards25d, lopo, manifests, real_data

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume

log = logging.getLogger(__name__)


def baseline_findings(volume: Volume) -> list[Finding]:
    """The classical detector (lung mask + soft-tissue components) as findings, for validation."""
    from training.evaluate import baseline_masks

    mask = baseline_masks(volume)
    labels, count = components(mask)
    out = []
    for label, box in enumerate(component_boxes(labels, count), start=1):
        crop = labels[box] == label
        out.append(measure(f"B{label}", crop, box, volume, np.ones(volume.shape, dtype=np.float32)))
        if len(out) >= 50:
            break
    return out


def _baseline_on_real(work: Path) -> list[dict[str, Any]]:
    analyser = FunctionAnalyser(baseline_findings, ModelInfo("classical-baseline", "1", "0" * 64))
    out = work / "baseline_validation"
    report = lopo.validate_with(real_data.PATIENTS, analyser, out, work / "lopo_index.sqlite")
    return [c.to_dict() for c in report.cases]


def _shipped_postprocess(work: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    path = work / "candidate_score.json"
    if not path.exists():
        return build_steps.postprocess_for(cfg)
    return build_steps.postprocess_with(cfg, json.loads(path.read_text())["final"])


def _package(work: Path, cfg: dict[str, Any], metrics: dict[str, Any]) -> None:
    trained, packaged = build_record.trained_commits(work), build_steps.git_commit()
    seg_m = manifests.seg_manifest(
        manifests.SEG_ID, threshold=build_steps.THRESHOLD, slice_range_mm=manifests.SLICE_RANGE_MM,
        metrics=metrics.get("seg", {}), postprocess=_shipped_postprocess(work, cfg),
        limitations=cards25d.seg_limitations(metrics),
        git_commit={"git_commit": trained[manifests.SEG_ID], "packaged_commit": packaged},
    )  # fmt: skip
    cls_info = json.loads((work / "cls_info.json").read_text())
    cls_m = manifests.cls_manifest(
        temperature=float(cls_info["temperature"]), metrics=metrics.get("cls", {}),
        limitations=cards25d.cls_limitations(),
        git_commit={"git_commit": trained[manifests.CLS_ID], "packaged_commit": packaged},
    )  # fmt: skip
    for manifest, onnx_name, card in (
        (seg_m, "seg.onnx", cards25d.seg_card(seg_m, metrics, cfg)),
        (cls_m, "cls.onnx", cards25d.cls_card(cls_m, metrics, cfg)),
    ):
        target = build_steps.MODELS / manifest["id"]
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copyfile(work / onnx_name, target / "model.onnx")
        build_steps.write_folder(target, manifest, card)
    log.info("models written to %s", build_steps.MODELS)


def stage_evaluate(work: Path, cfg: dict[str, Any]) -> None:
    from training.evaluate import evaluate_synthetic

    metrics: dict[str, Any] = {"seg": {}, "cls": {}}
    _package(work, cfg, metrics)  # so the registry can load the new models
    registry = ModelRegistry(build_steps.MODELS)
    threads = torch.get_num_threads()
    scored = work / "lopo_summary_scored.json"
    summary = json.loads(scored.read_text()) if scored.exists() else lopo.gather_summary(work)
    metrics["seg"]["real_leave_one_patient_out"] = cards25d.lopo_rows(summary)
    metrics["seg"]["lopo_folds_missing"] = lopo.missing_folds(summary)
    # The coarse pass of the fold manifests (build_steps.postprocess_for) and of the synthetic run below
    metrics["seg"]["evaluated_coarse_zoom"] = cfg.get("coarse_zoom")
    fitted = work / "candidate_score.json"
    metrics["seg"]["lopo_candidate_score"] = json.loads(fitted.read_text())["patients"] if scored.exists() else []
    metrics["seg"]["real_classical_baseline"] = cards25d.lopo_rows({"all": _baseline_on_real(work)})
    metrics["seg"]["heldout_synthetic"] = evaluate_synthetic(registry, threads, build_steps.THRESHOLD, 12, 4)
    metrics["cls"] = json.loads((work / "cls_info.json").read_text())
    metrics["export"] = json.loads((work / "export_check.json").read_text())
    metrics["stage_seconds"] = {**json.loads((work / "stage_seconds.json").read_text()), **lopo.fold_seconds(work)}
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _package(work, cfg, metrics)
    build_record.write(work, cfg)


def stage_sampling(work: Path, cfg: dict[str, Any]) -> None:
    """The packaged segmenter on the real patients resliced and with coarser pixels; the rows go into its card."""
    from training import sampling_check

    cfg = build_record.trained_config(work, cfg)
    metrics = json.loads((work / "metrics.json").read_text())
    metrics.setdefault("seg", {})["sampling_check"] = sampling_check.check_shipped(work)
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _package(work, cfg, metrics)
    build_record.write(work, cfg)


def stage_package(work: Path, cfg: dict[str, Any]) -> None:
    """models/ from the work folder (of a build, or seeded by ``restore``), then the build record."""
    cfg = build_record.trained_config(work, cfg)
    metrics = json.loads((work / "metrics.json").read_text()) if (work / "metrics.json").exists() else {}
    _package(work, cfg, metrics)
    build_record.write(work, cfg)
