"""Model cards (Markdown) for the models trained on real chest CT."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training import fold_record, manifests, real_data

NOT_A_DEVICE = "**Decision support only; not a medical device.**"


def lopo_rows(summary: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per reference lesion per analysed scan variant, with the scan's false findings."""
    rows = []
    for cases in summary.values():
        for case in cases:
            base = {
                "patient": case["folder"],
                "vendor": case["manufacturer"] or "unknown",
                "variant": case["variant"],
                "slice_mm": round(case["slice_spacing_mm"], 1) if case["slice_spacing_mm"] else None,
                "status": case["status"],
                "false_findings": sum(f["status"] == "false" for f in case["findings"]),
            }
            if case["status"] != "analysed":
                rows.append({**base, "lesion": None, "message": case["message"]})
                continue
            for lesion in case["lesions"]:
                rows.append(
                    {
                        **base,
                        "lesion": lesion["name"],
                        "lesion_ml": round(lesion["volume_ml"], 1),
                        "shape": lesion["shape"],
                        "hit": lesion["hit"],
                        "dice": _r(lesion["dice"]),
                        "volume_error_pct": _r(lesion["volume_error_pct"], 0),
                        "box_coverage": _r(lesion["box_coverage"]),
                    }
                )
    return rows


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _cell(row: dict[str, Any]) -> str:
    if row.get("lesion") is None:
        return f"not analysed: {row.get('message', '')}"
    if not row["hit"]:
        return "**missed**"
    if row["shape"] == "box":
        return f"found; covers {row['box_coverage']:.0%} of the boxed voxels > -100 HU"
    return f"found; Dice {row['dice']:.2f}, volume error {row['volume_error_pct']:+.0f} %"


def results_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| patient (vendor) | slices | reference lesion | result | false findings on the scan |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lesion = f"{r['lesion']} ({r['lesion_ml']} mL)" if r.get("lesion") else "-"
        lines.append(
            f"| {r['patient']} ({r['vendor']}) | {r['slice_mm']} mm | {lesion} | {_cell(r)} | {r['false_findings']} |"
        )
    return lines


def _sampling_cell(row: dict[str, Any]) -> str:
    if row["status"] != "analysed":
        return f"not analysed: {row.get('message', '')}"
    if not row["hit"]:
        result = "**missed**"
    elif row["dice"] is not None:
        result = f"Dice {row['dice']:.2f}"
    else:
        result = f"covers {row['box_coverage']:.0%}"
    return f"{result}; {row['false_findings']} false"


def sampling_section(rows: list[dict[str, Any]]) -> list[str]:
    """The shipped model on the real patients as acquired and resampled (``training.sampling_check``)."""
    if not rows:
        return [
            "## Resampled input",
            "Not checked for this network yet (the `sampling` stage of `training.build_models`): the accepted "
            "0.5 mm slice spacing and 1.5 mm pixels rest on the check of the previous network on the same grid.",
            "",
        ]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        cells.setdefault((r["patient"], r["lesion"] or "-"), {})[r["variant"]] = _sampling_cell(r)
    return [
        "## Resampled input",
        "The shipped model on the four real patients as acquired, resliced (slices interpolated at a finer "
        "spacing, as an overlapping reconstruction) and with pixels averaged (as a larger field of view), "
        "through `meddiag-desktop validate --reslice --pixels`. It was trained on these patients, so this "
        "checks that the sampling of a scan does not change its findings, not how well the model finds "
        "lesions (the leave-one-patient-out table does that).",
        "",
        f"| patient | reference lesion | {' | '.join(variants)} |",
        f"|---|---|{'---|' * len(variants)}",
        *[f"| {p} | {lesion} | {' | '.join(c.get(v, '-') for v in variants)} |" for (p, lesion), c in cells.items()],
        "",
    ]


def _resampled_text(metrics: dict[str, Any]) -> str:
    if metrics.get("seg", {}).get("sampling_check"):
        return (
            "on the four patients resliced every 0.5 mm and with pixels averaged to 1.5 mm the shipped model "
            "gives the findings of the scans as acquired ('Resampled input')"
        )
    return "that check on the four patients resliced and with coarser pixels has not been run for this network"


def seg_limitations(metrics: dict[str, Any]) -> list[str]:
    return [
        "Trained and validated on four real patients only (three vendors' images, 3 and 5 mm slices, plus "
        "versions averaged to 6-10 mm); leave-one-patient-out figures on four patients are an indication, not "
        "a performance claim. Validate locally before clinical use.",
        "Decision support only; not a medical device. Every finding must be reviewed by a radiologist.",
        "Adult chest CT only; not for paediatric, post-surgical or heavily artefacted scans.",
        "Non-commercial licence (CC BY-NC 3.0), inherited from the NSCLC-Radiomics training scans.",
        "Finds lung tumours and nodules; it does not look for lymph nodes: the supraclavicular GTV-2 and "
        "subcarinal GTV-3 nodes of LUNG1-003 are outside the lungs and are not found (lymph-node detection "
        "needs contrast-enhanced CT and far more examples than the one patient here).",
        "Slice spacing from 0.5 to 10 mm and pixels from 0.5 to 1.5 mm are accepted. Leave-one-patient-out "
        "validation covers 3, 5 and 8-10 mm (averaged) slices. Finer scans are block-averaged onto the "
        f"2.5 x 1.5 x 1.5 mm model grid; {_resampled_text(metrics)}, but no real thin-slice scan, with its own "
        "noise and sharper edges, was available to check.",
        "Findings at the hilum, the aorta, the oesophagus and the heart border are the commonest false "
        "findings; a lung-region rule drops findings mostly outside the lungs, which can also drop a mass "
        "lying mostly in the mediastinum.",
        "At the lung bases, the top of the liver or the spleen under a high diaphragm can be marked as a large "
        "finding: it lies inside the lung's outline on axial slices, and the network sees only 20 mm above "
        "and below (held out, the LUNG1-003 fold models marked 85-370 mL there).",
        "Trained to follow masses into the hilum and mediastinum, it can also mark mediastinal soft tissue "
        "beside the trachea (held out, a 140 mL right paratracheal finding on LUNG1-001).",
        "Small nodules (< 6 mm) are below the minimum finding volume (0.2 mL) and are not reported.",
    ]


def cls_limitations() -> list[str]:
    return [
        "Validated on real solid tumours only (the GTVs of three patients); there is no real sub-solid "
        "lesion in the corpus, so 'subsolid' is validated on simulated lesions only and the app says so.",
        "Classes are defined by density (solid vs part-solid or ground-glass), not by pathology; it says "
        "nothing about malignancy.",
        "Decision support only; not a medical device. Non-commercial licence (CC BY-NC 3.0).",
        "The crop is 40 x 48 x 48 mm around the finding centre; for larger masses only the centre is seen.",
    ]


def _header(m: dict[str, Any]) -> list[str]:
    return [
        f"# {m['id']} {m['version']}",
        "",
        f"{NOT_A_DEVICE} Licence: {m['licence']}.",
        "",
        "## Intended use",
        m["intended_use"],
        "",
        f"- Modality / body part: {m['modality']} / {m['body_part']}",
        f"- Accepted input: slice spacing {m['acceptable_ranges']['slice_thickness_mm']} mm, pixel spacing "
        f"{m['acceptable_ranges']['pixel_spacing_mm']} mm",
        f"- Model grid: {m['input']['spacing_mm']} mm (z, y, x), axial LPS, HU clipped to {m['input']['clip_hu']} "
        "and scaled to [0, 1]; finer scans are block-averaged onto it first",
        "",
    ]


def _provenance(m: dict[str, Any], cfg: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    seconds = metrics.get("stage_seconds", {})
    minutes = sum(seconds.values()) / 60 if seconds else None
    return [
        "## Training and provenance",
        f"- Reproduce: `python -m training.build_models` (CPU, fixed seeds); configuration `{json.dumps(cfg)}`",
        f"- Build time on 2 CPU cores: {minutes:.0f} min in all ({json.dumps(seconds)} s per stage)"
        if minutes
        else "- Build time: not recorded",
        f"- Trained at commit `{m['provenance']['git_commit']}`; manifest and card written at commit "
        f"`{m['provenance'].get('packaged_commit', m['provenance']['git_commit'])}`",
        f"- Data: {m['provenance']['data']}",
        f"- Patients and licences: {manifests.patients_text()}",
        "",
    ]


def _extent_text(post: dict[str, Any], threshold: float) -> list[str]:
    extent = post.get("extent_threshold")
    if extent is None:
        return []
    return [
        f"A finding reaches as far as the probability stays above {extent} around its core above {threshold} "
        "(hysteresis): the core decides whether there is a finding, the lower threshold its outline. On the "
        "real tumours the fold models were sure of a part and half-sure of the rest, so the core alone "
        "under-measured them.",
        *_coarse_text(post, threshold),
        *_clip_text(post),
    ]


def _clip_text(post: dict[str, Any]) -> list[str]:
    if not post.get("clip_to_lung_region"):
        return []
    return [
        "Each finding's outline is then cut back to the lung region: a mass against the mediastinum is, to "
        "the network, continuous with the mediastinal soft tissue, and its half-sure outline ran along it. "
        "Every reference tumour of the corpus lies 98-100 % inside the region. A tumour that has grown into "
        "the mediastinum is outlined only as far as the region reaches."
    ]


def _coarse_text(post: dict[str, Any], threshold: float) -> list[str]:
    zoom = post.get("coarse_zoom")
    if zoom is None:
        return []
    return [
        f"The scan is also segmented shrunk {zoom}x, so that a mass larger than the training lesions is seen "
        f"at a familiar size; that pass can raise a voxel to just under {threshold}, widening a finding's "
        "outline, but never starts a finding of its own."
    ]


def coarse_evidence() -> dict[str, Any] | None:
    """``training/coarse_pass_heldout.json`` (written by ``training.coarse_check``), if present."""
    path = Path(__file__).resolve().parent / "coarse_pass_heldout.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _dice(value: float | None) -> str:
    return "missed" if value is None else f"{value:.2f}"


def _fold_label(row: dict[str, Any], cfg: dict[str, Any]) -> str:
    """The row's fold configuration key and its recipe against the card's model (older rows also carry a text)."""
    return fold_record.fold_label(str(row["fold_config"]).split()[0], cfg)


def coarse_section(
    post: dict[str, Any], seg: dict[str, Any], evidence: dict[str, Any] | None, cfg: dict[str, Any]
) -> list[str]:
    """The coarse pass judged held out (fold models with and without it), and which tables it is in."""
    zoom = post.get("coarse_zoom")
    if zoom is None:
        return []
    lines = ["## Coarse pass for large masses"]
    if seg.get("real_leave_one_patient_out") and seg.get("evaluated_coarse_zoom") != zoom:
        lines.append(
            "The leave-one-patient-out table above and the synthetic-phantom table below were measured "
            "without the coarse pass, which was added to this network's post-processing afterwards (no "
            "retraining); the resampled-input table below is with it."
        )
    if evidence and evidence.get("rows"):
        lines += [
            f"Fold models validated on the patient they never saw, without and with the coarse pass "
            f"(x{evidence['zoom']}; `python -m training.coarse_check`). The fold recipe names its record in "
            "`training/folds/`. These fold models carry no candidate score, so they report more false "
            "findings than the scored table above:",
            "",
            "| held-out patient | fold recipe | variant | lesion | Dice without | Dice with | false without / with |",
            "|---|---|---|---|---|---|---|",
            *[
                f"| {r['patient']} | {_fold_label(r, cfg)} | {r['variant']} | {r['lesion']} "
                f"| {_dice(r['dice_single'])} | {_dice(r['dice_coarse'])} | {r['false_single']} / {r['false_coarse']} |"
                for r in evidence["rows"]
            ],
        ]
    return [*lines, ""]


def clip_evidence() -> dict[str, Any] | None:
    """``training/clip_heldout.json`` (written by ``training.clip_replay``), if present."""
    path = Path(__file__).resolve().parent / "clip_heldout.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _lesion_figure(row: dict[str, Any], which: str) -> str:
    coverage = row[f"box_coverage_{which}"]
    return _dice(row[f"dice_{which}"]) if coverage is None else f"{coverage:.0%} of box"


def clip_section(post: dict[str, Any], evidence: dict[str, Any] | None, cfg: dict[str, Any]) -> list[str]:
    """The lung-region clip judged held out, replayed on the recorded fold findings."""
    if not post.get("clip_to_lung_region") or not evidence or not evidence.get("rows"):
        return []
    return [
        "## Lung-region clip",
        "The recorded findings of the fold models on the patient each never saw, without and with the clip "
        f"(region margin {evidence['margin_mm']} mm; `python -m training.clip_replay`, which clips on the scan's "
        "grid where the app clips on the model grid). The fold models run without it, so the leave-one-patient-out "
        "table above is without it. Fold models carry no candidate score:",
        "",
        "| held-out patient | fold recipe | variant | lesion | without clip | with clip | false without / with |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['patient']} | {_fold_label(r, cfg)} | {r['variant']} | {r['lesion']} | {_lesion_figure(r, 'plain')} "
            f"| {_lesion_figure(r, 'clipped')} | {r['false_plain']} / {r['false_clipped']} |"
            for r in evidence["rows"]
        ],
        "",
    ]


def seg_card(m: dict[str, Any], metrics: dict[str, Any], cfg: dict[str, Any]) -> str:
    seg = metrics.get("seg", {})
    lines = [
        *_header(m),
        "## Model",
        f"A 2.5D U-Net (5 levels, {cfg['seg_base_width']}-{cfg['seg_base_width'] * 16} channels): each axial "
        f"slice of the model grid is segmented from itself and its neighbours at {m['input']['slice_offsets']} "
        "slices (+-5 mm in detail, +-10 and +-20 mm to tell tubes from blobs), in a lung and a mediastinal "
        "window. Probabilities are thresholded at "
        f"{m['output']['threshold']}; components smaller than {m['postprocess']['min_volume_ml']} mL or with "
        f"less than {m['postprocess']['min_fraction_in_lung_region']:.0%} of their voxels in the lung region "
        "(per-lung hull, dilated "
        f"{m['postprocess']['lung_margin_mm']} mm) are dropped; the rest are mapped back to the scan's grid "
        "and measured.",
        *_extent_text(m["postprocess"], m["output"]["threshold"]),
        *_score_text(m["postprocess"]),
        "",
    ]
    if seg.get("real_leave_one_patient_out"):
        lines += [
            "## Real patients, leave-one-patient-out",
            "Each patient's figures come from a model trained on the other three only, run through the app's "
            "own pipeline (`meddiag_desktop.validation`, as `meddiag-desktop validate`). '8 mm' rows are the "
            "same scans with slices averaged (3 mm x 3 = 9 mm; 5 mm x 2 = 10 mm). A lesion is found when a "
            "finding reaches Dice >= 0.1 with it (boxes: covers >= 10 % of the boxed voxels > -100 HU) or has "
            "its centre in it; false findings share no voxel with any reference lesion.",
            "",
            *results_table(seg["real_leave_one_patient_out"]),
            "",
            *_lopo_notes(seg),
        ]
    lines += coarse_section(m["postprocess"], seg, coarse_evidence(), cfg)
    lines += clip_section(m["postprocess"], clip_evidence(), cfg)
    if seg.get("real_classical_baseline"):
        lines += [
            "## Classical baseline on the same scans",
            "Lung mask + soft-tissue components (no learning), through the same validation:",
            "",
            *results_table(seg["real_classical_baseline"]),
            "",
        ]
    lines += sampling_section(seg.get("sampling_check", []))
    syn = seg.get("heldout_synthetic")
    if syn:
        a, b = syn["model"], syn["baseline"]
        lines += [
            "## Held-out synthetic phantoms",
            f"{a['scans']} phantom scans never seen in training ({syn['lesion_free_scans']} without lesions), "
            f"2.5-5 mm slices, {a['lesions']} simulated lesions:",
            "",
            "| metric | this model | classical baseline |",
            "|---|---|---|",
            *[f"| {k} | {a[k]} | {b[k]} |" for k in a if k not in ("scans", "lesions")],
            "",
        ]
    export = metrics.get("export", {}).get(m["id"])
    if export:
        lines += [
            "## Export check",
            f"ONNX (opset 18) vs PyTorch on real-CT inputs {export['inputs_checked']}: max difference "
            f"{export['max_abs_diff_vs_torch']:.1e} in logits{_prob_diff(export)}; "
            f"{export['size_bytes'] / 1e6:.1f} MB.",
            "",
        ]
    lines += ["## Limitations", *[f"- {x}" for x in m["limitations"]], ""]
    return "\n".join(lines + _provenance(m, cfg, metrics))


def _prob_diff(export: dict[str, Any]) -> str:
    diff = export.get("max_prob_diff_vs_torch")
    return "" if diff is None else f", {diff:.1e} in probability"


def _score_text(post: dict[str, Any]) -> list[str]:
    weights = {k: round(v, 2) for k, v in post.get("score_weights", {}).items() if v}
    if not weights:
        return []
    return [
        "",
        f"A candidate score then drops findings below {post['min_score']:.3f}: a logistic regression over the "
        f"network's peak probability in the candidate (weights {weights}, bias {post['score_bias']:.2f}), fitted "
        "on the real false findings and tumour hits of the leave-one-patient-out fold models; the cut keeps about "
        "1.5 false findings per scan on those candidates. Size, density, position and roundness were left out: "
        "the corpus's tumours are all large (a score that learned their size would drop small nodules), and "
        "roundness changed the sign of its weight from two folds to three. This choice of features was made on "
        "the same folds, so the scored leave-one-patient-out figures below are slightly optimistic.",
    ]


def _lopo_notes(seg: dict[str, Any]) -> list[str]:
    notes = []
    if seg.get("lopo_folds_missing"):
        notes.append(
            f"**Folds not run yet**: {', '.join(seg['lopo_folds_missing'])} (in the shipped model's training data; "
            "no held-out figures for it in this build)."
        )
    fitted = seg.get("lopo_candidate_score")
    if not fitted:
        notes.append(
            "These fold figures are without the candidate score (it needs at least two finished folds); "
            "the shipped model uses the threshold and lung-region rule alone."
        )
    elif len(fitted) < len(real_data.PATIENTS):
        notes.append(
            f"The candidate score was fitted on the candidates of {', '.join(fitted)} only (leave-one-patient-out "
            "among them: each patient's row uses weights fitted on the others); the shipped weights on all of them."
        )
    return [*notes, ""] if notes else []


def cls_card(m: dict[str, Any], metrics: dict[str, Any], cfg: dict[str, Any]) -> str:
    cls = metrics.get("cls", {})
    lines = [
        *_header(m),
        "## Model",
        f"A small 3D CNN over a {m['crop']['size_vox']} voxel crop at {m['crop']['spacing_mm']} mm centred on a "
        "finding; solid vs sub-solid (part-solid or ground-glass), logits divided by the temperature "
        f"{m['output']['temperature']:.3f} (fitted on held-out simulated lesions). Trained on simulated lesions "
        "inserted into the real lungs of the four corpus patients, plus crops of their real tumours (solid).",
        "",
        "## Validation",
        "- **Real tumours (all solid), leave-one-patient-out** (crops around each tumour centre, classified by a "
        "model that never saw that patient): "
        f"`{json.dumps(cls.get('real_tumours_leave_one_patient_out', {}))}`",
        f"- **Held-out simulated lesions**: `{json.dumps(cls.get('heldout_synthetic', {}))}`",
        "- **Not validated on real sub-solid lesions** (none in the corpus): the app marks the class "
        "'not validated on real scans' when it says sub-solid.",
        "",
        "## Limitations",
        *[f"- {x}" for x in m["limitations"]],
        "",
    ]
    return "\n".join(lines + _provenance(m, cfg, metrics))
