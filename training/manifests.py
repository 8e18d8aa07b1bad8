"""Manifests of the lesion models trained on real chest CT (schema version 1)."""

from __future__ import annotations

from typing import Any

from training import real_data
from training.export25d import OVERLAP, PATCH
from training.net25d import CLIP_HU, OFFSETS

SEG_ID, CLS_ID = "lung-nodule-seg", "lung-lesion-cls"
# 2.1.0: findings reach their half-sure halo (postprocess extent_threshold); 2.2.0: accepts 0.5 mm slice
# spacing and 1.5 mm pixels (the sampling stage checks both on the real patients; the ONNX is unchanged);
# 2.3.0: a coarse pass widens findings to the whole of a large mass (postprocess coarse_zoom; same ONNX);
# 2.4.0: the segmenter retrained with central masses (seg_central_masses), findings clipped to the lung
# region (postprocess clip_to_lung_region); the classifier's ONNX is unchanged (keep_classifier)
VERSION = "2.4.0"
# What both models accept. Finer scans are block-averaged onto the model grid (SPACING); the sampling
# stage checks the ends on the real patients (0.5 mm slice spacing, 1.5 mm pixels: the grid's own).
SLICE_RANGE_MM = (0.5, 10.0)
PIXEL_RANGE_MM = (0.5, 1.5)
SPACING = (2.5, 1.5, 1.5)
CLS_CROP = (16, 32, 32)

LICENCE = (
    "CC BY-NC 3.0 (non-commercial use only), inherited from its training data: TCIA NSCLC-Radiomics "
    "LUNG1-001..003 (CC BY-NC 3.0; Aerts H.J.W.L. et al., Nat. Commun. 5:4006, 2014; "
    "doi:10.7937/K9/TCIA.2015.PF0M9REI) and TCIA Lung-PET-CT-Dx A0001 (CC BY 4.0; Li P. et al., "
    "TCIA 2020, doi:10.7937/TCIA.2020.NNC20461)"
)

DATA_TEXT = (
    "Four real chest CTs: TCIA NSCLC-Radiomics LUNG1-001 (Siemens), LUNG1-002 and LUNG1-003 (CMS XiO "
    "export), 3 mm, with radiation-oncology GTV contours as the lesions (the neck and subcarinal nodes "
    "GTV-2/GTV-3 of LUNG1-003 ignored), and TCIA Lung-PET-CT-Dx A0001 (Philips, 5 mm; its boxed tumour "
    "region ignored, the rest background); each also averaged to 6 and 9 mm slices. Simulated lesions "
    "(solid, part-solid, ground-glass; 5-80 mm; free or attached to pleura, hilum, mediastinum; for the "
    "segmenter 40 % of them 25-80 mm central masses merging into the hilum or mediastinum) are inserted "
    "into the real lungs on the fly; slice thickness, kernel, noise, calibration and zoom are randomised."
)

INTENDED_USE = (
    "Highlights candidate lung tumours and nodules on adult chest CT for a radiologist to review; "
    "outputs a lesion probability map and measured findings. Decision support only; not a medical device."
)

# What the real training and validation scans covered (headers of the four CTs: 120 kVp where stated;
# Siemens B19f and Philips L kernels; 3 and 5 mm, averaged to 6-10 mm) and the card's "adult chest CT";
# checked before each run by meddiag_desktop.inference.ood (outside: a run needs a typed override).
INPUT_CONTRACT = {
    "body_parts_examined": ["CHEST", "THORAX", "LUNG", "CHESTABDOMEN", "CHESTABDPELVIS", "WHOLEBODY"],
    "training_slice_thickness_mm": [3.0, 10.0],
    "training_kvp": [120.0, 120.0],
    "training_kernels": ["B19f", "L"],
    "min_patient_age_years": 18,
}

_LABEL = {
    "value": 1,
    "name": "lung lesion",
    "snomed_code": "52988006",
    "snomed_scheme": "SCT",
    "snomed_meaning": "Lesion",
}


def seg_manifest(
    model_id: str,
    *,
    threshold: float,
    slice_range_mm: tuple[float, float],
    metrics: dict[str, Any],
    limitations: list[str],
    git_commit: dict[str, str],
    postprocess: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": model_id,
        "version": VERSION,
        "task": "segmentation",
        "files": {},
        "modality": "CT",
        "body_part": "CHEST",
        "intended_use": INTENDED_USE,
        "licence": LICENCE,
        "acceptable_ranges": {
            "slice_thickness_mm": list(slice_range_mm),
            "pixel_spacing_mm": list(PIXEL_RANGE_MM),
            "kvp": None,
        },
        "input_contract": dict(INPUT_CONTRACT),
        "input": {
            "spacing_mm": list(SPACING),
            "orientation": "axial LPS",
            "clip_hu": list(CLIP_HU),
            "normalisation": {"type": "window_to_unit"},
            "patch_size": list(PATCH),
            "overlap": list(OVERLAP),
            "channels": ["ct"],
            "layout": "NSHW",
            "slice_offsets": list(OFFSETS),
            "input_name": "ct",
            "output_name": "logits",
        },
        "output": {"activation": "sigmoid", "labels": [_LABEL], "threshold": threshold, "temperature": 1.0},
        "postprocess": postprocess,
        # git_commit: the code that trained the model; packaged_commit: the code that wrote this manifest
        "provenance": {"training_script": "training/build_models.py", **git_commit, "data": DATA_TEXT},
        "metrics": metrics,
        "limitations": limitations,
    }


def cls_manifest(
    *, temperature: float, metrics: dict[str, Any], limitations: list[str], git_commit: dict[str, str]
) -> dict[str, Any]:
    m = seg_manifest(
        CLS_ID, threshold=0.5, slice_range_mm=SLICE_RANGE_MM, metrics=metrics, limitations=limitations,
        git_commit=git_commit, postprocess={},
    )  # fmt: skip
    del m["postprocess"]
    m["task"] = "classification"
    m["intended_use"] = (
        "Describes the density of a lung finding as solid or sub-solid (part-solid or ground-glass) with "
        "calibrated probabilities and an occlusion map. Validated on real solid tumours only; sub-solid is "
        "validated on simulated lesions only. Decision support only; not a medical device."
    )
    m["crop"] = {"spacing_mm": list(SPACING), "size_vox": list(CLS_CROP)}
    m["input"] = dict(m["input"], patch_size=list(CLS_CROP), overlap=0.0, layout="NCDHW")
    del m["input"]["slice_offsets"]
    m["output"] = {
        "activation": "softmax",
        "labels": [
            {"value": 0, "name": "solid", "snomed_code": None, "snomed_scheme": "SCT", "snomed_meaning": None},
            {
                "value": 1,
                "name": "subsolid (not validated on real scans)",
                "snomed_code": None,
                "snomed_scheme": "SCT",
                "snomed_meaning": None,
            },
        ],
        "threshold": 0.5,
        "temperature": temperature,
    }
    return m


def patients_text() -> str:
    return ", ".join(f"{p} ({real_data.LICENCES[p]})" for p in real_data.PATIENTS)
