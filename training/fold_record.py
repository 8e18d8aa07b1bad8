"""Leave-one-patient-out folds kept in the repository, so that one model build can span sessions.

A fold model takes 30-90 min to train on two CPU cores and the four of them take longer than a
working session, whose work folder does not survive it. What the later stages need from a
finished fold is small, so it is kept in ``training/folds/<configuration key>/<patient>/``:

- ``fold.json``: the fold model's sha256 and settings sha256 (which name its validation cache
  files), its training and validation times, the commit that trained it and the configuration;
- ``cases/*.json``: the validation cache of the fold model on its held-out patient: every
  finding with its mask and candidate features (``meddiag_desktop.validation.cache``).

From these the ``validate`` library gives the fold's report again without the model (every case
is a cache hit; :class:`RecordedAnalyser` refuses to analyse), the candidate score learns from
the recorded features, and a fitted score is applied by :func:`rescore`: a candidate score only
drops candidates, so the findings are those the fold model would give with the score in its
manifest (``tests/training/test_fold_record.py`` checks this against a real run).

The key is a hash of the configuration: a changed recipe gets new folds, and the old ones stay
for comparison. Changing the training code without the configuration is not detected; such a
change must add a configuration entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from meddiag_desktop.inference.candidates import MAX_FINDINGS, logistic_score
from meddiag_desktop.validation.cache import (
    AnalysisOutcome,
    digest_key,
    outcome_from_json,
    outcome_to_json,
    save_outcome,
)
from meddiag_desktop.validation.results import ModelInfo
from training import real_data

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.progress import CancelToken, ProgressFn
    from meddiag_desktop.core.volume import Volume

log = logging.getLogger(__name__)

FOLDS = real_data.REPO / "training" / "folds"
FOLD_FILE = "fold.json"
CASES = "cases"  # the validation library's cache folder inside an output folder
OUTCOME_FIELDS = frozenset(outcome_to_json(AnalysisOutcome(()), {}))  # the rest of a cache file is about the case
KEY_FIELDS = ("series_sha256", "variant", "model_sha256", "settings_sha256", "pixel_sha256")


# Post-processing the fold models run without: its effect is replayed on their recorded findings
# (``training.clip_replay``), so turning it on or off keeps the folds.
REPLAYED_KEYS = ("clip_to_lung_region",)


def config_key(cfg: dict[str, Any]) -> str:
    """Twelve hex digits naming a training configuration (which folds a run asked for, and
    ``REPLAYED_KEYS``, aside)."""
    recipe = {k: v for k, v in cfg.items() if k != "lopo_folds" and k not in REPLAYED_KEYS}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def recipe_text(cfg: dict[str, Any], against: dict[str, Any]) -> str:
    """A fold's training recipe against ``against`` (post-processing aside: the coarse pass is judged
    with and without, the replayed keys are not run by the folds)."""
    ignored = ("lopo_folds", "coarse_zoom", *REPLAYED_KEYS)
    changed = sorted(k for k in {*cfg, *against} if k not in ignored and cfg.get(k) != against.get(k))
    return "this model's recipe" + "".join(f", {k}={json.dumps(cfg.get(k))}" for k in changed)


def fold_label(key: str, against: dict[str, Any], root: Path | None = None) -> str:
    """``key (recipe against against)`` for a recorded configuration key; the key alone when not recorded."""
    records = sorted(((root or FOLDS) / key).glob(f"*/{FOLD_FILE}"))
    if not records:
        return key
    return f"{key} ({recipe_text(json.loads(records[0].read_text())['config'], against)})"


def record_folder(cfg: dict[str, Any], held: str, root: Path | None = None) -> Path:
    return (root or FOLDS) / config_key(cfg) / held


def fold_model(fold: Path) -> ModelInfo:
    """The fold model as recorded in ``fold/fold.json``."""
    return ModelInfo(**json.loads((fold / FOLD_FILE).read_text())["model"])


def write_fold(fold: Path, model: ModelInfo, seconds: dict[str, float], cfg: dict[str, Any], commit: str) -> None:
    """``fold/fold.json`` for a fold model just trained and validated (in ``fold/validation``)."""
    about = {"model": asdict(model), "seconds": seconds, "trained_commit": commit, "config": cfg}
    (fold / FOLD_FILE).write_text(json.dumps(about, indent=2) + "\n")


def save(fold: Path, cfg: dict[str, Any], root: Path | None = None) -> Path:
    """Copy a work folder's finished fold (its ``fold.json`` and its model's cached cases) to the record."""
    model = fold_model(fold)
    target = record_folder(cfg, fold.name, root)
    (target / CASES).mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in sorted((fold / "validation" / CASES).glob("*.json")):
        if _of_model(json.loads(path.read_text(encoding="utf-8")), model):
            shutil.copyfile(path, target / CASES / path.name)
            copied += 1
    if not copied:
        raise RuntimeError(f"fold {fold.name}: no validation case of its model to record in {fold / 'validation'}")
    shutil.copyfile(fold / FOLD_FILE, target / FOLD_FILE)
    log.info("fold %s recorded in %s (%d cases)", fold.name, target, copied)
    return target


def restore(fold: Path, cfg: dict[str, Any], root: Path | None = None) -> ModelInfo | None:
    """Seed a work folder's fold from the record; ``None`` when this configuration has no such fold."""
    source = record_folder(cfg, fold.name, root)
    if not (source / FOLD_FILE).is_file():
        return None
    cases = fold / "validation" / CASES
    cases.mkdir(parents=True, exist_ok=True)
    for path in sorted((source / CASES).glob("*.json")):
        shutil.copyfile(path, cases / path.name)
    shutil.copyfile(source / FOLD_FILE, fold / FOLD_FILE)
    for step, seconds in json.loads((source / FOLD_FILE).read_text())["seconds"].items():
        (fold / f"{step}_seconds.txt").write_text(f"{seconds:.0f}\n")
    log.info("fold %s restored from %s", fold.name, source)
    return fold_model(fold)


class RecordedAnalyser:
    """Stands for a fold model that is no longer at hand: every case must come from its cache."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model

    def analyse(self, volume: Volume, progress: ProgressFn, cancel: CancelToken | None) -> AnalysisOutcome:
        raise RuntimeError(
            f"no recorded outcome of {self.model.id} for a {volume.shape[0]}-slice scan: "
            "the fold record is incomplete or the validation cases changed; delete the fold's record and retrain it"
        )


def _of_model(data: dict[str, Any], model: ModelInfo) -> bool:
    """Whether a cache file's JSON was written for ``model`` (a work folder may hold earlier models' cases)."""
    return (data.get("model_sha256"), data.get("settings_sha256")) == (model.sha256, model.settings_sha256)


def scored_model(model: ModelInfo, score: dict[str, Any]) -> ModelInfo:
    """The fold model with ``score`` in its manifest: same network, other settings."""
    settings = hashlib.sha256((model.settings_sha256 + json.dumps(score, sort_keys=True)).encode()).hexdigest()
    return replace(model, settings_sha256=settings, source=f"{model.source} + candidate score")


def rescore(outcome: AnalysisOutcome, score: dict[str, Any]) -> AnalysisOutcome:
    """What the model gives with candidate score ``score`` (``weights``, ``bias``, ``min_score``).

    The outcome must come from the model without a score, so that nothing was dropped yet.
    Findings scoring under ``min_score`` are dropped and the rest renumbered in their order, as
    ``inference.analyze`` numbers them.
    """
    if len(outcome.findings) >= MAX_FINDINGS:
        raise RuntimeError(f"{len(outcome.findings)} findings reach the cap of {MAX_FINDINGS}: not replayable")
    findings: list[Finding] = []
    scores: dict[str, float] = {}
    features: dict[str, dict[str, float]] = {}
    for finding in outcome.findings:
        values = outcome.features.get(finding.id)
        if values is None:
            raise RuntimeError(f"finding {finding.id} has no recorded candidate features")
        value = logistic_score(values, score["weights"], score["bias"])
        if value < score["min_score"]:
            continue
        fid = f"F{len(findings) + 1}"
        findings.append(replace(finding, id=fid))
        scores[fid] = value
        features[fid] = {**values, "score": value}
    return replace(outcome, findings=tuple(findings), scores=scores, features=features)


def rescore_cases(source: Path, target: Path, model: ModelInfo, score: dict[str, Any]) -> ModelInfo:
    """Apply ``score`` to the cached cases of ``model`` in ``source``; write them for the scored model into ``target``.

    Returns the scored model, whose validation then finds every case in ``target``.
    """
    scored = scored_model(model, score)
    for path in sorted(source.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not _of_model(data, model):
            continue
        about = {k: v for k, v in data.items() if k not in OUTCOME_FIELDS}
        about["settings_sha256"] = scored.settings_sha256
        key = digest_key(*(str(about[k]) for k in KEY_FIELDS))
        save_outcome(target, key, rescore(outcome_from_json(data), score), about)
    return scored
