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

    from meddiag_desktop.inference.analyze import AnalysisResult

_MEASURES = ("centroid_index", "centroid_lps", "bbox", "volume_ml", "long_axis_mm", "short_axis_mm", "mean_hu",
             "max_hu", "mean_prob", "max_prob", "class_probabilities", "label", "origin", "lung_side",
             "lung_zone")  # fmt: skip


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


@dataclass(frozen=True)
class RunSummary:
    """A stored AI run without its findings and maps."""

    run_id: str
    series_uid: str
    study_uid: str
    created_utc: str
    model_ref: str
    input_pixel_sha256: str


@dataclass(frozen=True)
class ReviewSummary:
    """One stored review as listed for export: its latest version and sign-off."""

    review_id: int
    series_uid: str
    study_uid: str
    run_id: str
    created_utc: str
    version: int
    signed_utc: str | None
    signed_by: str


@dataclass(frozen=True)
class ReviewVersion:
    """One version of a review: version 1 is the first review, each later one an amendment."""

    version: int
    opened_utc: str
    opened_by: str
    amendment_reason: str
    signed_utc: str | None
    signed_by: str


def model_ref(result: AnalysisResult) -> str:
    """``id@version#sha256:<graph sha>`` of every model, joined by ``; `` (segmentation first)."""
    parts = []
    for model in result.provenance.models:
        onnx = [h for name, h in model.sha256.items() if name.endswith(".onnx")]
        digest = (onnx or list(model.sha256.values()) or [""])[0]
        parts.append(f"{model.id}@{model.version}#sha256:{digest}")
    return "; ".join(parts)


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
        lung_side=values.get("lung_side", ""),  # findings stored before zones were named have none
        lung_zone=values.get("lung_zone", ""),
    )
