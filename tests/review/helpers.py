"""Small findings and AI runs for review tests (no model needed)."""

from __future__ import annotations

import numpy as np

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.review.records import AiRun

SERIES = "1.2.826.0.1.3680043.8.498.1"
STUDY = "1.2.826.0.1.3680043.8.498.2"


def finding(finding_id: str, offset: int = 0, origin: str = "ai", size: int = 3) -> Finding:
    mask = np.zeros((size, size, size), dtype=bool)
    mask[1:, 1:, 1:] = True
    z = 2 + offset
    return Finding(
        id=finding_id, centroid_index=(z + 1.5, 11.5, 11.5), centroid_lps=(1.0, 2.0, 3.0 + offset),
        bbox=(z, 10, 10, z + size, 10 + size, 10 + size), volume_ml=0.01 * size, long_axis_mm=4.0, short_axis_mm=3.0,
        mean_hu=20.0, max_hu=60.0, mean_prob=0.8, max_prob=0.95, mask=mask,
        class_probabilities={"solid": 0.7, "subsolid": 0.3} if origin == "ai" else {}, origin=origin,
    )  # fmt: skip


def ai_run(run_id: str = "run-1", count: int = 3) -> AiRun:
    return AiRun(
        run_id=run_id, series_uid=SERIES, study_uid=STUDY,
        model_ref="lung-nodule-seg@1.0.0#sha256:" + "ab" * 32, input_pixel_sha256="cd" * 32,
        provenance={"parameters": {"threshold": 0.5}},
        findings=tuple(finding(f"F{i + 1}", 5 * i) for i in range(count)),
    )  # fmt: skip
