"""The false-positive-reduction stage: a logistic score over segmentation candidates, learned
from real negatives, checked leave-one-patient-out.

Every candidate comes from a fold model that never saw its patient (``lopo`` stage), run on
that patient natively and with ~8 mm slices; its features are read from the fold's validation
cache, so folds recorded in earlier sessions serve as well (``training.fold_record``). Real
hilar vessels, aorta, oesophagus, heart border and chest-wall candidates are the negatives,
the candidates on the reference tumours the positives. A small L2-regularised logistic
regression over the candidate features of ``meddiag_desktop.inference.candidates``
(standardised, then folded back into raw weights for the manifest) scores them. For the
figures of patient P the weights are fitted on the other three patients' candidates only; the
shipped weights are fitted on all four.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.inference.manifest import CANDIDATE_FEATURES
from meddiag_desktop.validation.cache import cache_key, load_outcome
from training import fold_record

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

L2 = 1.0
# On the fold candidates: a margin under the 2 per scan the issue allows, and a looser cut (peak
# probability >= ~0.8 for a round candidate) than 1.0 per scan (>= ~0.9), which halved the
# sensitivity on held-out synthetic lesions.
TARGET_FP_PER_SCAN = 1.5
# Only what tells a lesion from a normal structure on any chest CT. Size, density, lung contact and
# lung-region share learn where and how big this corpus's tumours are (with every feature the fit
# put -46 on the lung-region share). Roundness was tried too: its weight changed sign between two
# and three folds (+1.5, -1.2), so on these patients it carries no signal, and it is left out. The
# network's peak probability remains: leave-one-patient-out over three folds it kept 5 of 6 hits
# and 9 of 26 false findings (with roundness: 5 of 6 and 14 of 26).
SCORE_FEATURES = ("max_prob",)


@dataclass
class Sample:
    patient: str
    variant: str
    features: dict[str, float]
    positive: bool  # the hit finding of a reference lesion
    false: bool  # shares no voxel with any reference lesion


def collect(work: Path, patients: tuple[str, ...]) -> list[Sample]:
    """Candidates of each named patient's fold model on that patient (native and ~8 mm), labelled."""
    samples: list[Sample] = []
    for held in patients:
        samples += _fold_samples(work, held)
    return samples


def _fold_samples(work: Path, held: str) -> list[Sample]:
    """The findings of the fold's validation (``summary.json``) with their recorded candidate features."""
    fold = work / "lopo" / held
    model = fold_record.fold_model(fold)
    cases = fold / "validation" / fold_record.CASES
    samples = []
    for case in json.loads((fold / "summary.json").read_text()):
        if case["status"] != "analysed":
            continue
        uid, variant = case["series_instance_uid"], case["variant"]
        key = cache_key(uid, variant, model.sha256, model.settings_sha256, case["pixel_sha256"])
        outcome = load_outcome(cases, key)
        if outcome is None:
            raise RuntimeError(f"fold {held}: the validation cache has no {variant} case")
        samples += [
            Sample(held, variant, outcome.features[f["id"]], f["status"] == "hit", f["status"] == "false")
            for f in case["findings"]
        ]
    return samples


def _matrix(samples: list[Sample], names: tuple[str, ...] = CANDIDATE_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray([[s.features[name] for name in names] for s in samples], dtype=np.float64)
    y = np.asarray([s.positive for s in samples], dtype=np.float64)
    return x, y


def fit(samples: list[Sample]) -> tuple[dict[str, float], float]:
    """Raw-feature weights (zero outside ``SCORE_FEATURES``) and bias of an L2 logistic regression."""
    usable = [s for s in samples if s.positive or s.false]
    x, y = _matrix(usable, SCORE_FEATURES)
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    penalty = np.diag([0.0] + [L2] * (z.shape[1] - 1))
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        grad = z.T @ (p - y) + penalty @ w
        hess = z.T @ (z * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    raw = w[1:] / std
    bias = float(w[0] - (raw * mean).sum())
    fitted = dict(zip(SCORE_FEATURES, raw, strict=True))
    return {name: float(fitted.get(name, 0.0)) for name in CANDIDATE_FEATURES}, bias


def score(samples: list[Sample], weights: dict[str, float], bias: float) -> np.ndarray:
    x, _ = _matrix(samples)
    return 1.0 / (1.0 + np.exp(-(x @ np.asarray([weights[n] for n in CANDIDATE_FEATURES]) + bias)))


def operating_point(samples: list[Sample], scores: np.ndarray, scans: int) -> float:
    """The lowest score threshold keeping false findings at or under the target per scan."""
    false = np.sort(scores[[s.false for s in samples]])[::-1]
    allowed = int(TARGET_FP_PER_SCAN * scans)
    if len(false) <= allowed:
        return 0.0
    return float(false[allowed]) + 1e-6


def leave_one_patient_out(samples: list[Sample], patients: tuple[str, ...]) -> dict[str, Any]:
    """Per patient: weights fitted without it, its candidates scored, the fold's operating point."""
    folds: dict[str, Any] = {}
    for held in patients:
        train = [s for s in samples if s.patient != held]
        test = [s for s in samples if s.patient == held]
        weights, bias = fit(train)
        scans = len({(s.patient, s.variant) for s in train})
        threshold = operating_point(train, score(train, weights, bias), scans)
        folds[held] = {"weights": weights, "bias": bias, "min_score": threshold}
        kept = score(test, weights, bias) >= threshold if test else np.zeros(0, bool)
        log.info(
            "score fold %s: keeps %d of %d hits, %d of %d false", held,
            sum(k and s.positive for k, s in zip(kept, test, strict=True)), sum(s.positive for s in test),
            sum(k and s.false for k, s in zip(kept, test, strict=True)), sum(s.false for s in test),
        )  # fmt: skip
    return folds


def final(samples: list[Sample]) -> dict[str, Any]:
    weights, bias = fit(samples)
    scans = len({(s.patient, s.variant) for s in samples})
    return {
        "weights": weights,
        "bias": bias,
        "min_score": operating_point(samples, score(samples, weights, bias), scans),
    }
