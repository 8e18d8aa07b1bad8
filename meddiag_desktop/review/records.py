"""(De)serialising findings for the store: measurements as JSON, masks as compressed bits."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.review.masks import decode_mask, encode_mask

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

_MEASURES = ("centroid_index", "centroid_lps", "bbox", "volume_ml", "long_axis_mm", "short_axis_mm", "mean_hu",
             "max_hu", "mean_prob", "max_prob", "class_probabilities", "label", "origin")  # fmt: skip


@dataclass(frozen=True)
class AiRun:
    """One immutable AI result as the review store keeps it."""

    run_id: str
    series_uid: str
    study_uid: str
    model_ref: str  # e.g. "lung-nodule-seg@1.0.0#sha256:ab12..; lung-lesion-cls@1.0.0#..."
    input_pixel_sha256: str
    provenance: dict[str, Any]
    findings: tuple[Finding, ...]
    maps: dict[str, NDArray[np.floating]] = field(default_factory=dict)  # e.g. probability, saliency


def finding_data(finding: Finding) -> str:
    values = {name: getattr(finding, name) for name in _MEASURES}
    return json.dumps(values, sort_keys=True)


def finding_mask(finding: Finding) -> bytes:
    return encode_mask(finding.mask)


def finding_from_row(finding_id: str, data: str, mask: bytes) -> Finding:
    values = json.loads(data)
    return Finding(
        id=finding_id,
        centroid_index=tuple(values["centroid_index"]),
        centroid_lps=tuple(values["centroid_lps"]),
        bbox=tuple(values["bbox"]),
        volume_ml=values["volume_ml"],
        long_axis_mm=values["long_axis_mm"],
        short_axis_mm=values["short_axis_mm"],
        mean_hu=values["mean_hu"],
        max_hu=values["max_hu"],
        mean_prob=values["mean_prob"],
        max_prob=values["max_prob"],
        mask=decode_mask(mask),
        class_probabilities=dict(values["class_probabilities"]),
        label=values["label"],
        origin=values["origin"],
    )
