"""The lung-region clip (``postprocess.clip_to_lung_region``) judged on held-out patients,
replayed from the fold records.

    python -m training.clip_replay [--keys c742537ce543,931c3dbf3eee]

The fold models are gone with their work folders, but their findings are recorded
(``training/folds/<key>/<patient>/cases``, see ``training.fold_record``). Each recorded finding
is cut back to the lung region, computed here on the scan's own grid with the shipped margin,
and the validation library scores the clipped findings against the same reference lesions. The
app clips on the model grid before mapping a finding back; the two differ by a voxel or two at
the region's edge (``tests/training/test_clip_replay.py`` compares them on a real run). Findings
left with no voxel in the region are dropped: the app's region veto drops such candidates.

The figures go to ``training/clip_heldout.json`` (committed, read by the model card): per fold,
variant and reference lesion, the Dice without and with the clip, and the false findings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.inference.lung_mask import body_mask, lung_region, lungs
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.validation.cache import outcome_from_json
from training import fold_record, lopo
from training.build_steps import POSTPROCESS

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.progress import CancelToken, ProgressFn
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.validation.cache import AnalysisOutcome
    from meddiag_desktop.validation.results import ModelInfo, ValidationReport

log = logging.getLogger(__name__)

EVIDENCE = Path(__file__).resolve().parent / "clip_heldout.json"


def scan_region(volume: Volume, margin_mm: float) -> NDArray[np.bool_]:
    """The lung region on the scan's own grid, as ``inference.analyze`` builds it on the model grid."""
    hu, spacing = volume.array.astype(np.float32, copy=False), volume.spacing
    found = lungs(hu, spacing, body_mask(hu, spacing), affine=volume.affine)
    return lung_region(found, spacing, margin_mm)


def clipped_finding(finding: Finding, region: NDArray[np.bool_], voxel_ml: float) -> Finding | None:
    """``finding`` with its mask cut back to ``region`` (its box tightened, its volume remeasured);
    ``None`` when nothing of it is inside. Other measurements are those of the unclipped finding."""
    z0, y0, x0, z1, y1, x1 = finding.bbox
    mask = finding.mask & region[z0:z1, y0:y1, x0:x1]
    if not mask.any():
        return None
    idx = np.argwhere(mask)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    tight = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    bbox = (z0 + int(lo[0]), y0 + int(lo[1]), x0 + int(lo[2]), z0 + int(hi[0]), y0 + int(hi[1]), x0 + int(hi[2]))
    return replace(finding, mask=tight, bbox=bbox, volume_ml=float(tight.sum()) * voxel_ml)


def clipped_outcome(outcome: AnalysisOutcome, region: NDArray[np.bool_], voxel_ml: float) -> AnalysisOutcome:
    """Every finding of ``outcome`` clipped; the dropped ones' scores and features go with them."""
    kept = [f for f in (clipped_finding(f, region, voxel_ml) for f in outcome.findings) if f is not None]
    ids = {f.id for f in kept}
    scores = {k: v for k, v in outcome.scores.items() if k in ids}
    features = {k: v for k, v in outcome.features.items() if k in ids}
    return replace(outcome, findings=tuple(kept), scores=scores, features=features)


def clipped_model(model: ModelInfo) -> ModelInfo:
    """The fold model with the clip in its manifest: same network, other settings."""
    settings = hashlib.sha256((model.settings_sha256 + "clip_to_lung_region").encode()).hexdigest()
    return replace(model, settings_sha256=settings, source=f"{model.source} + lung-region clip")


class ClipReplay:
    """An analyser that gives a fold model's recorded findings on a scan, clipped to the lung region."""

    def __init__(self, record: Path, margin_mm: float = float(POSTPROCESS["lung_margin_mm"])) -> None:
        self.recorded = fold_record.fold_model(record)
        self.model = clipped_model(self.recorded)
        self.margin_mm = margin_mm
        self._by_pixels: dict[str, dict[str, Any]] = {}
        for path in sorted((record / fold_record.CASES).glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("model_sha256") == self.recorded.sha256:
                self._by_pixels[str(data["pixel_sha256"])] = data

    def analyse(self, volume: Volume, progress: ProgressFn, cancel: CancelToken | None) -> AnalysisOutcome:
        data = self._by_pixels.get(pixel_sha256(volume))
        if data is None:
            raise RuntimeError(f"no recorded outcome of {self.recorded.id} for a {volume.shape[0]}-slice scan")
        voxel_ml = abs(float(np.linalg.det(volume.affine[:3, :3]))) / 1000.0
        return clipped_outcome(outcome_from_json(data), scan_region(volume, self.margin_mm), voxel_ml)


def _report(analyser: fold_record.RecordedAnalyser | ClipReplay, held: str, scratch: Path) -> ValidationReport:
    out = scratch / f"{held}-{analyser.model.settings_sha256[:8]}"
    return lopo.validate_with((held,), analyser, out, scratch / "index.sqlite")


def replay_fold(record: Path, scratch: Path) -> list[dict[str, Any]]:
    """Per variant and reference lesion of the fold's held-out patient: Dice (or box coverage)
    and false findings, without and with the clip."""
    held = record.name
    plain = lopo.validate_with(
        (held,),
        fold_record.RecordedAnalyser(fold_record.fold_model(record)),
        _seeded(record, scratch),
        scratch / "index.sqlite",
    )
    clipped = _report(ClipReplay(record), held, scratch)
    rows = []
    for a, b in zip(plain.cases, clipped.cases, strict=True):
        for la, lb in zip(a.lesions, b.lesions, strict=True):
            rows.append({
                "patient": held, "fold_config": record.parent.name, "variant": a.variant, "lesion": la.name,
                "dice_plain": la.dice, "dice_clipped": lb.dice, "box_coverage_plain": la.box_coverage,
                "box_coverage_clipped": lb.box_coverage,
                "false_plain": a.false_findings, "false_clipped": b.false_findings,
            })  # fmt: skip
    return rows


def _seeded(record: Path, scratch: Path) -> Path:
    """An output folder whose cache holds the fold's recorded cases (the plain report is then all cache hits)."""
    out = scratch / f"{record.parent.name}-{record.name}-plain"
    cases = out / fold_record.CASES
    cases.mkdir(parents=True, exist_ok=True)
    for path in (record / fold_record.CASES).glob("*.json"):
        (cases / path.name).write_bytes(path.read_bytes())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", default="", help="fold configuration keys (comma-separated; default: all recorded)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    keys = [k for k in args.keys.split(",") if k] or sorted(p.name for p in fold_record.FOLDS.iterdir() if p.is_dir())
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for key in keys:
            for record in sorted((fold_record.FOLDS / key).iterdir()):
                if (record / fold_record.FOLD_FILE).is_file():
                    rows += replay_fold(record, Path(scratch))
    margin = float(POSTPROCESS["lung_margin_mm"])
    EVIDENCE.write_text(json.dumps({"margin_mm": margin, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    for r in rows:
        log.info("%s", json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
