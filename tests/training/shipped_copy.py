"""The shipped segmenter copied as a user model with its post-processing changed (for equivalence tests)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

SEG = Path(__file__).resolve().parents[2] / "models" / "lung-nodule-seg"


def shipped_seg_copy(
    user: Path, model_id: str, drop: tuple[str, ...] = (), changes: dict[str, Any] | None = None
) -> str:
    """The shipped segmenter as user model ``model_id``: without the ``drop`` post-processing keys, with ``changes``."""
    folder = user / model_id
    shutil.copytree(SEG, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["id"] = folder.name
    for key in drop:
        manifest["postprocess"].pop(key, None)
    manifest["postprocess"].update(changes or {})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder.name
