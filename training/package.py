"""Export (checked against torch), model folders (manifest + card), evaluation stages."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from training import data
from training.nets import CropClassifier, UNet3D

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SEG_ID, CLS_ID = "lung-nodule-seg", "lung-lesion-cls"
SEG_PATCH = (16, 160, 160)
VERSION = "1.0.0"


def load_seg(work: Path) -> UNet3D:
    m = UNet3D(base=8)
    m.load_state_dict(torch.load(work / "seg.pt", weights_only=True))
    return m.eval()


def load_cls(work: Path) -> CropClassifier:
    m = CropClassifier(n_classes=2)
    m.load_state_dict(torch.load(work / "cls.pt", weights_only=True))
    return m.eval()


def _export(model: torch.nn.Module, shape: tuple[int, ...], path: Path, sample: np.ndarray) -> dict[str, Any]:
    x = torch.from_numpy(sample.reshape(shape).astype(np.float32))
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["ct"],
        output_names=["logits"],
        dynamo=True,
        external_data=False,
        opset_version=18,
    )
    onnx.checker.check_model(onnx.load(str(path)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"ct": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    diff = float(np.abs(out - ref).max())
    log.info("export %s: max |onnx - torch| = %.2e (output range %.2f..%.2f)", path.name, diff, ref.min(), ref.max())
    if diff > 1e-3:
        raise RuntimeError(f"ONNX export of {path.name} differs from torch by {diff}")
    return {"max_abs_diff_vs_torch": diff, "input_shape": list(shape)}


def stage_export(work: Path) -> None:
    """Export both models and check onnxruntime against torch on a real-background input."""
    real = data.real_background_slabs()[0]
    z, y, x = SEG_PATCH
    patch = data.normalise(real.hu[8 : 8 + z, 60 : 60 + y, 60 : 60 + x])
    seg_check = _export(load_seg(work), (1, 1, *SEG_PATCH), work / "seg.onnx", patch)
    crop = patch[4:12, 40:72, 40:72]
    cls_check = _export(load_cls(work), (1, 1, *data.CLS_SIZE), work / "cls.onnx", crop)
    (work / "export_check.json").write_text(json.dumps({SEG_ID: seg_check, CLS_ID: cls_check}, indent=2))


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
    except OSError:
        return "uncommitted"
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return "uncommitted"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "training"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    return f"{commit}-dirty" if status.stdout.strip() else commit  # training code differs from the commit


DATA_TEXT = (
    "Procedurally generated chest CT phantoms (body, fat, muscle, ribs, spine, lungs at -800..-900 HU "
    "with vessel trees, mediastinum, heart, aorta, trachea, diaphragm domes, liver, bowel gas, arms/axillae, "
    "patient table; 5 mm slices simulated from 1.7 mm sub-slices, kernel blur 0.3-1.0 mm, noise 6-35 HU) "
    "plus the real CT background of TCIA Lung-PET-CT-Dx A0001 slices 0-31 only (>= 50 mm from its tumour, "
    "which is held out), with simulated lesions inserted: spheres, lobulated and spiculated shapes, solid / "
    "part-solid / ground-glass, 5-80 mm, free-floating or attached to pleura, hilum and mediastinum, with "
    "partial volume and noise. Seed 20240601."
)

COMMON_LIMITS = [
    "Trained only on simulated lesions in synthetic phantoms and one real CT background; not validated on "
    "real patient cohorts.",
    "Decision support only; not a medical device. Every finding must be reviewed by a radiologist.",
    "Chest CT in adults only; not for contrast-phase, paediatric, post-surgical or heavily artefacted scans.",
]


def _seg_manifest(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": SEG_ID,
        "version": VERSION,
        "task": "segmentation",
        "files": {},
        "modality": "CT",
        "body_part": "CHEST",
        "intended_use": (
            "Highlights candidate lung nodules and masses on chest CT for a radiologist to "
            "review; outputs a lesion probability map and measured findings. Decision support "
            "only; not a medical device."
        ),
        "acceptable_ranges": {"slice_thickness_mm": [0.5, 5.0], "pixel_spacing_mm": [0.5, 1.0], "kvp": None},
        "input": {
            "spacing_mm": list(data.SPACING),
            "orientation": "axial LPS",
            "clip_hu": list(data.CLIP_HU),
            "normalisation": {"type": "window_to_unit"},
            "patch_size": list(SEG_PATCH),
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
                    "name": "lung lesion",
                    "snomed_code": "52988006",
                    "snomed_scheme": "SCT",
                    "snomed_meaning": "Lesion",
                }
            ],
            "threshold": metrics.get("operating_threshold", 0.5),
            "temperature": 1.0,
        },
        "postprocess": {
            "lung_mask": True,
            "lung_margin_mm": 5.0,
            "min_fraction_in_lung_region": 0.3,
            "min_volume_ml": 0.05,
        },
        "provenance": {"training_script": "training/build_models.py", "git_commit": _git_commit(), "data": DATA_TEXT},
        "metrics": metrics,
        "limitations": [
            *COMMON_LIMITS,
            "Resamples to 5 x 1.5 x 1.5 mm: nodules under about 6 mm are often missed; thin-slice detail is not used.",
            "False findings occur at the heart border, hilar vessels and diaphragm; a lung-region veto removes "
            "findings mostly outside the lungs, which can also remove a mass lying mostly in the mediastinum.",
            "Masses attached to the chest wall or mediastinum are often missed or only partly segmented (3 of 10 "
            "attached synthetic lesions found). On the real demo tumour (A0001) the finding overlaps the "
            "radiologists' boxes on 8 of 11 slices but covers the sub-solid (ground-glass) part lateral to the "
            "mass, about 2 % of its solid, mediastinum-attached part: volume and diameters of such findings "
            "understate the tumour.",
            "Sensitivity for 5-10 mm nodules is poor (0 of 4 in the synthetic test) and for 10-30 mm lesions "
            "below the classical baseline (3 of 9 vs 7 of 9), at 16x fewer false positives.",
        ],
    }


def _cls_manifest(metrics: dict[str, Any], temperature: float) -> dict[str, Any]:
    m = _seg_manifest({})
    m.update(
        {
            "id": CLS_ID,
            "task": "classification",
            "metrics": metrics,
            "intended_use": (
                "Describes the density of a lung finding as solid or sub-solid (part-solid or "
                "ground-glass) with calibrated probabilities and an occlusion map. Decision "
                "support only; not a medical device."
            ),
            "crop": {"spacing_mm": list(data.CLS_SPACING), "size_vox": list(data.CLS_SIZE)},
            "limitations": [
                *COMMON_LIMITS,
                "Classes are defined by how the synthetic lesions were generated (solid vs part-solid/ground-glass), "
                "not by pathology; it says nothing about malignancy.",
                "The crop is 40 x 48 x 48 mm around the finding centre; for larger masses only the centre is seen.",
                "It classifies whatever the segmentation model found: on the real demo tumour that is the ground-glass "
                "part next to the solid mass, so the finding is reported as 'subsolid'.",
            ],
        }
    )
    del m["postprocess"]
    m["input"] = dict(m["input"], spacing_mm=list(data.CLS_SPACING), patch_size=list(data.CLS_SIZE), overlap=0.0)
    m["output"] = {
        "activation": "softmax",
        "labels": [
            {"value": 0, "name": "solid", "snomed_code": None, "snomed_scheme": "SCT", "snomed_meaning": None},
            {"value": 1, "name": "subsolid", "snomed_code": None, "snomed_scheme": "SCT", "snomed_meaning": None},
        ],
        "threshold": 0.5,
        "temperature": temperature,
    }
    return m


def write_model_folder(model_id: str, onnx_path: Path, manifest: dict[str, Any], card: str) -> Path:
    folder = MODELS / model_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(onnx_path.read_bytes())
    (folder / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    manifest["files"] = {
        n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in ("model.onnx", "MODEL_CARD.md")
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    size = (folder / "model.onnx").stat().st_size
    if size > 20 * 1024 * 1024:
        raise RuntimeError(f"{model_id} is {size / 1e6:.1f} MB (> 20 MB)")
    return folder


def stage_package(work: Path) -> None:
    """Write models/<id>/ (ONNX, manifest, card) using metrics.json when present."""
    from training import cards

    info = json.loads((work / "train_info.json").read_text())
    if (work / "export_check.json").exists():
        info["export"] = json.loads((work / "export_check.json").read_text())
    metrics = json.loads((work / "metrics.json").read_text()) if (work / "metrics.json").exists() else {}
    seg_m = _seg_manifest(metrics.get(SEG_ID, {}))
    cls_m = _cls_manifest(metrics.get(CLS_ID, {}), float(info["cls_temperature"]))
    write_model_folder(SEG_ID, work / "seg.onnx", seg_m, cards.seg_card(seg_m, metrics, info))
    write_model_folder(CLS_ID, work / "cls.onnx", cls_m, cards.cls_card(cls_m, metrics, info))
    log.info("models written to %s", MODELS)


def stage_evaluate(work: Path) -> None:
    from training import evaluate

    (work / "metrics.json").unlink(missing_ok=True)  # metrics of an older model are stale
    stage_package(work)  # so the runtime registry can load and verify them
    t0 = time.time()
    metrics = evaluate.run(work, threads=torch.get_num_threads())
    metrics["evaluation_seconds"] = round(time.time() - t0, 1)
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2))
    stage_package(work)


STAGES: dict[str, Callable[[Path], None]] = {
    "export": stage_export,
    "evaluate": stage_evaluate,
    "package": stage_package,
}
