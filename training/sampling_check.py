"""The shipped segmenter on the real patients resampled: finer slice spacing, coarser pixels.

Hospitals reconstruct chest CT at 0.5-1 mm spacing (often overlapping, e.g. 1 mm thick every
0.7 mm) and, for large patients, with 1.1-1.4 mm pixels. The model sees every scan on its own
2.5 x 1.5 x 1.5 mm grid, so such scans should give the findings of the scan as acquired. This
stage checks that on the four real patients, each resliced every 0.5 mm (interpolated, as an
overlapping reconstruction) and with its pixels averaged to 1.5 mm (as a larger field of view),
through ``meddiag-desktop validate``. The shipped model was trained on these patients: the
figures show that resampling changes nothing, not how well the model does (leave-one-patient-out
does that). Run after ``package``, so the manifest's accepted range is the one being checked.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import torch

from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.validation.cases import VariantPlan
from meddiag_desktop.validation.runner import RegistryAnalyser
from training import lopo, manifests, real_data

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.validation.results import ValidationReport

log = logging.getLogger(__name__)

RESLICE_MM = 0.5  # the finest slice spacing the manifest accepts
PIXEL_MM = 1.5  # the coarsest pixels it accepts (the model grid's own)
PLAN = VariantPlan(reslices=(RESLICE_MM,), pixel_sizes=(PIXEL_MM,))


def sampling_rows(report: ValidationReport) -> list[dict[str, Any]]:
    """One row per reference lesion per variant: hit, Dice or box coverage, and the scan's false findings."""
    rows = []
    for case in report.cases:
        base = {"patient": case.folder, "variant": case.variant, "status": case.status.value,
                "slice_mm": case.slice_spacing_mm, "false_findings": case.false_findings}  # fmt: skip
        if not case.lesions:
            rows.append({**base, "lesion": None, "message": case.message})
        for lesion in case.lesions:
            dice = None if lesion.dice is None else round(lesion.dice, 2)
            cover = None if lesion.box_coverage is None else round(lesion.box_coverage, 2)
            rows.append({**base, "lesion": lesion.name, "hit": lesion.hit, "dice": dice, "box_coverage": cover})
    return rows


def check_shipped(work: Path) -> list[dict[str, Any]]:
    """Validate the shipped segmenter (``models/``) on the four patients as acquired and resampled."""
    registry = ModelRegistry(real_data.REPO / "models")
    analyser = RegistryAnalyser(registry, manifests.SEG_ID, threads=torch.get_num_threads())
    report = lopo.validate_with(
        real_data.PATIENTS, analyser, work / "sampling_validation", work / "lopo_index.sqlite", plan=PLAN
    )
    rows = sampling_rows(report)
    (work / "sampling_check.json").write_text(json.dumps(rows, indent=2))
    refused = [r for r in rows if r["status"] != "analysed"]
    if refused:
        raise RuntimeError(f"the shipped model did not analyse every resampled scan: {refused}")
    return rows
