"""The build record: what the ``package`` stage needs besides the two ONNX files.

A full build takes hours and its work folder does not survive, so ``training/build_record.json``
(committed next to this module) keeps the metrics, the classifier's calibration, the fitted
candidate score, the configuration and the sha256 of the exported ONNX files. The ``evaluate``
and ``package`` stages write it; the ``restore`` stage seeds a work folder from it and the
shipped ``models/<id>/model.onnx``, so that ``--stages restore,package`` regenerates manifests
and model cards from the current code without retraining.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from training import manifests

log = logging.getLogger(__name__)

RECORD = Path(__file__).resolve().parent / "build_record.json"
SCHEMA = 1
ONNX_FILES = {manifests.SEG_ID: "seg.onnx", manifests.CLS_ID: "cls.onnx"}  # model id -> work-folder file
METRIC_KEYS = ("seg", "cls", "export", "stage_seconds")
RECORD_KEYS = ("schema", "config", "onnx_sha256", "metrics", "cls_info", "candidate_score")
# What restore writes into a work folder (besides the ONNX files), and its own copy of the record.
RESTORED = ("metrics.json", "cls_info.json", "candidate_score.json")
RESTORED_RECORD = "build_record.json"
# What the classifier is trained from (build_steps.stage_classifier): while these are unchanged, a build
# that changes only the segmenter's recipe may keep the shipped classifier (the keep_classifier stage).
CLS_KEYS = ("seed", "spacing_mm", "thick_training_mm", "cls_synthetic_crops", "cls_real_crops_per_tumour", "cls_epochs")
KEPT_CLASSIFIER = "cls_kept.json"


class BuildRecordError(RuntimeError):
    """The record is missing or malformed, or does not match the ONNX files it describes."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make(work: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The record of a work folder holding ``seg.onnx``, ``cls.onnx``, ``metrics.json`` and ``cls_info.json``."""
    metrics = _load(work / "metrics.json")
    missing = [key for key in METRIC_KEYS if key not in metrics]
    if missing:
        raise BuildRecordError(f"{work / 'metrics.json'} lacks {', '.join(missing)}; run the evaluate stage first")
    score = work / "candidate_score.json"
    return {
        "schema": SCHEMA,
        "config": cfg,
        "onnx_sha256": {model_id: sha256(work / name) for model_id, name in ONNX_FILES.items()},
        "metrics": metrics,
        "cls_info": _load(work / "cls_info.json"),
        "candidate_score": _load(score)["final"] if score.exists() else None,
        "trained_commit": trained_commits(work),
    }


def write(work: Path, cfg: dict[str, Any], path: Path | None = None) -> dict[str, Any] | None:
    """Record the packaged work folder in ``path`` (default ``RECORD``); None when it has no full metrics.

    A ``note`` of the previous record stays when it describes the same ONNX files.
    """
    path = path or RECORD
    try:
        record = make(work, cfg)
    except BuildRecordError as exc:
        log.warning("build record %s not updated (restore will refuse these models): %s", path, exc)
        return None
    note = _kept_note(path, record["onnx_sha256"])
    dump({**record, "note": note} if note else record, path)
    log.info("build record written to %s", path)
    return record


def _kept_note(path: Path, shas: dict[str, str]) -> str | None:
    if not path.exists():
        return None
    old = json.loads(path.read_text(encoding="utf-8"))
    note = old.get("note") if old.get("onnx_sha256") == shas else None
    return str(note) if note else None


def dump(record: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read(path: Path | None = None) -> dict[str, Any]:
    """The record at ``path`` (default ``RECORD``), checked for every key ``restore`` needs."""
    path = path or RECORD
    if not path.exists():
        raise BuildRecordError(f"no build record at {path}; the evaluate or package stage writes it")
    record = _load(path)
    missing = [key for key in RECORD_KEYS if key not in record]
    missing += [f"metrics.{key}" for key in METRIC_KEYS if key not in record.get("metrics", {})]
    missing += [f"onnx_sha256.{i}" for i in ONNX_FILES if i not in record.get("onnx_sha256", {})]
    if missing:
        raise BuildRecordError(f"{path} lacks {', '.join(missing)}")
    if record["schema"] != SCHEMA:
        raise BuildRecordError(f"{path} has schema {record['schema']}; this code reads schema {SCHEMA}")
    return record


def restore(work: Path, models: Path, path: Path | None = None) -> dict[str, Any]:
    """Seed ``work`` from ``models/<id>/model.onnx`` and the record, as the package stage reads it.

    Nothing is written when ``work`` already holds the recorded build (as at the end of a full
    build, whose package stage has just written the record). Raises ``BuildRecordError`` when a
    shipped ONNX file is not the one recorded (the models were rebuilt without updating the
    record) or when ``work`` holds other files of a real build.
    """
    path = path or RECORD
    record = read(path)
    sources = {name: models / model_id / "model.onnx" for model_id, name in ONNX_FILES.items()}
    for model_id, name in ONNX_FILES.items():
        _check_sha(sources[name], record["onnx_sha256"][model_id], path)
    if _holds(work, record):
        log.info("%s already holds the recorded build; nothing to restore", work)
        return record
    _check_seedable(work)
    work.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        shutil.copyfile(source, work / name)
    for name, content in _restored_files(record).items():
        (work / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
    shutil.copyfile(path, work / RESTORED_RECORD)
    log.info("work folder %s restored from %s and %s", work, path, models)
    return record


def _check_sha(onnx: Path, recorded: str, path: Path) -> None:
    if not onnx.exists():
        raise BuildRecordError(f"{onnx} is missing; nothing to restore")
    actual = sha256(onnx)
    if actual != recorded:
        raise BuildRecordError(
            f"{onnx} has sha256 {actual} but {path.name} records {recorded}: the models were rebuilt "
            "without updating the record; re-run the evaluate or package stage of that build, or retrain"
        )


def _restored_files(record: dict[str, Any]) -> dict[str, Any]:
    files = {"metrics.json": record["metrics"], "cls_info.json": record["cls_info"]}
    if record["candidate_score"] is not None:
        files["candidate_score.json"] = {"final": record["candidate_score"]}
    return files


def _holds(work: Path, record: dict[str, Any]) -> bool:
    """Whether ``work`` already has the recorded ONNX files and what the package stage reads."""
    if not _onnx_match(work, record):
        return False
    expected = _restored_files(record)
    return all(_as_read(name, _load_if_present(work / name)) == _as_read(name, expected.get(name)) for name in RESTORED)


def _as_read(name: str, content: dict[str, Any] | None) -> Any:
    """What the package stage reads of a restored file (of ``candidate_score.json`` only ``final``)."""
    if content is not None and name == "candidate_score.json":
        return content.get("final")
    return content


def _onnx_match(work: Path, record: dict[str, Any]) -> bool:
    return all(
        (work / name).exists() and sha256(work / name) == record["onnx_sha256"][model_id]
        for model_id, name in ONNX_FILES.items()
    )


def _check_seedable(work: Path) -> None:
    """Refuse to overwrite a real build's files (a folder seeded by an earlier restore is fine)."""
    if _restored_record(work) is not None:
        return
    present = [name for name in (*ONNX_FILES.values(), *RESTORED) if (work / name).exists()]
    if present:
        raise BuildRecordError(
            f"{work} already holds {', '.join(present)} of another build; restore seeds a new work folder only"
        )


def _restored_record(work: Path) -> dict[str, Any] | None:
    """The record an earlier restore seeded ``work`` from, while its ONNX files are still the restored ones."""
    marker = work / RESTORED_RECORD
    if not marker.exists():
        return None
    record = _load(marker)
    return record if _onnx_match(work, record) else None


POSTPROCESS_KEYS = ("coarse_zoom", "clip_to_lung_region")


def trained_config(work: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The configuration the work folder's ONNX files were trained with.

    ``cfg`` for a folder of a real build; the recorded one for a folder seeded by ``restore``
    whose ONNX files are still the restored ones, with ``cfg``'s post-processing settings
    (``POSTPROCESS_KEYS``): those change what the app does with the network's output, not the
    network, so packaging may change them without retraining.
    """
    record = _restored_record(work)
    if record is None:
        return cfg
    if record["config"] != cfg:
        log.info("the restored models were trained with the recorded configuration; the cards state it")
    return {**record["config"], **{k: cfg[k] for k in POSTPROCESS_KEYS if k in cfg}}


def trained_commits(work: Path) -> dict[str, str]:
    """Per model id, the commit whose code trained the work folder's ONNX file: the recorded one
    after a restore, the shipped classifier's after ``keep_classifier``, else the current one."""
    from training.build_steps import git_commit

    record = _restored_record(work)
    if record is not None:
        return {model_id: _commit_of(record, model_id) or git_commit() for model_id in ONNX_FILES}
    commits = {model_id: git_commit() for model_id in ONNX_FILES}
    kept = kept_classifier(work)
    if kept is not None:
        commits[manifests.CLS_ID] = str(kept["trained_commit"])
    return commits


def _commit_of(record: dict[str, Any], model_id: str) -> str | None:
    commit = record.get("trained_commit")
    return commit.get(model_id) if isinstance(commit, dict) else commit  # one commit for both, before 2026-12


def keep_classifier(work: Path, models: Path, cfg: dict[str, Any], path: Path | None = None) -> None:
    """Seed ``work`` with the shipped classifier (ONNX file, calibration, export check), for a build
    that retrains only the segmenter. Refused when the classifier's recipe (``CLS_KEYS``) changed."""
    path = path or RECORD
    record = read(path)
    changed = [key for key in CLS_KEYS if record["config"].get(key) != cfg.get(key)]
    if changed:
        raise BuildRecordError(f"the classifier's recipe changed ({', '.join(changed)}); run the classifier stage")
    model_id = manifests.CLS_ID
    source = models / model_id / "model.onnx"
    _check_sha(source, record["onnx_sha256"][model_id], path)
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, work / ONNX_FILES[model_id])
    (work / "cls_info.json").write_text(json.dumps(record["cls_info"], indent=2), encoding="utf-8")
    kept = {
        "onnx_sha256": record["onnx_sha256"][model_id],
        "trained_commit": _commit_of(record, model_id) or "unknown",
        "export": record["metrics"]["export"][model_id],
    }
    (work / KEPT_CLASSIFIER).write_text(json.dumps(kept, indent=2), encoding="utf-8")
    log.info("classifier kept from %s (trained at %s)", path, kept["trained_commit"])


def kept_classifier(work: Path) -> dict[str, Any] | None:
    """What ``keep_classifier`` wrote, while the work folder's classifier is still the kept one."""
    path = work / KEPT_CLASSIFIER
    onnx = work / ONNX_FILES[manifests.CLS_ID]
    if not path.exists() or not onnx.exists():
        return None
    kept = _load(path)
    return kept if sha256(onnx) == kept["onnx_sha256"] else None


def _load_if_present(path: Path) -> dict[str, Any] | None:
    return _load(path) if path.exists() else None


def _load(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BuildRecordError(f"{path} is missing") from exc
    except json.JSONDecodeError as exc:
        raise BuildRecordError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(content, dict):
        raise BuildRecordError(f"{path} does not hold a JSON object")
    return content
