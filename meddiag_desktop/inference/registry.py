"""Where models come from: built-in ``models/`` plus a per-user folder, verified by sha256.

A user adds a model by dropping its folder (``<id>/manifest.json``, ``model.onnx``,
``MODEL_CARD.md``) into the user models directory. Nothing is trusted until every file
listed in the manifest hashes to the listed sha256 and no unlisted model file is present;
the ONNX bytes that were hashed are the bytes handed to onnxruntime.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meddiag_desktop.errors import ModelIntegrityError
from meddiag_desktop.inference.manifest import MANIFEST_NAME, ModelManifest, load_manifest
from meddiag_desktop.inference.session import ModelSession, SessionOptions

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

_MODEL_SUFFIXES = (".onnx", ".data", ".onnx_data", ".bin", ".ort")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelEntry:
    """One model folder as listed: its manifest if valid, else the reason it is refused."""

    folder: Path
    source: str  # "builtin" or "user"
    manifest: ModelManifest | None
    error: str | None

    @property
    def model_id(self) -> str:
        return self.manifest.id if self.manifest is not None else self.folder.name


@dataclass(frozen=True)
class VerifiedModel:
    """A model whose files all matched their manifest hashes."""

    manifest: ModelManifest
    folder: Path
    source: str
    model_bytes: bytes


def verify_folder(folder: Path, manifest: ModelManifest) -> bytes:
    """Check every listed file's sha256 and that no unlisted model file exists.

    Returns the verified ONNX bytes. Raises ModelIntegrityError with the first problem.
    """
    unlisted = sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.name not in manifest.files and p.suffix in _MODEL_SUFFIXES
    )
    if unlisted:
        raise ModelIntegrityError(
            f"Model '{manifest.id}': file(s) {', '.join(unlisted)} are not listed in its manifest; "
            "the model is refused."
        )
    model_bytes = b""
    for name, expected in sorted(manifest.files.items()):
        path = folder / name
        if not path.is_file():
            raise ModelIntegrityError(f"Model '{manifest.id}': listed file '{name}' is missing.")
        if name == manifest.model_file:
            model_bytes = path.read_bytes()
            actual = hashlib.sha256(model_bytes).hexdigest()
        else:
            actual = sha256_file(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"Model '{manifest.id}' {manifest.version}: '{name}' has sha256 {actual[:12]}… but "
                f"the manifest expects {expected[:12]}…; the file was modified or corrupted, so "
                "the model is refused. Reinstall the model folder."
            )
    return model_bytes


class ModelRegistry:
    """Built-in and user models, with one cached, verified onnxruntime session per model.

    Parameters
    ----------
    builtin_dir
        The shipped ``models/`` folder.
    user_dir
        The per-user models folder (computed by the app with platformdirs), or ``None``.
    """

    def __init__(self, builtin_dir: Path, user_dir: Path | None = None) -> None:
        self.builtin_dir = builtin_dir
        self.user_dir = user_dir
        self._sessions: dict[tuple[str, SessionOptions], ModelSession] = {}
        self._lock = threading.Lock()

    def _scan(self, root: Path | None, source: str) -> list[ModelEntry]:
        if root is None or not root.is_dir():
            return []
        out = []
        for folder in sorted(p for p in root.iterdir() if (p / MANIFEST_NAME).is_file()):
            try:
                out.append(ModelEntry(folder, source, load_manifest(folder), None))
            except ModelIntegrityError as exc:
                out.append(ModelEntry(folder, source, None, str(exc)))
        return out

    def list_models(self) -> list[ModelEntry]:
        """Every model folder, valid or refused; a user model may not shadow a built-in id."""
        builtin = self._scan(self.builtin_dir, "builtin")
        taken = {e.model_id for e in builtin}
        user = []
        for entry in self._scan(self.user_dir, "user"):
            if entry.model_id in taken:
                msg = f"User model '{entry.model_id}' has the same id as a built-in model; refused."
                entry = ModelEntry(entry.folder, entry.source, None, msg)
            user.append(entry)
        return builtin + user

    def entry(self, model_id: str) -> ModelEntry:
        for e in self.list_models():
            if e.model_id == model_id:
                return e
        known = ", ".join(e.model_id for e in self.list_models()) or "none"
        raise ModelIntegrityError(f"No model with id '{model_id}' is installed (installed: {known}).")

    def verify(self, model_id: str) -> VerifiedModel:
        """Validate the manifest and every file hash; raise ModelIntegrityError if refused."""
        e = self.entry(model_id)
        if e.manifest is None:
            raise ModelIntegrityError(e.error or f"Model '{model_id}' is invalid.")
        model_bytes = verify_folder(e.folder, e.manifest)
        return VerifiedModel(e.manifest, e.folder, e.source, model_bytes)

    def session(self, model_id: str, options: SessionOptions | None = None) -> ModelSession:
        """The cached session for a model, created after hash verification on first use."""
        opts = options or SessionOptions()
        key = (model_id, opts)
        with self._lock:
            if key not in self._sessions:
                verified = self.verify(model_id)
                self._sessions[key] = ModelSession(verified.manifest, verified.model_bytes, opts)
            return self._sessions[key]

    def clear_sessions(self) -> None:
        """Drop cached sessions (e.g. after the user replaced a model folder)."""
        with self._lock:
            self._sessions.clear()
