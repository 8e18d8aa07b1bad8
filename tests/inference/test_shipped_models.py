"""The shipped models on the real demo study: the radiologists' tumour must be among the findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from meddiag_desktop.inference.analyze import analyze_volume, format_findings_table
from meddiag_desktop.inference.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


@pytest.mark.corpus
@pytest.mark.slow
def test_demo_tumour_is_found() -> None:
    if not (SHARED / "corpus" / "lung_pet_ct_dx").is_dir():
        pytest.skip(f"{SHARED} is absent")
    if not (REPO / "models" / "lung-nodule-seg" / "manifest.json").is_file():
        pytest.skip("models/ not built yet (python -m training.build_models)")
    from training.evaluate import box_overlap, load_real_volume, radiologist_boxes

    volume, uids = load_real_volume()
    boxes = radiologist_boxes(uids)
    assert len(boxes) == 11
    result = analyze_volume(volume, ModelRegistry(REPO / "models"), threads=2)
    hits = {f.id: box_overlap(f.full_mask(volume.shape), boxes) for f in result.findings}
    assert max(hits.values(), default=0) >= 6, format_findings_table(result)
    tumour = next(f for f in result.findings if hits[f.id] == max(hits.values()))
    assert tumour.long_axis_mm > 30
    assert set(tumour.class_probabilities) == {"solid", "subsolid"}
