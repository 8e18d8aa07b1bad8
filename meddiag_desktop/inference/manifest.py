"""The model manifest (``models/<id>/manifest.json``, schema version 1) and its validation.

Every field is checked when the manifest is read; a problem raises
:class:`~meddiag_desktop.errors.ModelIntegrityError` naming the model folder and the field.
``files`` maps every file of the model folder except ``manifest.json`` itself (the ONNX
graph, any external-data file and the model card) to its sha256. The optional ``input_contract``
object states finer limits of the intended use (body-part tags, the slice thickness, kVp and
kernels the training scans covered, contrast, minimum age); manifests without it stay valid.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meddiag_desktop.errors import ModelIntegrityError

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
TASKS = ("segmentation", "classification")
ACTIVATIONS = ("sigmoid", "softmax")
NORMALISATIONS = ("window_to_unit", "zscore")
# NCDHW: 3D patches in and out. NSHW: a 2.5D model, one slice per batch item, its neighbour slices
# (``slice_offsets``) as channels; ``patch_size`` is then (slices per batch, max height, max width).
LAYOUTS = ("NCDHW", "NSHW")
# Features of a segmentation candidate a manifest's logistic candidate score may weigh
# (computed in ``inference.candidates``).
CANDIDATE_FEATURES = ("log_volume_ml", "mean_prob", "max_prob", "lung_contact", "elongation", "mean_hu", "in_region")
CONTRASTS = ("any", "with", "without")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class _Fields:
    """Typed accessors over one JSON object; errors name the dotted field path."""

    def __init__(self, data: object, where: str, model: str) -> None:
        if not isinstance(data, dict):
            raise ModelIntegrityError(f"Model '{model}': '{where}' must be an object.")
        self._data: dict[str, Any] = data
        self._where = where
        self._model = model

    def fail(self, key: str, why: str) -> ModelIntegrityError:
        path = f"{self._where}.{key}" if self._where else key
        return ModelIntegrityError(f"Model '{self._model}': manifest field '{path}' {why}.")

    def raw(self, key: str) -> object:
        if key not in self._data:
            raise self.fail(key, "is missing")
        return self._data[key]

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def sub(self, key: str) -> _Fields:
        path = f"{self._where}.{key}" if self._where else key
        return _Fields(self.raw(key), path, self._model)

    def text(self, key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"has an invalid value {value!r}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def number(self, key: str, lo: float = float("-inf"), hi: float = float("inf")) -> float:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "must be a number")
        if not lo <= float(value) <= hi:
            raise self.fail(key, f"must be within [{lo}, {hi}] (got {value})")
        return float(value)

    def numbers(self, key: str, n: int, positive: bool = False) -> tuple[float, ...]:
        value = self.raw(key)
        if (
            not isinstance(value, list)
            or len(value) != n
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise self.fail(key, f"must be a list of {n} numbers")
        out = tuple(float(v) for v in value)
        if positive and min(out) <= 0:
            raise self.fail(key, "must contain positive numbers")
        return out

    def range_(self, key: str) -> tuple[float, float]:
        lo, hi = self.numbers(key, 2)
        if lo > hi:
            raise self.fail(key, f"is an empty range [{lo}, {hi}]")
        return (lo, hi)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(value)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.raw(key)
        if not isinstance(value, dict):
            raise self.fail(key, "must be an object")
        return dict(value)


@dataclass(frozen=True)
class LabelSpec:
    """One output label or class, coded with SNOMED CT where a code exists."""

    value: int
    name: str
    snomed_code: str | None
    snomed_scheme: str
    snomed_meaning: str | None


@dataclass(frozen=True)
class AcceptableRanges:
    slice_thickness_mm: tuple[float, float]
    pixel_spacing_mm: tuple[float, float]
    kvp: tuple[float, float] | None


@dataclass(frozen=True)
class InputContract:
    """Optional, finer limits of the intended use (``input_contract``); checked before a run by ``inference.ood``.

    ``body_parts_examined`` lists the Body Part Examined (0018,0015) values that mean ``body_part``
    (default: ``body_part`` itself). The ``training_*`` entries say what the real training and
    validation scans covered; a series outside them needs an override with a typed reason.
    """

    body_parts_examined: tuple[str, ...] = ()
    training_slice_thickness_mm: tuple[float, float] | None = None
    training_kvp: tuple[float, float] | None = None
    training_kernels: tuple[str, ...] = ()
    contrast: str = "any"  # "with" / "without": a series that names the other needs an override
    min_patient_age_years: float | None = None


@dataclass(frozen=True)
class InputSpec:
    """How to turn a CT volume into the network input.

    ``normalisation`` ``window_to_unit``: ``(clip(hu, lo, hi) - lo) / (hi - lo)`` with
    ``(lo, hi) = clip_hu``; ``zscore``: ``(clip(hu) - mean) / std`` from ``normalisation_params``.
    """

    spacing_mm: tuple[float, float, float]
    orientation: str
    clip_hu: tuple[float, float]
    normalisation: str
    normalisation_params: dict[str, float]
    patch_size: tuple[int, int, int]
    overlap: tuple[float, float, float]  # per axis (z, y, x); a single number in the JSON means all three
    channels: tuple[str, ...]
    layout: str
    input_name: str
    output_name: str
    slice_offsets: tuple[int, ...] = ()
    """``NSHW`` layout only: the model-grid slices, relative to the one segmented, fed as channels."""


@dataclass(frozen=True)
class OutputSpec:
    activation: str
    labels: tuple[LabelSpec, ...]
    threshold: float
    temperature: float


@dataclass(frozen=True)
class CropSpec:
    """Classification crop: ``size_vox`` voxels at ``spacing_mm`` centred on the finding."""

    spacing_mm: tuple[float, float, float]
    size_vox: tuple[int, int, int]


@dataclass(frozen=True)
class PostprocessSpec:
    """Segmentation post-processing: lung-region veto and minimum component size."""

    lung_mask: bool
    lung_margin_mm: float
    min_fraction_in_lung_region: float
    min_volume_ml: float
    score_weights: dict[str, float] = field(default_factory=dict)
    """Logistic weights over candidate features (see ``inference.candidates``); empty: mean probability."""
    score_bias: float = 0.0
    min_score: float = 0.0
    extent_threshold: float | None = None
    """A finding's extent: the voxels above this connected to a core above the operating
    threshold (hysteresis); ``None``: the core alone."""
    coarse_zoom: float | None = None
    """Also segment the scan shrunk by this factor (see ``inference.coarse_pass``): a mass larger
    than the lesions the model was trained on is then seen at a familiar size, and its extent
    reaches voxels the full-resolution pass left below the extent threshold. ``None``: one pass."""
    clip_to_lung_region: bool = False
    """Cut each finding's extent back to the lung region (see ``inference.candidates``)."""

    def extent_for(self, threshold: float) -> float:
        """The extent threshold used with ``threshold`` (never above it)."""
        return threshold if self.extent_threshold is None else min(self.extent_threshold, threshold)


@dataclass(frozen=True)
class Provenance:
    training_script: str
    git_commit: str
    data: str


@dataclass(frozen=True)
class ModelManifest:
    """A validated manifest; build it with :func:`parse_manifest` or :func:`load_manifest`."""

    id: str
    version: str
    task: str
    files: dict[str, str]
    modality: str
    body_part: str
    intended_use: str
    licence: str
    acceptable_ranges: AcceptableRanges
    input: InputSpec
    output: OutputSpec
    crop: CropSpec | None
    postprocess: PostprocessSpec | None
    provenance: Provenance
    metrics: dict[str, Any]
    limitations: tuple[str, ...]
    input_contract: InputContract = field(default_factory=InputContract)

    @property
    def model_file(self) -> str:
        """The ONNX graph's file name (the one ``.onnx`` entry of ``files``)."""
        return next(name for name in self.files if name.endswith(".onnx"))

    @property
    def non_commercial(self) -> bool:
        """True when the licence (usually inherited from the training data) forbids commercial use."""
        text = self.licence.upper().replace(" ", "-")
        return "-NC" in text or "NON-COMMERCIAL" in text or "NONCOMMERCIAL" in text

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.output.labels)


def _labels(f: _Fields) -> tuple[LabelSpec, ...]:
    raw = f.raw("labels")
    if not isinstance(raw, list) or not raw:
        raise f.fail("labels", "must be a non-empty list")
    out = []
    for i, item in enumerate(raw):
        g = _Fields(item, f"{f._where}.labels[{i}]", f._model)
        code = g.text("snomed_code") if g.has("snomed_code") else None
        out.append(
            LabelSpec(
                value=int(g.number("value", 0, 255)),
                name=g.text("name"),
                snomed_code=code,
                snomed_scheme=g.choice("snomed_scheme", ("SCT",)),
                snomed_meaning=g.text("snomed_meaning") if code is not None else None,
            )
        )
    if len({label.value for label in out}) != len(out):
        raise f.fail("labels", "has duplicate values")
    return tuple(out)


def _files(f: _Fields) -> dict[str, str]:
    files = f.mapping("files")
    for name, digest in files.items():
        if "/" in name or "\\" in name or name.startswith(".") or name == MANIFEST_NAME:
            raise f.fail("files", f"lists an invalid file name {name!r}")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise f.fail("files", f"has an invalid sha256 for {name!r}")
    onnx = [name for name in files if name.endswith(".onnx")]
    if len(onnx) != 1:
        raise f.fail("files", f"must list exactly one .onnx file (found {len(onnx)})")
    return files


def _input(f: _Fields) -> InputSpec:
    spacing = f.numbers("spacing_mm", 3, positive=True)
    patch = f.numbers("patch_size", 3, positive=True)
    norm = f.sub("normalisation")
    params = {k: float(v) for k, v in norm._data.items() if k != "type" and isinstance(v, int | float)}
    layout = f.choice("layout", LAYOUTS)
    channels = f.strings("channels")
    if channels != ("ct",):
        raise f.fail("channels", f'must be ["ct"] for this runtime (got {list(channels)})')
    return InputSpec(
        spacing_mm=(spacing[0], spacing[1], spacing[2]),
        orientation=f.choice("orientation", ("axial LPS",)),
        clip_hu=f.range_("clip_hu"),
        normalisation=norm.choice("type", NORMALISATIONS),
        normalisation_params=params,
        patch_size=(int(patch[0]), int(patch[1]), int(patch[2])),
        overlap=_overlap(f),
        channels=channels,
        layout=layout,
        input_name=f.text("input_name"),
        output_name=f.text("output_name"),
        slice_offsets=_slice_offsets(f) if layout == "NSHW" else (),
    )


def _slice_offsets(f: _Fields) -> tuple[int, ...]:
    """Neighbour slices of a 2.5D model: whole numbers, the segmented slice (0) among them."""
    raw = f.raw("slice_offsets")
    if not isinstance(raw, list) or not raw or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        raise f.fail("slice_offsets", "must be a non-empty list of whole numbers")
    if 0 not in raw or len(set(raw)) != len(raw) or max(abs(v) for v in raw) > 64:
        raise f.fail("slice_offsets", f"must hold 0 and distinct offsets within +-64 (got {raw})")
    return tuple(raw)


def _overlap(f: _Fields) -> tuple[float, float, float]:
    """Sliding-window overlap: one fraction for every axis, or ``[z, y, x]``."""
    if isinstance(f.raw("overlap"), list):
        z, y, x = f.numbers("overlap", 3)
        if not all(0.0 <= v <= 0.9 for v in (z, y, x)):
            raise f.fail("overlap", f"must hold fractions within [0.0, 0.9] (got {[z, y, x]})")
        return (z, y, x)
    v = f.number("overlap", 0.0, 0.9)
    return (v, v, v)


def _output(f: _Fields, task: str) -> OutputSpec:
    activation = f.choice("activation", ACTIVATIONS)
    if task == "classification" and activation != "softmax":
        raise f.fail("activation", "must be softmax for a classification model")
    return OutputSpec(
        activation=activation,
        labels=_labels(f),
        threshold=f.number("threshold", 0.0, 1.0),
        temperature=f.number("temperature", 1e-3, 100.0),
    )


def _crop(f: _Fields) -> CropSpec:
    spacing = f.numbers("spacing_mm", 3, positive=True)
    size = f.numbers("size_vox", 3, positive=True)
    return CropSpec((spacing[0], spacing[1], spacing[2]), (int(size[0]), int(size[1]), int(size[2])))


def _postprocess(f: _Fields) -> PostprocessSpec:
    return PostprocessSpec(
        lung_mask=_flag(f, "lung_mask"),
        lung_margin_mm=f.number("lung_margin_mm", 0.0, 50.0),
        min_fraction_in_lung_region=f.number("min_fraction_in_lung_region", 0.0, 1.0),
        min_volume_ml=f.number("min_volume_ml", 0.0, 1000.0),
        score_weights=_weights(f) if f.has("score_weights") else {},
        score_bias=f.number("score_bias", -100.0, 100.0) if f.has("score_bias") else 0.0,
        min_score=f.number("min_score", 0.0, 1.0) if f.has("min_score") else 0.0,
        extent_threshold=f.number("extent_threshold", 0.0, 1.0) if f.has("extent_threshold") else None,
        coarse_zoom=f.number("coarse_zoom", 1.0, 4.0) if f.has("coarse_zoom") else None,
        clip_to_lung_region=_flag(f, "clip_to_lung_region") if f.has("clip_to_lung_region") else False,
    )


def _flag(f: _Fields, name: str) -> bool:
    value = f.raw(name)
    if not isinstance(value, bool):
        raise f.fail(name, "must be true or false")
    return value


def _weights(f: _Fields) -> dict[str, float]:
    raw = f.mapping("score_weights")
    unknown = set(raw) - set(CANDIDATE_FEATURES)
    if unknown:
        known = ", ".join(CANDIDATE_FEATURES)
        raise f.fail("score_weights", f"names unknown features {sorted(unknown)} (known: {known})")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw.values()):
        raise f.fail("score_weights", "must map feature names to numbers")
    return {k: float(v) for k, v in raw.items()}


def _ranges(f: _Fields) -> AcceptableRanges:
    return AcceptableRanges(
        slice_thickness_mm=f.range_("slice_thickness_mm"),
        pixel_spacing_mm=f.range_("pixel_spacing_mm"),
        kvp=f.range_("kvp") if f.has("kvp") else None,
    )


def _contract(f: _Fields) -> InputContract:
    def optional_range(key: str) -> tuple[float, float] | None:
        return f.range_(key) if f.has(key) else None

    age = f.number("min_patient_age_years", 0.0, 120.0) if f.has("min_patient_age_years") else None
    return InputContract(
        body_parts_examined=f.strings("body_parts_examined") if f.has("body_parts_examined") else (),
        training_slice_thickness_mm=optional_range("training_slice_thickness_mm"),
        training_kvp=optional_range("training_kvp"),
        training_kernels=f.strings("training_kernels") if f.has("training_kernels") else (),
        contrast=f.choice("contrast", CONTRASTS) if f.has("contrast") else "any",
        min_patient_age_years=age,
    )


def parse_manifest(data: object, folder_name: str = "?") -> ModelManifest:
    """Validate a decoded manifest object and return it typed."""
    f = _Fields(data, "", folder_name)
    version = f.raw("schema_version")
    if version != SCHEMA_VERSION:
        raise f.fail("schema_version", f"must be {SCHEMA_VERSION} (got {version!r})")
    model_id = f.text("id", _ID)
    if folder_name not in ("?", model_id):
        raise f.fail("id", f"is {model_id!r} but the folder is named {folder_name!r}")
    task = f.choice("task", TASKS)
    prov = f.sub("provenance")
    limitations = f.strings("limitations")
    if not limitations:
        raise f.fail("limitations", "must list at least one limitation")
    return ModelManifest(
        id=model_id,
        version=f.text("version", _SEMVER),
        task=task,
        files=_files(f),
        modality=f.choice("modality", ("CT",)),
        body_part=f.text("body_part"),
        intended_use=f.text("intended_use"),
        licence=f.text("licence"),
        acceptable_ranges=_ranges(f.sub("acceptable_ranges")),
        input=_input(f.sub("input")),
        output=_output(f.sub("output"), task),
        crop=_crop(f.sub("crop")) if task == "classification" else None,
        postprocess=_postprocess(f.sub("postprocess")) if task == "segmentation" else None,
        provenance=Provenance(prov.text("training_script"), prov.text("git_commit"), prov.text("data")),
        metrics=f.mapping("metrics"),
        limitations=limitations,
        input_contract=_contract(f.sub("input_contract")) if f.has("input_contract") else InputContract(),
    )


def load_manifest(folder: Path) -> ModelManifest:
    """Read and validate ``folder/manifest.json`` (hashes are checked by the registry)."""
    path = folder / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelIntegrityError(f"Model folder '{folder.name}' has no {MANIFEST_NAME}.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(
            f"Model folder '{folder.name}': {MANIFEST_NAME} is not readable JSON ({exc})."
        ) from exc
    return parse_manifest(data, folder.name)
