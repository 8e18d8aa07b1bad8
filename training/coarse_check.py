"""The coarse pass (``postprocess.coarse_zoom``) judged on held-out patients.

    python -m training.coarse_check --work-dir W --folds LUNG1-002,LUNG1-003 [--zoom 1.5]

Each fold model in the work folder (``lopo/<patient>/models/<id>``, trained by the ``lopo``
stage) is copied into a scratch models folder twice, its manifest once without the coarse pass
and once with it, and both copies are validated on the one patient the fold never saw. The
figures go to ``training/coarse_pass_heldout.json`` (committed, read by the model card): per
fold, variant and reference lesion, the Dice without and with the pass, and the false findings.
Rows of patients not checked in this run are kept, so folds can be checked one session at a time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.validation.runner import RegistryAnalyser
from training import fold_record, lopo, real_data

if TYPE_CHECKING:
    from meddiag_desktop.validation.results import ValidationReport

EVIDENCE = Path(__file__).resolve().parent / "coarse_pass_heldout.json"


def _copy(src: Path, models: Path, model_id: str, zoom: float | None) -> None:
    target = models / model_id
    shutil.copytree(src, target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = model_id
    manifest["postprocess"].pop("coarse_zoom", None)
    if zoom is not None:
        manifest["postprocess"]["coarse_zoom"] = zoom
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _validate(src: Path, held: str, zoom: float | None, scratch: Path) -> ValidationReport:
    model_id = f"{src.name}-{'coarse' if zoom else 'single'}"
    _copy(src, scratch / "models", model_id, zoom)
    registry = ModelRegistry(real_data.REPO / "models", scratch / "models")
    analyser = RegistryAnalyser(registry, model_id, threads=torch.get_num_threads())
    return lopo.validate_with((held,), analyser, scratch / model_id, scratch / "index.sqlite")


def _rows(held: str, key: str, single: ValidationReport, coarse: ValidationReport) -> list[dict[str, Any]]:
    rows = []
    for a, b in zip(single.cases, coarse.cases, strict=True):
        for la, lb in zip(a.lesions, b.lesions, strict=True):
            rows.append({
                "patient": held, "fold_config": key, "variant": a.variant, "lesion": la.name,
                "dice_single": la.dice, "dice_coarse": lb.dice,
                "false_single": a.false_findings, "false_coarse": b.false_findings,
            })  # fmt: skip
    return rows


def check_fold(work: Path, held: str, zoom: float, scratch: Path) -> list[dict[str, Any]]:
    fold = work / "lopo" / held
    [src] = [p for p in (fold / "models").iterdir() if (p / "manifest.json").is_file()]
    cfg = json.loads((fold / fold_record.FOLD_FILE).read_text())["config"]
    key = fold_record.config_key(cfg)
    single = _validate(src, held, None, scratch)
    coarse = _validate(src, held, zoom, scratch)
    return _rows(held, key, single, coarse)


def merged(old: list[dict[str, Any]], new: list[dict[str, Any]], checked: set[str]) -> list[dict[str, Any]]:
    """``new`` replaces the rows of the patients checked now; the other patients' rows stay, in order."""
    kept = [r for r in old if r["patient"] not in checked]
    return sorted(kept + new, key=lambda r: str(r["patient"]))


def _recorded(zoom: float) -> list[dict[str, Any]]:
    if not EVIDENCE.is_file():
        return []
    data = json.loads(EVIDENCE.read_text(encoding="utf-8"))
    return list(data["rows"]) if data.get("zoom") == zoom else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--folds", required=True, help="comma-separated held-out patients")
    parser.add_argument("--zoom", type=float, default=1.5)
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    folds = args.folds.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        for held in folds:
            rows += check_fold(args.work_dir, held, args.zoom, Path(scratch))
    everything = merged(_recorded(args.zoom), rows, set(folds))
    EVIDENCE.write_text(json.dumps({"zoom": args.zoom, "rows": everything}, indent=2) + "\n", encoding="utf-8")
    for r in rows:
        print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
