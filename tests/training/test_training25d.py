"""The 2.5D segmenter's training pieces: neighbour stacks, export parity, card tables (needs torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training import cards25d  # noqa: E402
from training.export25d import export_segmenter  # noqa: E402
from training.net25d import OFFSETS, Ensemble, UNet2D, soft_tissue_window  # noqa: E402
from training.seg25d import normalise, predict_grid  # noqa: E402


def test_unet2d_keeps_slice_shape_and_adds_a_mediastinal_window() -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        out = UNet2D(base=4).eval()(torch.zeros(2, len(OFFSETS), 32, 48))
    assert out.shape == (2, 1, 32, 48)
    hu = torch.tensor([-1000.0, -160.0, 40.0, 240.0, 500.0])
    window = soft_tissue_window((hu + 1000.0) / 1500.0)
    assert window.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning")
def test_export_takes_any_batch_and_slice_size(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Ensemble([UNet2D(base=4), UNet2D(base=4)])
    hu = np.random.default_rng(0).normal(-500, 300, (20, 240, 240)).astype(np.float32)
    check = export_segmenter(model, tmp_path / "seg.onnx", hu)
    assert check["max_abs_diff_vs_torch"] < 1e-4
    assert check["inputs_checked"][0][0] != check["inputs_checked"][1][0]  # two batch sizes, two slice sizes


def test_ensemble_averages_member_probabilities() -> None:
    torch.manual_seed(0)
    a, b = UNet2D(base=4).eval(), UNet2D(base=4).eval()
    x = torch.rand(1, len(OFFSETS), 32, 32)
    with torch.no_grad():
        expected = (torch.sigmoid(a(x)) + torch.sigmoid(b(x))) / 2
        got = torch.sigmoid(Ensemble([a, b]).eval()(x))
    assert torch.allclose(got, expected, atol=1e-5)


def test_grid_prediction_covers_every_slice() -> None:
    torch.manual_seed(0)
    hu = np.full((5, 40, 40), -850.0, np.float32)
    prob = predict_grid(UNet2D(base=4).eval(), hu, chunk=2)
    assert prob.shape == hu.shape and np.isfinite(prob).all()
    assert normalise(np.array([-2000.0, 1000.0])).tolist() == [0.0, 1.0]


def test_card_rows_keep_every_lesion_and_not_analysed_scans() -> None:
    case = {
        "folder": "LUNG1-003", "manufacturer": "CMS", "variant": "native", "slice_spacing_mm": 3.0,
        "status": "analysed", "message": "",
        "lesions": [
            {"name": "GTV-1", "volume_ml": 34.7, "shape": "outline", "hit": True, "dice": 0.71,
             "volume_error_pct": -12.0, "box_coverage": None},
            {"name": "GTV-2", "volume_ml": 38.6, "shape": "outline", "hit": False, "dice": None,
             "volume_error_pct": None, "box_coverage": None},
        ],
        "findings": [{"status": "hit"}, {"status": "false"}, {"status": "overlap"}],
    }  # fmt: skip
    refused = dict(case, variant="9.0 mm", status="not analysed", message="outside the range", lesions=[])
    rows = cards25d.lopo_rows({"LUNG1-003": [case, refused]})
    assert [(r["lesion"], r.get("hit"), r["false_findings"]) for r in rows] == [
        ("GTV-1", True, 1),
        ("GTV-2", False, 1),
        (None, None, 1),
    ]
    table = "\n".join(cards25d.results_table(rows))
    assert "Dice 0.71" in table and "**missed**" in table and "not analysed: outside the range" in table


def test_lopo_summary_gathers_finished_folds_and_the_card_names_the_missing(tmp_path: Path) -> None:
    import json

    from training import lopo, real_data

    done = real_data.PATIENTS[:2]
    for held in done:
        (tmp_path / "lopo" / held).mkdir(parents=True)
        (tmp_path / "lopo" / held / "summary.json").write_text(json.dumps([{"folder": held}]))
        for step in ("train", "validate"):
            (tmp_path / "lopo" / held / f"{step}_seconds.txt").write_text("10\n")
    summary = lopo.gather_summary(tmp_path)
    assert sorted(summary) == sorted(done)
    assert json.loads((tmp_path / "lopo_summary.json").read_text()) == summary
    missing = lopo.missing_folds(summary)
    assert missing == list(real_data.PATIENTS[2:])
    assert lopo.fold_seconds(tmp_path) == {f"lopo {held}": 20.0 for held in done}
    notes = "\n".join(cards25d._lopo_notes({"lopo_folds_missing": missing, "lopo_candidate_score": []}))
    assert all(name in notes for name in missing) and "without the candidate score" in notes
    partial = "\n".join(cards25d._lopo_notes({"lopo_folds_missing": [], "lopo_candidate_score": list(done)}))
    assert "fitted on the candidates of " + ", ".join(done) in partial
    every = list(real_data.PATIENTS)
    assert cards25d._lopo_notes({"lopo_folds_missing": [], "lopo_candidate_score": every}) == []


def test_candidate_score_uses_only_generic_features_and_keeps_the_target_false_findings_per_scan() -> None:
    from training import candidate_score as cs

    rng = np.random.default_rng(0)
    samples = []
    for scan in range(4):
        samples.append(cs.Sample("P", f"s{scan}", _features(rng, 0.98, 1.0, volume=4.6), positive=True, false=False))
        for _ in range(5):  # small, unsure, elongated false findings
            samples.append(cs.Sample("P", f"s{scan}", _features(rng, 0.6, 0.4, volume=0.0), positive=False, false=True))
    weights, bias = cs.fit(samples)
    assert {k for k, v in weights.items() if v} <= set(cs.SCORE_FEATURES)
    assert weights["max_prob"] > 0 and weights["log_volume_ml"] == 0
    scores = cs.score(samples, weights, bias)
    cut = cs.operating_point(samples, scores, scans=4)
    kept_false = sum(k >= cut and s.false for k, s in zip(scores, samples, strict=True))
    assert kept_false <= int(cs.TARGET_FP_PER_SCAN * 4)
    assert all(k >= cut for k, s in zip(scores, samples, strict=True) if s.positive)


def _features(rng: np.random.Generator, max_prob: float, elongation: float, volume: float) -> dict[str, float]:
    from meddiag_desktop.inference.manifest import CANDIDATE_FEATURES

    values = {name: float(rng.normal()) for name in CANDIDATE_FEATURES}
    values.update(
        max_prob=max_prob + float(rng.normal(0, 0.05)),
        elongation=elongation + float(rng.normal(0, 0.1)),
        log_volume_ml=volume + float(rng.normal(0, 0.5)),
    )
    return values


def test_a_recipe_trial_is_set_by_name_and_leaves_the_recorded_folds_key_alone() -> None:
    from training import build_models, fold_record

    assert build_models.overridden(build_models.CONFIG, []) == build_models.CONFIG
    trial = build_models.overridden(build_models.CONFIG, ["seg_paste_real=0.3", "seg_steps=900"])
    assert trial["seg_paste_real"] == 0.3 and trial["seg_steps"] == 900
    assert "seg_paste_real" not in build_models.CONFIG  # the shipped recipe's folds keep their key
    assert fold_record.config_key(trial) != fold_record.config_key(build_models.CONFIG)
    with pytest.raises(ValueError, match="seg_paste_real"):
        build_models.overridden(build_models.CONFIG, ["seg_pastereal=0.3"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        build_models.overridden(build_models.CONFIG, ["seg_paste_real"])


def test_the_coarse_pass_reaches_the_fold_and_shipped_manifests() -> None:
    from training import build_models, build_steps, cards25d

    assert "coarse_zoom" not in build_steps.postprocess_for(
        build_models.overridden(build_models.CONFIG, ["coarse_zoom=null"])
    )
    trial = build_models.overridden(build_models.CONFIG, ["coarse_zoom=1.5"])
    assert trial == build_models.CONFIG  # the shipped recipe has the coarse pass
    post = build_steps.postprocess_for(trial)
    assert post["coarse_zoom"] == 1.5 and post["extent_threshold"] == build_steps.POSTPROCESS["extent_threshold"]
    scored = build_steps.postprocess_with(trial, {"weights": {"max_prob": 3.0}, "bias": -4.0, "min_score": 0.25})
    assert scored["coarse_zoom"] == 1.5 and scored["min_score"] == 0.25
    assert any("shrunk 1.5x" in line for line in cards25d._extent_text(post, 0.4))
    assert not any("shrunk" in line for line in cards25d._extent_text(build_steps.POSTPROCESS, 0.4))


def test_the_card_shows_the_held_out_coarse_pass_figures_and_which_tables_lack_the_pass() -> None:
    from training import build_models
    from training.fold_record import recipe_text

    cfg = build_models.CONFIG
    row = {"patient": "P", "fold_config": "k (an older text)", "variant": "as acquired", "lesion": "GTV-1"}
    row |= {"dice_single": 0.25, "dice_coarse": None, "false_single": 5, "false_coarse": 3}
    evidence, post = {"zoom": 1.5, "rows": [row]}, {"coarse_zoom": 1.5}
    text = "\n".join(cards25d.coarse_section(post, {"real_leave_one_patient_out": [{}]}, evidence, cfg))
    assert "| P | k | as acquired | GTV-1 | 0.25 | missed | 5 / 3 |" in text  # k has no fold record
    assert "measured without the coarse pass" in text
    measured_with = {"real_leave_one_patient_out": [{}], "evaluated_coarse_zoom": 1.5}
    assert "measured without" not in "\n".join(cards25d.coarse_section(post, measured_with, evidence, cfg))
    assert cards25d.coarse_section({}, measured_with, evidence, cfg) == []
    assert recipe_text({**cfg, "clip_to_lung_region": False, "coarse_zoom": None}, cfg) == "this model's recipe"
    assert recipe_text({**cfg, "seg_paste_real": 0.3}, cfg) == "this model's recipe, seg_paste_real=0.3"


def test_a_fold_is_labelled_with_its_recipe_against_the_card_model() -> None:
    from training import build_models, fold_record

    key = fold_record.config_key(build_models.CONFIG)
    if not (fold_record.FOLDS / key).is_dir():
        pytest.skip(f"no recorded folds for the current recipe {key}")
    assert fold_record.fold_label(key, build_models.CONFIG) == f"{key} (this model's recipe)"
    older = {**build_models.CONFIG, "seg_central_masses": 0.0}
    assert fold_record.fold_label(key, older) == f"{key} (this model's recipe, seg_central_masses=0.4)"
    assert fold_record.fold_label("000000000000", build_models.CONFIG) == "000000000000"


def test_a_coarse_check_of_some_folds_keeps_the_rows_of_the_others() -> None:
    from training.coarse_check import merged

    def row(patient: str, dice: float) -> dict[str, object]:
        return {"patient": patient, "variant": "as acquired", "lesion": "GTV-1", "dice_coarse": dice}

    old = [row("LUNG1-002", 0.5), row("LUNG1-003", 0.17)]
    rows = merged(old, [row("LUNG1-001", 0.7), row("LUNG1-003", 0.3)], {"LUNG1-001", "LUNG1-003"})
    expected = [("LUNG1-001", 0.7), ("LUNG1-002", 0.5), ("LUNG1-003", 0.3)]
    assert [(r["patient"], r["dice_coarse"]) for r in rows] == expected


def test_the_card_says_when_the_resampled_input_check_has_not_run() -> None:
    assert "Not checked for this network yet" in "\n".join(cards25d.sampling_section([]))
    row = {"patient": "P", "lesion": "GTV-1", "variant": "as acquired", "status": "analysed", "hit": True, "dice": 0.6}
    row |= {"box_coverage": None, "false_findings": 1}
    assert "Not checked" not in "\n".join(cards25d.sampling_section([row]))


def test_the_limitations_claim_the_resampled_check_only_when_it_ran() -> None:
    ran = "\n".join(cards25d.seg_limitations({"seg": {"sampling_check": [{"patient": "P"}]}}))
    assert "gives the findings of the scans as acquired" in ran
    assert "has not been run for this network" in "\n".join(cards25d.seg_limitations({"seg": {}}))
