"""onnxruntime sessions: execution-provider choice, thread count, deterministic CPU runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from meddiag_desktop.errors import InferenceError, ModelIntegrityError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.inference.manifest import ModelManifest

logger = logging.getLogger(__name__)

# Accelerators used when present, in order of preference; the CPU is always last.
PREFERRED_PROVIDERS = (
    "CUDAExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
    "CPUExecutionProvider",
)


@dataclass(frozen=True)
class SessionOptions:
    """How to run a model.

    Parameters
    ----------
    threads
        Intra-op threads; 0 lets onnxruntime use every core.
    providers
        Execution providers to use, or ``None`` for the best available (CPU by default).
    optimize
        Apply all onnxruntime graph optimisations (constant folding, conv fusion, ...).
    """

    threads: int = 0
    providers: tuple[str, ...] | None = ("CPUExecutionProvider",)
    optimize: bool = True


def choose_providers(requested: tuple[str, ...] | None) -> list[str]:
    """The providers to pass to onnxruntime: requested ones that exist, CPU always last."""
    available = set(ort.get_available_providers())
    wanted = PREFERRED_PROVIDERS if requested is None else requested
    chosen = [p for p in wanted if p in available and p != "CPUExecutionProvider"]
    return [*chosen, "CPUExecutionProvider"]


class ModelSession:
    """One onnxruntime session for one verified model; ``run`` maps a batch to outputs."""

    def __init__(self, manifest: ModelManifest, model_bytes: bytes, options: SessionOptions) -> None:
        self.manifest = manifest
        self.options = options
        ort.disable_telemetry_events()  # second guard; ORT_DISABLE_TELEMETRY (inference/_offline.py) is the opt-out
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(0, options.threads)
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if options.optimize
            else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        )
        so.use_deterministic_compute = True
        # Sessions are cached for the app's lifetime; an arena would keep each model's peak
        # activations (~400 MB for the 2.5D ensemble) resident after every run. Measured: no slower.
        so.enable_cpu_mem_arena = False
        so.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                model_bytes, sess_options=so, providers=choose_providers(options.providers)
            )
        except (RuntimeError, ValueError) as exc:  # onnxruntime raises its own RuntimeError subclasses
            raise ModelIntegrityError(
                f"Model '{manifest.id}' {manifest.version} could not be loaded by onnxruntime: {exc}"
            ) from exc
        names = {i.name for i in self._session.get_inputs()}
        if manifest.input.input_name not in names:
            raise ModelIntegrityError(
                f"Model '{manifest.id}': the graph has no input named "
                f"'{manifest.input.input_name}' (it has {sorted(names)})."
            )
        logger.info("session for %s %s on %s", manifest.id, manifest.version, self.providers)

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Run the network on an ``NCDHW`` float32 batch and return its raw output."""
        feed = {self.manifest.input.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        try:
            out = self._session.run([self.manifest.input.output_name], feed)
        except (RuntimeError, ValueError) as exc:
            raise InferenceError(f"Model '{self.manifest.id}' failed on a batch: {exc}") from exc
        return np.asarray(out[0], dtype=np.float32)
