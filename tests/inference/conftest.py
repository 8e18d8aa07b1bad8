"""Fixtures for inference tests: a built-in models folder holding the two ONNX fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from inference_fixtures import write_model


@pytest.fixture
def model_root(tmp_path: Path) -> Path:
    root = tmp_path / "builtin"
    write_model(root, "seg-fixture", "segmentation")
    write_model(root, "cls-fixture", "classification")
    return root
