"""Which models a batch runs, pinned by sha256 so that every worker provably runs the same ones."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from meddiag_desktop.config import Settings
from meddiag_desktop.errors import ModelIntegrityError
from meddiag_desktop.inference.manifest import MANIFEST_NAME
from meddiag_desktop.inference.registry import ModelRegistry, sha256_file


@dataclass(frozen=True)
class ModelSpec:
    """Where a worker finds the models, and which to run. Picklable.

    ``None`` folders mean the worker's own: its installed built-in models and its per-user models
    folder (the paths differ between machines; the sha256 pin makes sure the models do not).
    """

    seg_model_id: str
    cls_model_id: str | None
    builtin_dir: str | None = None
    user_dir: str | None = None

    def registry(self) -> ModelRegistry:
        return worker_registry(self.builtin_dir, self.user_dir)


@dataclass(frozen=True)
class ModelPin:
    """The models' graph sha256s and their manifests' sha256s, combined; ``ref`` names them."""

    sha256: str
    settings_sha256: str
    ref: str


@functools.cache
def worker_registry(builtin_dir: str | None, user_dir: str | None) -> ModelRegistry:
    """One registry per folder pair and process, so each worker creates each session once, not once a study."""
    settings = Settings()
    builtin = Path(builtin_dir) if builtin_dir else settings.builtin_models_dir
    return ModelRegistry(builtin, Path(user_dir) if user_dir else settings.user_models_dir)


def pin_models(spec: ModelSpec) -> ModelPin:
    """Verify the models (every file against its manifest) and pin them.

    Raises
    ------
    ModelIntegrityError
        A model is missing or its files do not match its manifest.
    """
    registry = spec.registry()
    graphs, manifests, refs = hashlib.sha256(), hashlib.sha256(), []
    for model_id in filter(None, (spec.seg_model_id, spec.cls_model_id)):
        verified = registry.verify(model_id)
        m = verified.manifest
        graphs.update(f"{m.id}\0{m.files[m.model_file]}\n".encode())
        manifests.update(f"{m.id}\0{sha256_file(verified.folder / MANIFEST_NAME)}\n".encode())
        refs.append(f"{m.id}@{m.version}#sha256:{m.files[m.model_file]}")
    return ModelPin(graphs.hexdigest(), manifests.hexdigest(), "; ".join(refs))


@functools.cache
def worker_pin(spec: ModelSpec) -> ModelPin:
    """The pin of this worker's models, computed once per process (hashing a model takes ~50 ms)."""
    return pin_models(spec)


def check_same_models(spec: ModelSpec, expected: ModelPin) -> None:
    """Raise when this worker's models are not the ones the batch was started with."""
    mine = worker_pin(spec)
    if mine != expected:
        raise ModelIntegrityError(
            f"This worker's models ({mine.ref}) differ from those the batch was started with ({expected.ref}); "
            "install the same models on every worker."
        )
