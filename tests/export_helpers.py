"""The bundled demo CT indexed and loaded, hand-built sphere findings on it, and export requests."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meddiag_desktop.core.export_model import (
    AlgorithmKind,
    ExportDecision,
    ExportedFinding,
    ExportRequest,
    ModelInfo,
    ReportContext,
)
from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"
SEG_MODEL = ModelInfo("lung-nodule-seg", "2.1.0", "ab" * 32)
CLS_MODEL = ModelInfo("lung-lesion-cls", "1.4.0", "cd" * 32)
SIGNED_UTC = "2025-03-04T10:11:12.345+00:00"
MODEL_REF = "; ".join(f"{m.id}@{m.version}#sha256:{m.sha256}" for m in (SEG_MODEL, CLS_MODEL))


@dataclass
class DemoSeries:
    index: SeriesIndex
    volume: Volume
    study_uid: str


def demo_series(folder: Path) -> DemoSeries:
    """The demo study scanned into an index under ``folder`` and its CT volume loaded."""
    index = SeriesIndex(folder / "index.sqlite")
    scan(DEMO, index)
    series = max((s for s in index.series() if s.modality == "CT"), key=lambda s: s.frame_count)
    volume = load_series(index, series.series_instance_uid, threads=1)[0]
    return DemoSeries(index, volume, series.study_instance_uid)


def sphere(
    volume: Volume, fid: str, centre: tuple[int, int, int], radius_mm: float, origin: str = "ai", hu: float = 25.0
) -> Finding:
    """A ball of ``radius_mm`` around voxel ``centre`` (z, y, x), measured like a finding."""
    spacing = np.asarray(volume.spacing)
    reach = np.ceil(radius_mm / spacing).astype(int)
    lo = np.maximum(np.asarray(centre) - reach, 0)
    hi = np.minimum(np.asarray(centre) + reach + 1, volume.shape)
    grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij"), axis=-1)
    mask = np.linalg.norm((grid - np.asarray(centre)) * spacing, axis=-1) <= radius_mm
    classes = {"solid": 0.8, "subsolid": 0.2} if origin == "ai" else {}
    return Finding(
        id=fid, centroid_index=tuple(float(c) for c in centre), centroid_lps=tuple(volume.index_to_lps(centre)),
        bbox=(*(int(v) for v in lo), *(int(v) for v in hi)), volume_ml=float(mask.sum() * np.prod(spacing)) / 1000,
        long_axis_mm=2 * radius_mm, short_axis_mm=1.8 * radius_mm, mean_hu=hu, max_hu=hu + 40, mean_prob=0.8,
        max_prob=0.93, mask=mask, class_probabilities=classes, origin=origin,
    )  # fmt: skip


def review_findings(volume: Volume) -> tuple[ExportedFinding, ...]:
    """One finding per kind: accepted (a 44 mm neoplasm), edited, added by hand, rejected."""
    return (
        ExportedFinding(sphere(volume, "F1", (46, 300, 150), 22.0), ExportDecision.ACCEPTED, AlgorithmKind.AUTOMATIC,
                        SEG_MODEL, CLS_MODEL),
        ExportedFinding(sphere(volume, "F2", (20, 250, 350), 6.0), ExportDecision.EDITED,
                        AlgorithmKind.SEMIAUTOMATIC, SEG_MODEL, CLS_MODEL, mask_version=2),
        ExportedFinding(sphere(volume, "R1", (30, 200, 330), 8.0, origin="radiologist"), ExportDecision.ADDED,
                        AlgorithmKind.MANUAL),
        ExportedFinding(sphere(volume, "F3", (35, 180, 200), 5.0), ExportDecision.REJECTED, AlgorithmKind.AUTOMATIC,
                        SEG_MODEL, CLS_MODEL, reject_reason="other", note="calcified granuloma"),
    )  # fmt: skip


def request(
    volume: Volume, *, signed: bool = False, findings: tuple[ExportedFinding, ...] | None = None
) -> ExportRequest:
    context = ReportContext(
        "review-7", "9.9.9", reviewer="Radiologist^Rita", verified=signed, verified_utc=SIGNED_UTC if signed else ""
    )
    return ExportRequest(volume.series_instance_uid, review_findings(volume) if findings is None else findings, context)


def dciodvfy_errors(path: Path) -> tuple[list[str], str]:
    """dciodvfy's lines starting with "Error", and its whole output (it writes to stderr)."""
    tool = shutil.which("dciodvfy")
    assert tool is not None
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False, timeout=60)
    output = run.stdout + run.stderr
    return [line for line in output.splitlines() if line.startswith("Error")], output
