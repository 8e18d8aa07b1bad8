"""Findings placed in words (lung, zone, slice) and the selected finding's RECIST axes, on the demo CT.

Issue 11 ("Review flow"): "right lung, upper third · slice 43 of 64" instead of raw LPS; the long
and short axis drawn on the finding's slice of greatest extent, with their lengths.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from review_helpers import chest_volume, fixture_models, open_demo_series, settle

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.review.records import finding_data, finding_from_row, finding_mask
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.findings_table import COLUMNS
from meddiag_desktop.ui.review.location import location_text, location_tooltip
from meddiag_desktop.ui.review.recist_layer import RECIST_LAYER, RecistLayer
from meddiag_desktop.ui.viewer.orientation import Plane, view_geometry

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.viewer.slice_view import SliceView

PLACE = re.compile(r"^(right|left) lung, (upper|middle|lower) third · slice (\d+) of 64$")


@pytest.fixture
def review_window(qtbot: QtBot, settings: Settings, tmp_path: Path, demo_folder: Path) -> Iterator[MainWindow]:
    models = fixture_models(tmp_path / "models")
    main = MainWindow(replace(settings, builtin_models_dir=models, inference_threads=1))
    main.resize(1600, 900)
    main.show()
    qtbot.waitExposed(main)
    open_demo_series(qtbot, main, demo_folder)
    with qtbot.waitSignal(main.review.analysis.finished, timeout=60000):
        main.review_actions["run"].trigger()
    settle(qtbot, main)
    yield main
    main.close()


def _recist(view: SliceView) -> RecistLayer:
    layers = [layer for layer in view.layers if layer.name == RECIST_LAYER]
    assert len(layers) == 1
    assert isinstance(layers[0], RecistLayer)
    return layers[0]


def _drawn(layer: RecistLayer) -> bool:
    return all(child.isVisible() for child in layer.item.childItems()) and layer.item.isVisible()


def test_the_table_names_lung_zone_and_slice(review_window: MainWindow) -> None:
    state = review_window.review.review.state
    assert state is not None and len(state.findings) >= 3
    table = review_window.review.panel.table
    column = COLUMNS.index("Location")
    for row, item in enumerate(f for f in state.findings if review_window.review.review.listed(f)):
        cell = table.item(row, column)
        assert cell is not None
        match = PLACE.match(cell.text())
        assert match is not None, cell.text()
        f = item.finding
        assert (match[1], match[2]) == (f.lung_side, f.lung_zone)  # the words are the analysis's lung mask's
        assert int(match[3]) == round(f.centroid_index[0]) + 1  # numbered as the viewer numbers slices
        if review_window.review.review.visible(item):  # rows below the threshold say so in their tooltip
            assert "not a lobe" in cell.toolTip() and "Centre (LPS mm)" in cell.toolTip()
    sides = {item.finding.lung_side for item in state.findings}
    assert sides == {"right", "left"}  # the fixture model finds spots in both lungs of the demo


def test_the_selected_finding_shows_its_axes_on_its_widest_slice(qtbot: QtBot, review_window: MainWindow) -> None:
    review, viewer = review_window.review.review, review_window.viewer
    state = review.state
    assert state is not None
    target = max(state.findings, key=lambda f: f.finding.long_axis_mm)
    review.select(target.id)
    axial, coronal = viewer.views[Plane.AXIAL], viewer.views[Plane.CORONAL]
    layer = _recist(axial)
    axes = layer.axes
    assert axes.long_mm == pytest.approx(target.finding.long_axis_mm)  # the selected finding's own measurement
    assert axes.short_mm == pytest.approx(target.finding.short_axis_mm)
    z0, z1 = target.finding.bbox[0], target.finding.bbox[3]
    assert z0 <= axes.slice_index < z1

    axial.go_to_slice(axes.slice_index)
    qtbot.waitUntil(lambda: axial.slice_index == axes.slice_index, timeout=5000)
    assert _drawn(layer)
    geometry = view_geometry(viewer.state.volume, Plane.AXIAL)  # type: ignore[arg-type]
    for key, ends in (("long", axes.long_axis), ("short", axes.short_axis)):
        line = layer._lines[key][1].line()
        drawn = {(round(line.x1(), 3), round(line.y1(), 3)), (round(line.x2(), 3), round(line.y2(), 3))}
        expected = {tuple(round(v, 3) for v in geometry.to_display(end)) for end in ends}
        assert drawn == expected
    assert layer.labels["long"].toPlainText() == f"long {target.finding.long_axis_mm:.1f} mm"
    assert layer.labels["short"].toPlainText() == f"short {target.finding.short_axis_mm:.1f} mm"
    assert layer.labels["long"].fill.color().alpha() > 0  # the outlined text helper's dark backdrop

    axial.go_to_slice(axes.slice_index + 1)
    qtbot.waitUntil(lambda: axial.slice_index == axes.slice_index + 1, timeout=5000)
    assert not any(child.isVisible() for child in layer.item.childItems())  # another slice: no axes
    assert not any(child.isVisible() for child in _recist(coronal).item.childItems())  # not on a reformat

    other = next(f for f in state.findings if f.id != target.id)
    review.select(other.id)
    moved = _recist(axial)
    assert moved is not layer and moved.axes.long_mm == pytest.approx(other.finding.long_axis_mm)
    axial.go_to_slice(moved.axes.slice_index)
    qtbot.waitUntil(lambda: _drawn(_recist(axial)), timeout=5000)
    review_window.review.panel.shown.setChecked(False)  # the one switch for every AI overlay
    assert not _recist(axial).item.isVisible()


def test_a_finding_stored_before_zones_loads_and_says_the_zone_is_not_known() -> None:
    volume = chest_volume()  # lungs at columns 18 and 46; x index 22 is in the patient's right lung
    mask = chest_volume().array[9:12, 28:33, 20:25] > 0
    f = Finding("F1", (10.0, 30.0, 22.0), tuple(volume.index_to_lps((10.0, 30.0, 22.0))), (9, 28, 20, 12, 33, 25),
                0.1, 7.5, 7.5, 30.0, 30.0, 0.9, 0.95, mask, lung_side="right", lung_zone="middle")  # fmt: skip
    stored = finding_from_row("F1", finding_data(f), finding_mask(f))
    assert (stored.lung_side, stored.lung_zone) == ("right", "middle")
    assert location_text(stored, volume) == "right lung, middle third · slice 11 of 20"
    old = json.loads(finding_data(f))
    del old["lung_side"], old["lung_zone"]  # a row written before zones were named
    legacy = finding_from_row("F1", json.dumps(old), finding_mask(f))
    assert location_text(legacy, volume) == "right, zone not known · slice 11 of 20"
    assert location_text(legacy, None) == "zone not known"
    assert "Side from the body midline" in location_tooltip(legacy) and "Centre (LPS mm): 1, 15, 120" in (
        location_tooltip(legacy)
    )
    assert location_text(replace(legacy, lung_side="left"), volume).startswith("left lung, zone not known")
