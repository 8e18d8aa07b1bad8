"""The public entry point: segment + classify a CT volume and return auditable findings.

``analyze_volume`` is synchronous and Qt-free; the GUI runs it in a worker, the CLI calls it
directly. Every result carries the models' ids, versions and sha256s, the input series UID,
a hash of the input pixels, all parameters and UTC timestamps.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.errors import InferenceError
from meddiag_desktop.inference import classify, ood
from meddiag_desktop.inference.candidates import GridMaps, grid_candidates, native_finding, native_probability
from meddiag_desktop.inference.coarse_pass import with_coarse_pass
from meddiag_desktop.inference.lung_mask import lung_region
from meddiag_desktop.inference.lung_mask import lungs as lungs_of
from meddiag_desktop.inference.lung_zones import LungZones
from meddiag_desktop.inference.preprocess import (
    check_volume,
    normalise,
    pixel_sha256,
    to_model_input,
)
from meddiag_desktop.inference.session import SessionOptions
from meddiag_desktop.inference.slice_stack import slice_stack
from meddiag_desktop.inference.sliding_window import PatchFn, sliding_window

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.manifest import ModelManifest
    from meddiag_desktop.inference.preprocess import ModelInput
    from meddiag_desktop.inference.registry import ModelRegistry
    from meddiag_desktop.inference.session import ModelSession

logger = logging.getLogger(__name__)


def _software_version() -> str:
    try:
        return metadata.version("meddiag-desktop")
    except metadata.PackageNotFoundError:
        return "unknown"


DEFAULT_SEG_MODEL = "lung-nodule-seg"
DEFAULT_CLS_MODEL = "lung-lesion-cls"


@dataclass(frozen=True)
class ModelProvenance:
    """Which model produced a result, pinned by the sha256 of each of its files."""

    id: str
    version: str
    task: str
    sha256: dict[str, str]
    source: str

    @classmethod
    def of(cls, manifest: ModelManifest, source: str) -> ModelProvenance:
        return cls(manifest.id, manifest.version, manifest.task, dict(manifest.files), source)


@dataclass(frozen=True)
class AnalysisProvenance:
    """Everything a later audit needs to trace a result back to its inputs."""

    models: tuple[ModelProvenance, ...]
    series_instance_uid: str
    input_pixel_sha256: str
    input_shape: tuple[int, int, int]
    parameters: dict[str, Any]
    started_utc: str
    finished_utc: str
    software_version: str = field(default_factory=_software_version)


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Findings, the probability map on the input grid (float16), explanations, provenance."""

    findings: tuple[Finding, ...]
    probability: NDArray[np.float16]
    explanations: dict[str, classify.OcclusionMap]
    provenance: AnalysisProvenance
    warnings: tuple[str, ...] = field(default=())
    finding_features: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per finding id: the candidate features on the model grid and the candidate score."""
    input_check: InputCheck | None = None
    """The series' out-of-distribution check (``inference.ood``) and the override that let it run."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (masks and maps are summarised, not embedded)."""
        prov = dataclasses.asdict(self.provenance)
        return {
            "findings": [{**f.to_dict(), "candidate": self.finding_features.get(f.id, {})} for f in self.findings],
            "warnings": list(self.warnings),
            "input_check": self.input_check.to_dict() if self.input_check else None,
            "provenance": prov,
            "probability_map": {
                "dtype": "float16",
                "shape": list(self.probability.shape),
                "max": float(self.probability.max(initial=0.0)),
            },
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _patch_fn(session: ModelSession) -> PatchFn:
    m = session.manifest
    temperature = m.output.temperature

    def run(batch: NDArray[np.float32]) -> NDArray[np.float32]:
        logits = session.run(batch)
        if m.output.activation == "sigmoid":  # in place: this runs once per window, on ~0.4 M voxels
            np.multiply(logits, np.float32(-1.0 / temperature), out=logits)
            np.exp(logits, out=logits)
            logits += np.float32(1.0)
            return np.reciprocal(logits, out=logits)
        return classify.softmax(logits, temperature)[:, 1:2]

    return run


def _segment(
    session: ModelSession, prep: ModelInput, progress: ProgressFn, cancel: CancelToken | None
) -> NDArray[np.float32]:
    spec = session.manifest.input
    pad_value = float(normalise(np.array([-1024.0], dtype=np.float32), spec)[0])
    run = _patch_fn(session)
    out = np.zeros(prep.hu.shape, dtype=np.float32)
    if spec.layout == "NSHW":  # windowed batch by batch: no normalised copy of the volume
        slice_stack(
            prep.hu[prep.crop_slices],
            spec.slice_offsets,
            spec.patch_size,
            spec.overlap,
            run,
            pad_value,
            progress,
            cancel,
            prepare=lambda block: normalise(block, spec),
            out=out[prep.crop_slices],
        )
    else:
        image = normalise(prep.hu[prep.crop_slices], spec)
        out[prep.crop_slices] = sliding_window(image, spec.patch_size, spec.overlap, run, pad_value, progress, cancel)
    return out


def _grid_maps(prep: ModelInput, prob: NDArray[np.float32], manifest: ModelManifest) -> GridMaps:
    post = manifest.postprocess
    if post is None or not post.lung_mask:
        return GridMaps(prep.grid, prob, prep.hu, None, None)
    slabs = prep.masks
    lungs = lungs_of(slabs.hu, slabs.spacing, slabs.body)
    region = slabs.expand(lung_region(lungs, slabs.spacing, post.lung_margin_mm))
    zones = LungZones.of(lungs, prep.grid, slabs.factor)
    return GridMaps(prep.grid, prob, prep.hu, slabs.expand(lungs.left | lungs.right), region, zones)


def _findings(
    volume: Volume, maps: GridMaps, manifest: ModelManifest, threshold: float, native_prob: NDArray[np.float16]
) -> tuple[list[Finding], dict[str, dict[str, float]]]:
    out: list[Finding] = []
    features: dict[str, dict[str, float]] = {}
    post = manifest.postprocess
    extent = post.extent_for(threshold) if post else threshold
    for candidate, score in grid_candidates(maps, threshold, post):
        fid = f"F{len(out) + 1}"
        finding = native_finding(fid, candidate, maps.prob, maps.grid, volume, native_prob, extent)
        if finding is not None:
            out.append(maps.zones.place(finding) if maps.zones is not None else finding)
            features[fid] = {**candidate.features(), "score": score}
    return out, features


def _classify(
    volume: Volume, found: list[Finding], session: ModelSession, cancel: CancelToken | None
) -> tuple[list[Finding], dict[str, classify.OcclusionMap]]:
    out, maps = [], {}
    for f in found:
        if cancel is not None:
            cancel.raise_if_cancelled("Classification")
        crop, grid = classify.crop_for(volume, f, session.manifest)
        probs = classify.predict(session, crop[None])[0]
        names = session.manifest.class_names
        out.append(dataclasses.replace(f, class_probabilities={n: float(p) for n, p in zip(names, probs, strict=True)}))
        maps[f.id] = classify.occlusion_map(session, crop, grid, f.id)
    return out, maps


def analyze_volume(
    volume: Volume,
    registry: ModelRegistry,
    *,
    seg_model_id: str = DEFAULT_SEG_MODEL,
    cls_model_id: str | None = DEFAULT_CLS_MODEL,
    threads: int = 0,
    providers: tuple[str, ...] | None = ("CPUExecutionProvider",),
    threshold: float | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    input_check: InputCheck | None = None,
) -> AnalysisResult:
    """Segment lesions, measure them, classify each, and explain the classification.

    Parameters
    ----------
    volume
        A CT volume in HU.
    registry
        Where the models are found and verified (sha256) before use.
    seg_model_id, cls_model_id
        Models to run; ``cls_model_id=None`` skips classification.
    threads
        onnxruntime intra-op threads (0 = all cores).
    providers
        Execution providers (``None`` = best available; CPU is the default).
    threshold
        Override the segmentation model's operating threshold.
    input_check
        The series' input check (``inference.ood.assess``, with the override its soft issues
        need); kept with the result. Without one, spacing outside the model's range is refused.
        The loader's geometry warnings are copied into the result's warnings either way.

    Raises
    ------
    ModelIntegrityError
        A model failed hash or manifest validation.
    InferenceError
        The volume is outside the model's intended use, or a model run failed.
    Cancelled
        ``cancel`` was triggered.
    """
    started = _now()
    options = SessionOptions(threads=threads, providers=providers)
    seg = registry.session(seg_model_id, options)
    if seg.manifest.task != "segmentation":
        raise InferenceError(f"Model '{seg_model_id}' is not a segmentation model.")
    cls = registry.session(cls_model_id, options) if cls_model_id else None
    if input_check is not None:
        ood.require_for(input_check, volume, seg.manifest)
    overridden = input_check is not None and input_check.override is not None
    warnings = [w.message for w in volume.warnings] + check_volume(volume, seg.manifest, overridden=overridden)
    progress(0, 1, "Preparing")
    thr = seg.manifest.output.threshold if threshold is None else threshold
    prep = to_model_input(volume, seg.manifest)
    prob_grid = _segment(seg, prep, progress, cancel)
    zoom = seg.manifest.postprocess.coarse_zoom if seg.manifest.postprocess else None
    if zoom is not None:
        with_coarse_pass(prep, prob_grid, zoom, thr, lambda p, report: _segment(seg, p, report, cancel), progress)
    grid_maps = _grid_maps(prep, prob_grid, seg.manifest)
    del prep, prob_grid  # the grid maps keep what the findings need; the body and slab masks go
    progress(0, 1, "Measuring findings")
    prob = native_probability(grid_maps.prob, grid_maps.grid, volume)
    found, features = _findings(volume, grid_maps, seg.manifest, thr, prob)
    del grid_maps
    maps: dict[str, classify.OcclusionMap] = {}
    if cls is not None:
        found, maps = _classify(volume, found, cls, cancel)
    params = {
        "threshold": thr,
        "overlap": list(seg.manifest.input.overlap),
        "patch_size": list(seg.manifest.input.patch_size),
        "model_spacing_mm": list(seg.manifest.input.spacing_mm),
        "threads": threads,
        "providers": seg.providers,
        "postprocess": dataclasses.asdict(seg.manifest.postprocess) if seg.manifest.postprocess else None,
        "occlusion_hu": classify.OCCLUSION_HU,
    }
    models = [ModelProvenance.of(seg.manifest, registry.entry(seg_model_id).source)]
    if cls is not None and cls_model_id:
        models.append(ModelProvenance.of(cls.manifest, registry.entry(cls_model_id).source))
    provenance = AnalysisProvenance(
        tuple(models), volume.series_instance_uid, pixel_sha256(volume), volume.shape, params, started, _now()
    )
    logger.info("analysis found %d finding(s)", len(found))
    return AnalysisResult(tuple(found), prob, maps, provenance, tuple(warnings), features, input_check)


def format_findings_table(result: AnalysisResult) -> str:
    """A plain-text findings table for the terminal (no patient identifiers)."""
    head = (
        f"{'id':<4} {'slices':>9} {'centre LPS (mm)':>24} {'vol mL':>8} {'long mm':>8} "
        f"{'short mm':>8} {'mean HU':>8} {'max p':>6} {'score':>6}  class"
    )
    lines = [head, "-" * len(head)]
    for f in result.findings:
        z0, z1 = f.bbox[0], f.bbox[3] - 1
        c = ", ".join(f"{v:.1f}" for v in f.centroid_lps)
        cls = f"{f.top_class} {f.class_probabilities[f.top_class]:.2f}" if f.top_class else "-"
        score = result.finding_features.get(f.id, {}).get("score")
        score_text = f"{score:6.2f}" if score is not None else f"{'-':>6}"
        lines.append(
            f"{f.id:<4} {f'{z0}-{z1}':>9} {c:>24} {f.volume_ml:8.2f} {f.long_axis_mm:8.1f} "
            f"{f.short_axis_mm:8.1f} {f.mean_hu:8.0f} {f.max_prob:6.2f} {score_text}  {cls}"
        )
    if not result.findings:
        lines.append("(no findings)")
    models = "; ".join(
        f"{m.id} {m.version} sha256:{m.sha256[next(iter(m.sha256))][:12]}" for m in result.provenance.models
    )
    lines.append(f"models: {models}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    lines.append("Decision support only; not a medical device.")
    return "\n".join(lines)
