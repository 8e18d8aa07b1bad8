"""Per-case analysis cache: a re-run of ``validate`` skips scans it has already analysed.

One JSON file per case in ``<out>/cases/``, named by a sha256 over the series UID, the slice-
thickness variant, the model's sha256 (and its manifest's), and the sha256 of the input pixels
(``inference.preprocess.pixel_sha256``). It holds the model's findings with their masks (bit-
packed, zlib, base64) and candidate features, not the metrics: matching rules and the FROC
score are re-applied on every run, so changing them never needs a re-analysis. The file also
records what its name was computed from, so a new candidate score can be applied to a kept
folder of outcomes without the scans (``training.fold_record``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.core.finding import Finding

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_VERSION = 3  # 2: scores per finding; 3: candidate features per finding


@dataclass(frozen=True, eq=False)
class AnalysisOutcome:
    """What the model produced on one scan: findings, or the reason it refused the scan."""

    findings: tuple[Finding, ...]
    warnings: tuple[str, ...] = ()
    refused: str = ""
    seconds: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    """The model's own score per finding id (its candidate score), when it gives one."""
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    """The candidate features per finding id (``inference.candidates.Candidate.features``)."""


def cache_key(series_uid: str, variant: str, model_sha256: str, settings_sha256: str, pixel_sha256: str) -> str:
    """The hex sha256 naming one case's cache file."""
    return digest_key(series_digest(series_uid), variant, model_sha256, settings_sha256, pixel_sha256)


def series_digest(series_uid: str) -> str:
    """The sha256 of a series UID: the cache file records this, never the UID itself."""
    return hashlib.sha256(series_uid.encode()).hexdigest()


def digest_key(series_sha256: str, variant: str, model_sha256: str, settings_sha256: str, pixel_sha256: str) -> str:
    """:func:`cache_key` from the digest of the series UID, as a cache file records it."""
    text = "\n".join([str(CACHE_VERSION), series_sha256, variant, model_sha256, settings_sha256, pixel_sha256])
    return hashlib.sha256(text.encode()).hexdigest()


def _mask_text(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> str:
    return base64.b64encode(zlib.compress(np.packbits(mask, axis=None).tobytes())).decode("ascii")


def _mask_from(text: str, shape: tuple[int, int, int]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    bits = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8)
    return np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool)


def finding_to_json(f: Finding) -> dict[str, Any]:
    """A finding, mask included, as JSON-ready values (round-trips exactly)."""
    return {
        "id": f.id, "centroid_index": list(f.centroid_index), "centroid_lps": list(f.centroid_lps),
        "bbox": list(f.bbox), "volume_ml": f.volume_ml, "long_axis_mm": f.long_axis_mm,
        "short_axis_mm": f.short_axis_mm, "mean_hu": f.mean_hu, "max_hu": f.max_hu, "mean_prob": f.mean_prob,
        "max_prob": f.max_prob, "class_probabilities": f.class_probabilities, "label": f.label,
        "origin": f.origin, "mask": _mask_text(f.mask), "lung_side": f.lung_side, "lung_zone": f.lung_zone,
    }  # fmt: skip


def finding_from_json(d: dict[str, Any]) -> Finding:
    """The inverse of :func:`finding_to_json`."""
    z0, y0, x0, z1, y1, x1 = (int(v) for v in d["bbox"])
    c, lps = d["centroid_index"], d["centroid_lps"]
    return Finding(
        d["id"], (c[0], c[1], c[2]), (lps[0], lps[1], lps[2]), (z0, y0, x0, z1, y1, x1),
        d["volume_ml"], d["long_axis_mm"], d["short_axis_mm"], d["mean_hu"], d["max_hu"], d["mean_prob"],
        d["max_prob"], _mask_from(d["mask"], (z1 - z0, y1 - y0, x1 - x0)),
        {str(k): float(v) for k, v in d["class_probabilities"].items()}, d["label"], d["origin"],
        d.get("lung_side", ""), d.get("lung_zone", ""),
    )  # fmt: skip


def load_outcome(folder: Path, key: str) -> AnalysisOutcome | None:
    """The cached outcome for ``key``, or ``None`` (missing or unreadable: then it is re-analysed)."""
    path = folder / f"{key}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return outcome_from_json(data)
    except (OSError, ValueError, KeyError, TypeError, zlib.error) as exc:
        logger.warning("cached case %s unreadable, analysing again: %s", key[:12], exc)
        return None


def outcome_from_json(data: dict[str, Any]) -> AnalysisOutcome:
    """The outcome held in a cache file's JSON (raises KeyError, ValueError or TypeError if malformed)."""
    findings = tuple(finding_from_json(f) for f in data["findings"])
    scores = {str(k): float(v) for k, v in data.get("scores", {}).items()}
    features = {
        str(fid): {str(k): float(v) for k, v in values.items()} for fid, values in data.get("features", {}).items()
    }
    return AnalysisOutcome(
        findings, tuple(data["warnings"]), str(data["refused"]), float(data["seconds"]), scores, features
    )


def outcome_to_json(outcome: AnalysisOutcome, about: dict[str, Any]) -> dict[str, Any]:
    """A cache file's JSON: ``about`` (what the case and key were) plus the outcome."""
    return {
        "cache_version": CACHE_VERSION, **about, "findings": [finding_to_json(f) for f in outcome.findings],
        "warnings": list(outcome.warnings), "refused": outcome.refused, "seconds": outcome.seconds,
        "scores": outcome.scores, "features": outcome.features,
    }  # fmt: skip


def save_outcome(folder: Path, key: str, outcome: AnalysisOutcome, about: dict[str, Any]) -> Path:
    """Write one case's outcome atomically (a cancelled run never leaves half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = outcome_to_json(outcome, about)
    path = folder / f"{key}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)
    return path
