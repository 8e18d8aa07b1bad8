"""Tiny ONNX fixture models built with onnx.helper (no torch), and model folders for them."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from meddiag_desktop.core.volume import Volume

CLIP = [-1000.0, 500.0]
SEG_THRESHOLD_HU = -300.0  # the fixture segments everything denser than this


def seg_graph() -> onnx.ModelProto:
    """logits = 40 * (x - t): sigmoid > 0.5 exactly where HU > SEG_THRESHOLD_HU."""
    t = (SEG_THRESHOLD_HU - CLIP[0]) / (CLIP[1] - CLIP[0])
    nodes = [
        helper.make_node("Sub", ["ct", "t"], ["d"]),
        helper.make_node("Mul", ["d", "k"], ["logits"]),
    ]
    inits = [
        helper.make_tensor("t", TensorProto.FLOAT, [], [t]),
        helper.make_tensor("k", TensorProto.FLOAT, [], [40.0]),
    ]
    shape = [1, 1, "d", "h", "w"]
    graph = helper.make_graph(
        nodes,
        "seg_fixture",
        [helper.make_tensor_value_info("ct", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def cls_graph() -> onnx.ModelProto:
    """Two logits from the crop's mean intensity: bright crops are class 0 ("solid")."""
    nodes = [
        helper.make_node("ReduceMean", ["ct"], ["m"], axes=[2, 3, 4], keepdims=0),
        helper.make_node("Mul", ["m", "k"], ["a"]),
        helper.make_node("Sub", ["a", "b"], ["l0"]),
        helper.make_node("Neg", ["l0"], ["l1"]),
        helper.make_node("Concat", ["l0", "l1"], ["logits"], axis=1),
    ]
    inits = [
        helper.make_tensor("k", TensorProto.FLOAT, [], [20.0]),
        helper.make_tensor("b", TensorProto.FLOAT, [], [4.0]),
    ]
    graph = helper.make_graph(
        nodes,
        "cls_fixture",
        [helper.make_tensor_value_info("ct", TensorProto.FLOAT, [1, 1, 8, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def base_manifest(model_id: str, task: str) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "schema_version": 1,
        "id": model_id,
        "version": "0.0.1",
        "task": task,
        "files": {},
        "modality": "CT",
        "body_part": "CHEST",
        "intended_use": "Test fixture.",
        "licence": "Proprietary test fixture",
        "acceptable_ranges": {"slice_thickness_mm": [0.5, 5.0], "pixel_spacing_mm": [0.4, 2.0], "kvp": None},
        "input": {
            "spacing_mm": [2.0, 2.0, 2.0],
            "orientation": "axial LPS",
            "clip_hu": CLIP,
            "normalisation": {"type": "window_to_unit"},
            "patch_size": [8, 16, 16],
            "overlap": 0.25,
            "channels": ["ct"],
            "layout": "NCDHW",
            "input_name": "ct",
            "output_name": "logits",
        },
        "output": {
            "activation": "sigmoid",
            "labels": [
                {
                    "value": 1,
                    "name": "lesion",
                    "snomed_code": "52988006",
                    "snomed_scheme": "SCT",
                    "snomed_meaning": "Lesion",
                }
            ],
            "threshold": 0.5,
            "temperature": 1.0,
        },
        "postprocess": {
            "lung_mask": True,
            "lung_margin_mm": 5.0,
            "min_fraction_in_lung_region": 0.5,
            "min_volume_ml": 0.01,
        },
        "provenance": {"training_script": "tests/inference/conftest.py", "git_commit": "uncommitted", "data": "none"},
        "metrics": {},
        "limitations": ["Fixture; not a real model."],
    }
    if task == "classification":
        del manifest["postprocess"]
        manifest["output"] = {
            "activation": "softmax",
            "labels": [
                {"value": 0, "name": "solid", "snomed_code": None, "snomed_scheme": "SCT", "snomed_meaning": None},
                {"value": 1, "name": "subsolid", "snomed_code": None, "snomed_scheme": "SCT", "snomed_meaning": None},
            ],
            "threshold": 0.5,
            "temperature": 2.0,
        }
        manifest["crop"] = {"spacing_mm": [2.0, 2.0, 2.0], "size_vox": [8, 16, 16]}
    return manifest


def write_model(root: Path, model_id: str, task: str, manifest: dict[str, Any] | None = None) -> Path:
    """A complete, correctly hashed model folder under ``root``."""
    folder = root / model_id
    folder.mkdir(parents=True, exist_ok=True)
    graph = seg_graph() if task == "segmentation" else cls_graph()
    (folder / "model.onnx").write_bytes(graph.SerializeToString())
    (folder / "MODEL_CARD.md").write_text(f"# {model_id}\nFixture.\n")
    m = copy.deepcopy(manifest) if manifest is not None else base_manifest(model_id, task)
    m["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in ("model.onnx", "MODEL_CARD.md")
    }
    (folder / "manifest.json").write_text(json.dumps(m, indent=2))
    return folder


def chest_volume(
    nodule_center: tuple[int, int, int] = (10, 30, 22),
    radius_vox: float = 3.0,
    spacing: tuple[float, float, float] = (2.0, 1.5, 1.5),
) -> Volume:
    """A small synthetic chest: body, two lungs, a table, one intrapulmonary nodule.

    Shape (20, 64, 64); a 'table' slab below the body and soft tissue outside the lungs
    must be vetoed by the lung-region rule; the nodule must be found.
    """
    z, y, x = np.mgrid[0:20, 0:64, 0:64].astype(np.float64)
    hu = np.full((20, 64, 64), -1000.0)
    body = ((y - 30) / 27) ** 2 + ((x - 32) / 31) ** 2 <= 1
    hu[body] = 40.0
    for cx in (18, 46):
        lung = ((y - 28) / 14) ** 2 + ((x - cx) / 9) ** 2 <= 1
        hu[lung & (z > 1) & (z < 18)] = -850.0
    hu[:, 59:62, 4:60] = 200.0  # table, separated from the body by air
    cz, cy, cx = nodule_center
    d = np.sqrt(((z - cz) * spacing[0]) ** 2 + ((y - cy) * spacing[1]) ** 2 + ((x - cx) * spacing[2]) ** 2)
    hu[d <= radius_vox * spacing[1]] = 30.0
    affine = np.zeros((4, 4))
    affine[3, 3] = 1.0
    affine[0, 2], affine[1, 1], affine[2, 0] = spacing[2], spacing[1], spacing[0]
    affine[:3, 3] = (-32.0, -30.0, 100.0)
    return Volume(array=hu.astype(np.int16), affine=affine, series_instance_uid="1.2.3.4", modality="CT")
