"""Model cards (Markdown) written from the manifests and the measured metrics."""

from __future__ import annotations

import json
from typing import Any

CITATION = (
    "Real CT background and test case: TCIA Lung-PET-CT-Dx, subject A0001 (CC BY 4.0). Li P. et al., "
    "'A Large-Scale CT and PET/CT Dataset for Lung Cancer Diagnosis', The Cancer Imaging Archive 2020, "
    "doi:10.7937/TCIA.2020.NNC20461."
)


def _header(m: dict[str, Any]) -> list[str]:
    return [
        f"# {m['id']} {m['version']}",
        "",
        "**Decision support only; not a medical device.** Trained on simulated lesions.",
        "",
        "## Intended use",
        m["intended_use"],
        "",
        f"- Modality / body part: {m['modality']} / {m['body_part']}",
        f"- Acceptable input: slice spacing {m['acceptable_ranges']['slice_thickness_mm']} mm, "
        f"pixel spacing {m['acceptable_ranges']['pixel_spacing_mm']} mm (other series are refused)",
        f"- Model grid: {m['input']['spacing_mm']} mm (z, y, x), axial LPS, HU clipped to "
        f"{m['input']['clip_hu']} and scaled to [0, 1]; patch {m['input']['patch_size']}",
        "",
    ]


def _limits(m: dict[str, Any]) -> list[str]:
    return [
        "## Limitations",
        *[f"- {x}" for x in m["limitations"]],
        "",
        "## Provenance",
        f"- Training script: `{m['provenance']['training_script']}` "
        f"(`python -m training.build_models`), commit `{m['provenance']['git_commit']}`",
        f"- Data: {m['provenance']['data']}",
        f"- {CITATION}",
        "",
    ]


def _export(m: dict[str, Any], info: dict[str, Any]) -> list[str]:
    check = info.get("export", {}).get(m["id"])
    if not check:
        return []
    return [
        "## Export check",
        f"ONNX (opset 18, single file) vs PyTorch eager on the same real-CT input "
        f"{check['input_shape']}: max absolute difference {check['max_abs_diff_vs_torch']:.2e}.",
        "",
    ]


def _train_info(info: dict[str, Any]) -> list[str]:
    cfg = info["config"]
    minutes = (info["train_seconds"] + info.get("finetune_seconds", 0.0)) / 60
    return [
        "## Training",
        f"- Configuration: `{json.dumps(cfg)}`",
        f"- Training wall time (segmentation phases 1 + 2 and classifier): {minutes:.1f} min on the CPU",
        "",
    ]


def _coverage(real: dict[str, Any]) -> list[str]:
    out = []
    for f in real["tumour_findings"]:
        out.append(
            f"- {f['id']}: mean {f['mean_hu']:.0f} HU; it covers {f['box_voxels_covered']:.0%} of the boxed voxels "
            f"and {f['solid_box_voxels_covered']:.0%} of the boxed voxels denser than -100 HU (the solid mass); "
            f"{f['finding_voxels_inside_boxes']:.0%} of the finding lies inside the boxes."
        )
    return out


def seg_card(m: dict[str, Any], metrics: dict[str, Any], info: dict[str, Any]) -> str:
    lines = _header(m)
    lines += [
        "## Model",
        "A 3D U-Net (4 levels, 8-64 channels, ~0.35 M parameters, batch norm folded at export) "
        "giving a per-voxel lesion probability (sigmoid). Sliding windows with 25 % overlap and Gaussian "
        "blending; probabilities are resampled back onto the original voxel grid, thresholded at "
        f"{m['output']['threshold']}, split into connected components, and components with less than "
        f"{m['postprocess']['min_fraction_in_lung_region']:.0%} of their voxels inside the lung region "
        f"(per-slice convex hull of each lung, dilated {m['postprocess']['lung_margin_mm']} mm) are "
        "dropped, so juxta-pleural and mediastinal-attached masses are kept.",
        "",
    ]
    lines += _train_info(info)
    seg = metrics.get(m["id"], {})
    syn, real = seg.get("heldout_synthetic"), seg.get("real_A0001")
    if syn:
        a, b = syn["model"], syn["baseline"]
        lines += [
            "## Held-out synthetic test set",
            f"{a['scans']} phantom scans never seen in training ({syn['lesion_free_scans']} without lesions), "
            f"native grids of 2.5-5 mm slices and 0.9 mm pixels, {a['lesions']} lesions. A lesion is detected "
            "when a finding overlaps it; a finding overlapping no lesion is a false positive.",
            "",
            "| metric | this model | classical baseline (lung mask + soft-tissue components) |",
            "|---|---|---|",
            *[f"| {k} | {a[k]} | {b[k]} |" for k in a if k not in ("scans", "lesions")],
            "",
            f"Median pipeline time per test scan: {syn['seconds_per_scan_median']} s.",
            "",
        ]
    sweep = seg.get("threshold_selection")
    if sweep:
        lines += [
            f"Operating threshold {sweep['chosen']} chosen on a separate synthetic validation set ({sweep['rule']}):",
            "",
            "| threshold | sensitivity | FP/scan | Dice |",
            "|---|---|---|---|",
            *[
                f"| {t} | {v['sensitivity']} | {v['fp_per_scan']} | {v['dice_mean']} |"
                for t, v in sweep["validation"].items()
            ],
            "",
        ]
    if real:
        lines += [
            "## Real tumour check (TCIA Lung-PET-CT-Dx A0001, held out)",
            f"- Radiologists' boxes on {real['annotated_slices']} slices of this series; "
            f"tumour found: **{'yes' if real['tumour_found'] else 'no'}** "
            f"(finding overlaps the box on {real['annotated_slices_hit']} of {real['annotated_slices']} "
            "annotated slices).",
            f"- Tumour finding(s): `{json.dumps(real['tumour_findings'])}`",
            *_coverage(real),
            f"- Other findings on this scan (all presumed false positives): {real['other_findings']}",
            f"- Classical baseline: tumour found {real['baseline']['tumour_found']}, other findings "
            f"{real['baseline']['other_findings']}",
            f"- Analysis time for the whole series: {real['seconds']} s",
            "",
        ]
    return "\n".join(lines + _export(m, info) + _limits(m))


def cls_card(m: dict[str, Any], metrics: dict[str, Any], info: dict[str, Any]) -> str:
    lines = _header(m)
    lines += [
        "## Model",
        "A small 3D CNN (4 conv layers, global average pooling) over a "
        f"{m['crop']['size_vox']} voxel crop at {m['crop']['spacing_mm']} mm centred on a finding. "
        f"Classes: solid vs subsolid (part-solid or ground-glass). Logits are divided by the temperature "
        f"{m['output']['temperature']:.3f} (fitted on a held-out calibration split) before softmax. "
        "Explanation: occlusion sensitivity over 2 x 8 x 8 voxel blocks, run through onnxruntime.",
        "",
    ]
    lines += _train_info(info)
    cls = metrics.get(m["id"], {})
    crops, det = cls.get("heldout_synthetic_crops"), cls.get("on_detected_synthetic_lesions")
    if crops:
        lines += [
            "## Held-out synthetic evaluation",
            f"- {crops['n']} held-out lesion crops ({crops['subsolid_fraction']:.0%} subsolid): "
            f"AUC {crops['auc']}, accuracy {crops['accuracy']}",
            f"- Calibration ECE (10 bins): {crops['ece_uncalibrated']} before, "
            f"{crops['ece_calibrated']} after temperature scaling",
            f"- On lesions detected by lung-nodule-seg in the synthetic test scans: n = {det['n']}, AUC {det['auc']}",
            "",
        ]
    return "\n".join(lines + _export(m, info) + _limits(m))
