"""Manifest validation: valid manifests parse, every kind of defect is refused by name."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from inference_fixtures import base_manifest

from meddiag_desktop.errors import ModelIntegrityError
from meddiag_desktop.inference.manifest import load_manifest, parse_manifest

SHA = "0" * 64


def _valid(task: str = "segmentation") -> dict[str, Any]:
    m = base_manifest("m1", task)
    m["files"] = {"model.onnx": SHA, "MODEL_CARD.md": SHA}
    return m


def test_valid_segmentation_manifest_parses() -> None:
    m = parse_manifest(_valid(), "m1")
    assert m.task == "segmentation"
    assert m.model_file == "model.onnx"
    assert m.input.patch_size == (8, 16, 16)
    assert m.output.labels[0].snomed_code == "52988006"
    assert m.postprocess is not None and m.crop is None
    assert m.acceptable_ranges.kvp is None


def test_valid_classification_manifest_parses() -> None:
    m = parse_manifest(_valid("classification"), "m1")
    assert m.class_names == ("solid", "subsolid")
    assert m.crop is not None and m.crop.size_vox == (8, 16, 16)
    assert m.output.temperature == 2.0


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("schema_version",), 2, "schema_version"),
        (("version",), "1.0", "version"),
        (("task",), "detection", "task"),
        (("files",), {"model.onnx": "abc"}, "sha256"),
        (("files",), {"MODEL_CARD.md": SHA}, "exactly one .onnx"),
        (("files",), {"../evil.onnx": SHA}, "invalid file name"),
        (("input", "spacing_mm"), [1.0, 1.0], "input.spacing_mm"),
        (("input", "spacing_mm"), [1.0, 0.0, 1.0], "positive"),
        (("input", "clip_hu"), [500, -1000], "empty range"),
        (("input", "normalisation"), {"type": "magic"}, "input.normalisation.type"),
        (("input", "overlap"), 0.95, "input.overlap"),
        (("input", "overlap"), [0.5, 0.95, 0.1], "fractions within"),
        (("input", "overlap"), [0.5, 0.2], "list of 3 numbers"),
        (("licence",), "", "licence"),
        (("input", "channels"), ["ct", "pet"], "channels"),
        (("output", "activation"), "relu", "output.activation"),
        (("output", "threshold"), 1.5, "output.threshold"),
        (("output", "temperature"), 0, "output.temperature"),
        (("output", "labels"), [], "output.labels"),
        (("acceptable_ranges", "pixel_spacing_mm"), "1mm", "pixel_spacing_mm"),
        (("limitations",), [], "limitations"),
        (("modality",), "MR", "modality"),
        (("postprocess", "coarse_zoom"), 0.5, "coarse_zoom"),
    ],
)
def test_invalid_field_is_refused_by_name(path: tuple[str, ...], value: object, fragment: str) -> None:
    m = _valid()
    target = m
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ModelIntegrityError, match=fragment.replace(".", r"\.")):
        parse_manifest(m, "m1")


@pytest.mark.parametrize("field", ["id", "intended_use", "licence", "provenance", "input", "output"])
def test_missing_field_is_named(field: str) -> None:
    m = _valid()
    del m[field]
    with pytest.raises(ModelIntegrityError, match=f"'{field}' is missing"):
        parse_manifest(m, "?")


def test_classification_needs_softmax_and_crop() -> None:
    m = _valid("classification")
    m["output"]["activation"] = "sigmoid"
    with pytest.raises(ModelIntegrityError, match="softmax"):
        parse_manifest(m, "m1")
    m = _valid("classification")
    del m["crop"]
    with pytest.raises(ModelIntegrityError, match="crop"):
        parse_manifest(m, "m1")


def test_folder_name_must_match_id() -> None:
    with pytest.raises(ModelIntegrityError, match="folder is named 'other'"):
        parse_manifest(_valid(), "other")


def test_load_manifest_reports_bad_json(tmp_path: Path) -> None:
    folder = tmp_path / "m1"
    folder.mkdir()
    with pytest.raises(ModelIntegrityError, match=r"has no manifest\.json"):
        load_manifest(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ModelIntegrityError, match="not readable JSON"):
        load_manifest(folder)
    (folder / "manifest.json").write_text(json.dumps(copy.deepcopy(_valid())))
    assert load_manifest(folder).id == "m1"


def test_overlap_per_axis_and_licence() -> None:
    m = _valid()
    m["input"]["overlap"] = [0.34, 0.25, 0.0]
    m["licence"] = "CC BY-NC 3.0 (inherited from the training data): non-commercial use only"
    parsed = parse_manifest(m, "m1")
    assert parsed.input.overlap == (0.34, 0.25, 0.0)
    assert parsed.non_commercial
    m["input"]["overlap"] = 0.25
    m["licence"] = "CC BY 4.0"
    parsed = parse_manifest(m, "m1")
    assert parsed.input.overlap == (0.25, 0.25, 0.25)
    assert not parsed.non_commercial


def test_slice_stack_layout_needs_valid_offsets() -> None:
    m = _valid()
    m["input"]["layout"] = "NSHW"
    with pytest.raises(ModelIntegrityError, match="slice_offsets' is missing"):
        parse_manifest(m, "m1")
    for bad in ([], [1, 2], [0, 0], [0, 1.5], [0, 100]):
        m["input"]["slice_offsets"] = bad
        with pytest.raises(ModelIntegrityError, match="slice_offsets"):
            parse_manifest(m, "m1")
    m["input"]["slice_offsets"] = [-4, -2, 0, 2, 4]
    assert parse_manifest(m, "m1").input.slice_offsets == (-4, -2, 0, 2, 4)
