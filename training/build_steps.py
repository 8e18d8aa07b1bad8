"""The stages of ``training.build_models`` (see its docstring)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import torch

from training import build_record, cls_real, fold_record, lopo, manifests, real_data, seg25d
from training.export25d import export_segmenter
from training.net25d import Ensemble, UNet2D

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import numpy as np

log = logging.getLogger(__name__)

ROOT = real_data.REPO
MODELS = ROOT / "models"
POSTPROCESS = {
    "lung_mask": True,
    "lung_margin_mm": 5.0,
    "min_fraction_in_lung_region": 0.5,
    "min_volume_ml": 0.2,
    # Hysteresis: on real tumours the networks are sure of a part and half-sure of the rest
    # (leave-one-patient-out, the LUNG1-003 tumour's Dice went from 0.14 to 0.35 with it).
    "extent_threshold": 0.2,
}


def postprocess_for(cfg: dict[str, Any]) -> dict[str, Any]:
    """POSTPROCESS, plus the recipe's post-processing settings (e.g. ``coarse_zoom``) that it sets."""
    return {**POSTPROCESS, **{k: cfg[k] for k in build_record.POSTPROCESS_KEYS if cfg.get(k) is not None}}


def fold_postprocess(cfg: dict[str, Any]) -> dict[str, Any]:
    """A leave-one-patient-out fold model's post-processing: the recipe's, less what is replayed on its findings."""
    return {k: v for k, v in postprocess_for(cfg).items() if k not in fold_record.REPLAYED_KEYS}


THRESHOLD = 0.4  # on the mean of the ensemble: keeps what one member is sure of and the other half-sees


def _cases(work: Path, cfg: dict[str, Any], names: tuple[str, ...]) -> list[real_data.GridCase]:
    spacing = tuple(cfg["spacing_mm"])
    return real_data.grid_cases(names, (spacing[0], spacing[1], spacing[2]), work, tuple(cfg["thick_training_mm"]))


def stage_cache(work: Path, cfg: dict[str, Any]) -> None:
    for case in _cases(work, cfg, real_data.PATIENTS):
        log.info("%s %s: %s, lesion %d voxels", case.name, case.variant, case.hu.shape, int(case.lesion.sum()))


def _train_segmenter(work: Path, cfg: dict[str, Any], names: tuple[str, ...], seed: int) -> Ensemble:
    """``seg_members`` U-Nets from consecutive seeds on the named patients, averaged."""
    cases = _cases(work, cfg, names)
    sampler = seg25d.SamplerConfig(
        p_paste=float(cfg.get("seg_paste_real", 0.0)), p_central=float(cfg.get("seg_central_masses", 0.0))
    )
    members = [
        seg25d.train(cases, cfg["seg_steps"], cfg["seg_batch"], seed + i, base=cfg["seg_base_width"], cfg=sampler)
        for i in range(cfg["seg_members"])
    ]
    return Ensemble(members)


def new_segmenter(cfg: dict[str, Any]) -> Ensemble:
    """An untrained segmenter of the configured shape (to load saved weights into)."""
    return Ensemble([UNet2D(base=cfg["seg_base_width"]) for _ in range(cfg["seg_members"])])


def _sample_hu(work: Path, cfg: dict[str, Any]) -> np.ndarray:
    return _cases(work, cfg, (real_data.NSCLC[0],))[0].hu


def install_segmenter(
    model: Ensemble, folder: Path, model_id: str, sample_hu: np.ndarray, card: str, postprocess: dict[str, Any]
) -> dict[str, Any]:
    """Export ``model`` into ``folder/model_id`` with a manifest the app's registry accepts."""
    target = folder / model_id
    target.mkdir(parents=True, exist_ok=True)
    check = export_segmenter(model, target / "model.onnx", sample_hu)
    write_fold_manifest(target, postprocess, card)
    return check


def write_fold_manifest(target: Path, postprocess: dict[str, Any], card: str) -> None:
    manifest = manifests.seg_manifest(
        target.name, threshold=THRESHOLD, slice_range_mm=manifests.SLICE_RANGE_MM, metrics={}, postprocess=postprocess,
        limitations=["Leave-one-patient-out fold model; for validation only."], git_commit={"git_commit": git_commit()},
    )  # fmt: skip
    write_folder(target, manifest, card)


def postprocess_with(cfg: dict[str, Any], score: dict[str, Any]) -> dict[str, Any]:
    """The recipe's post-processing plus a candidate score (``weights``, ``bias``, ``min_score``)."""
    return {
        **postprocess_for(cfg),
        "score_weights": score["weights"],
        "score_bias": score["bias"],
        "min_score": score["min_score"],
    }


def write_folder(target: Path, manifest: dict[str, Any], card: str) -> None:
    """Write the card, hash every file into the manifest, write the manifest."""
    (target / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    files = sorted(p.name for p in target.iterdir() if p.name != "manifest.json")
    manifest["files"] = {name: hashlib.sha256((target / name).read_bytes()).hexdigest() for name in files}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    size = (target / "model.onnx").stat().st_size
    if size > 20 * 1024 * 1024:
        raise RuntimeError(f"{target.name} is {size / 1e6:.1f} MB (> 20 MB)")


def git_commit() -> str:
    from training.package import _git_commit

    return _git_commit()


def stage_lopo(work: Path, cfg: dict[str, Any]) -> None:
    sample = _sample_hu(work, cfg)

    def train_fold(names: tuple[str, ...], held: str) -> Ensemble:
        log.info("fold without %s: training on %s", held, ", ".join(names))
        return _train_segmenter(work, cfg, names, cfg["seed"])

    def install(model: Ensemble, folder: Path, model_id: str) -> None:
        card = f"# {model_id}\nLeave-one-patient-out fold model.\n"
        install_segmenter(model, folder, model_id, sample, card, fold_postprocess(cfg))

    only = tuple(cfg.get("lopo_folds") or real_data.PATIENTS)
    lopo.run_folds(work, cfg, train_fold, install, lambda: new_segmenter(cfg), only)


def stage_score(work: Path, cfg: dict[str, Any]) -> None:
    """Fit the candidate score leave-one-patient-out; each fold's findings with its own score, validated again.

    The score is applied to the recorded findings (``fold_record.rescore_cases``), so no fold
    model is needed: the folds may have been trained in earlier sessions.
    """
    from training import candidate_score

    finished = tuple(lopo.gather_summary(work))
    if len(finished) < 2:
        raise RuntimeError(f"the candidate score needs at least two finished folds; finished: {finished}")
    samples = candidate_score.collect(work, finished)
    folds = candidate_score.leave_one_patient_out(samples, finished)
    shipped = candidate_score.final(samples)
    (work / "candidate_score.json").write_text(
        json.dumps({"patients": finished, "folds": folds, "final": shipped}, indent=2)
    )
    summary = {}
    for held, score in folds.items():
        fold = work / "lopo" / held
        out = fold / "validation_scored"
        scored = fold_record.rescore_cases(
            fold / "validation" / fold_record.CASES, out / fold_record.CASES, fold_record.fold_model(fold), score
        )
        report = lopo.validate_with((held,), fold_record.RecordedAnalyser(scored), out, fold / "index.sqlite")
        summary[held] = [c.to_dict() for c in report.cases]
    (work / "lopo_summary_scored.json").write_text(json.dumps(summary, indent=2))


def stage_train(work: Path, cfg: dict[str, Any]) -> None:
    model = _train_segmenter(work, cfg, real_data.PATIENTS, cfg["seed"] + 1)
    torch.save(model.state_dict(), work / "seg.pt")


def stage_classifier(work: Path, cfg: dict[str, Any]) -> None:
    info = cls_real.leave_one_patient_out(
        lambda names: _cases(work, cfg, names), cfg["cls_synthetic_crops"], cfg["cls_real_crops_per_tumour"],
        cfg["cls_epochs"], cfg["seed"],
    )  # fmt: skip
    model, temperature, heldout = cls_real.final_classifier(
        _cases(work, cfg, real_data.PATIENTS), cfg["cls_synthetic_crops"], cfg["cls_real_crops_per_tumour"],
        cfg["cls_epochs"], cfg["seed"],
    )  # fmt: skip
    torch.save(model.state_dict(), work / "cls.pt")
    info.update({"temperature": temperature, "heldout_synthetic": heldout})
    (work / "cls_info.json").write_text(json.dumps(info, indent=2))


def stage_export(work: Path, cfg: dict[str, Any]) -> None:
    from training.nets import CropClassifier
    from training.package import _export

    seg = new_segmenter(cfg)
    seg.load_state_dict(torch.load(work / "seg.pt", weights_only=True))
    checks = {manifests.SEG_ID: export_segmenter(seg, work / "seg.onnx", _sample_hu(work, cfg))}
    kept = build_record.kept_classifier(work)
    if kept is not None and not (work / "cls.pt").exists():
        checks[manifests.CLS_ID] = kept["export"]
    else:
        cls = CropClassifier(n_classes=2)
        cls.load_state_dict(torch.load(work / "cls.pt", weights_only=True))
        crop = seg25d.normalise(_sample_hu(work, cfg)[40:56, 150:182, 150:182])
        checks[manifests.CLS_ID] = _export(cls.eval(), (1, 1, *manifests.CLS_CROP), work / "cls.onnx", crop)
    (work / "export_check.json").write_text(json.dumps(checks, indent=2))


def stage_keep_classifier(work: Path, cfg: dict[str, Any]) -> None:
    """Instead of the classifier stage: the shipped classifier, when only the segmenter's recipe changed."""
    build_record.keep_classifier(work, MODELS, cfg)


def stage_restore(work: Path, cfg: dict[str, Any]) -> None:
    """Seed ``work`` from the shipped models and ``training/build_record.json`` (no training)."""
    record = build_record.restore(work, MODELS)
    if record["config"] != cfg:
        log.info("the shipped models were trained with %s; the package stage states it", record["config"])


def record_time(work: Path, stage: str, seconds: float) -> None:
    path = work / "stage_seconds.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[stage] = round(seconds, 1)
    path.write_text(json.dumps(times, indent=2))


def _later(name: str) -> Callable[[Path, dict[str, Any]], None]:
    def run(work: Path, cfg: dict[str, Any]) -> None:
        from training import package25d

        getattr(package25d, name)(work, cfg)

    return run


STAGES: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "cache": stage_cache,
    "lopo": stage_lopo,
    "score": stage_score,
    "train": stage_train,
    "classifier": stage_classifier,
    "keep_classifier": stage_keep_classifier,
    "export": stage_export,
    "evaluate": _later("stage_evaluate"),
    "package": _later("stage_package"),
    "sampling": _later("stage_sampling"),
    # Last in a full build, where it only checks that the record just written restores the work folder.
    "restore": stage_restore,
}
FULL_BUILD = tuple(name for name in STAGES if name != "keep_classifier")  # that one replaces "classifier"
