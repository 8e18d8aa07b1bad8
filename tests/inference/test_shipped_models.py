"""The shipped models: the demo's tumour is found, and every model states its licence."""

from __future__ import annotations

from pathlib import Path

import pytest

from meddiag_desktop.inference.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo"
BOXES = REPO / "resources" / "demo_annotations"


@pytest.mark.slow
def test_demo_mass_itself_is_found(tmp_path: Path) -> None:
    """The bundled demo (A0001): a finding covers at least half of the solid boxed tumour."""
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.validation.cases import discover_cases
    from meddiag_desktop.validation.runner import RegistryAnalyser, evaluate_case

    with SeriesIndex(tmp_path / "index.sqlite") as index:
        [case] = discover_cases([DEMO], index, annotations=BOXES).cases
    analyser = RegistryAnalyser(ModelRegistry(REPO / "models"), "lung-nodule-seg", threads=2)
    result = evaluate_case(case, analyser)
    [mass] = result.lesions
    assert mass.hit, result
    assert mass.box_coverage is not None and mass.box_coverage >= 0.5, result
    assert result.false_findings <= 2, result


def test_every_shipped_model_states_its_licence_and_non_commercial_ones_say_so_everywhere() -> None:
    registry = ModelRegistry(REPO / "models")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    entries = registry.list_models()
    assert entries, "no shipped models"
    for entry in entries:
        manifest = registry.verify(entry.model_id).manifest
        assert manifest.licence.strip()
        card = (entry.folder / "MODEL_CARD.md").read_text(encoding="utf-8")
        assert manifest.licence in card
        if manifest.non_commercial:
            assert "non-commercial" in card.lower()
            assert "non-commercial" in readme.lower() and entry.model_id in readme
