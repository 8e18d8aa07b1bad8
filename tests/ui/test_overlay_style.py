"""An AI finding must never look like tissue (issue 11): perceptual heat colours that are never
white or grey, outlines by default, a fill of at most 30 %, the heat map only around the
selected, shown finding, and a confidence threshold per series."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest
from review_helpers import chest_volume, settle, write_model

from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.overlay_layers import HEAT_LAYER, MASK_LAYER, MAX_FILL_OPACITY, OUTLINE, MaskStyle
from meddiag_desktop.ui.viewer.colour_maps import heat_lut, saturation
from meddiag_desktop.ui.viewer.orientation import Plane
from meddiag_desktop.ui.viewer.state import SeriesInfo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.ui.viewer.slice_view import SliceView


def test_heat_colours_are_never_white_or_grey() -> None:
    lut = heat_lut(255)
    assert lut[0, 3] == 0  # below the floor: transparent
    colours = lut[1:, :3]
    assert saturation(colours).min() >= 0.45  # every colour a clear hue, no shade of grey
    chroma = colours.max(axis=1).astype(int) - colours.min(axis=1)
    assert chroma.min() >= 60  # at least 60 of 255 between the strongest and weakest channel
    assert colours.min(axis=1).max() < 120  # never white: some channel always stays dark
    luminance = colours @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(luminance) > -1.0)  # perceptual order: brighter with the value
    assert np.all(np.diff(lut[1:, 3].astype(int)) >= 0) and lut[1, 3] < lut[255, 3]


@pytest.fixture
def window(qtbot: QtBot, settings: Settings, tmp_path: Path) -> Iterator[MainWindow]:
    for task, model_id in (("segmentation", "lung-nodule-seg"), ("classification", "lung-lesion-cls")):
        write_model(tmp_path / "models", model_id, task)
    main = MainWindow(replace(settings, builtin_models_dir=tmp_path / "models", inference_threads=1))
    main.resize(1400, 800)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()


def _show(window: MainWindow, volume: Volume) -> None:
    window.viewer.state.set_volume(volume, SeriesInfo(series_uid=volume.series_instance_uid, study_uid="1.2.3.9"))
    window.viewer.state.finish_loading(volume)


def _run(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.review.analysis.finished, timeout=30000):
        window.review_actions["run"].trigger()
    settle(qtbot, window)


def _layer_image(view: SliceView, name: str) -> np.ndarray | None:
    layer = next((la for la in view.layers if la.name == name), None)
    return None if layer is None else np.asarray(layer.item.image)


def test_default_look_is_outline_and_fill_is_capped(qtbot: QtBot, window: MainWindow) -> None:
    _show(window, chest_volume())
    _run(qtbot, window)
    screen, axial = window.review, window.viewer.views[Plane.AXIAL]
    assert screen.panel.style_box.currentData() is MaskStyle.OUTLINE
    mask = _layer_image(axial, MASK_LAYER)
    assert mask is not None and (mask > OUTLINE).any() and not ((mask > 0) & (mask < OUTLINE)).any()
    screen.panel.style_box.setCurrentIndex(list(MaskStyle).index(MaskStyle.BOTH))
    assert screen.panel.opacity.maximum() == round(MAX_FILL_OPACITY * 100)
    screen.overlays.set_look(MaskStyle.BOTH, 0.9)  # asked for more than the cap
    layer = next(la for la in axial.layers if la.name == MASK_LAYER)
    assert layer.opacity == pytest.approx(MAX_FILL_OPACITY)
    fill_alpha = layer.item.lut[1, 3] if layer.item.lut is not None else 255
    assert fill_alpha <= round(255 * MAX_FILL_OPACITY)


def test_heat_map_only_around_the_selected_shown_finding(qtbot: QtBot, window: MainWindow) -> None:
    _show(window, chest_volume())
    _run(qtbot, window)
    screen = window.review
    state = screen.review.state
    assert state is not None and screen.review.selected == "F1"
    finding = state.findings[0].finding
    z0, y0, x0, z1, y1, x1 = finding.bbox
    region = screen.overlays.heat_region()
    assert region is not None
    assert region[1].start <= y0 and region[1].stop >= y1 and region[1].stop - region[1].start < 64
    axial = window.viewer.views[Plane.AXIAL]
    axial.go_to_slice((z0 + z1) // 2)
    heat = _layer_image(axial, HEAT_LAYER)
    assert heat is not None and heat.any()
    rows, cols = np.nonzero(heat)  # axial: rows are y, columns x (R on the left: x not flipped here)
    assert rows.min() >= region[1].start and rows.max() < region[1].stop  # nothing outside the box
    assert cols.min() >= region[2].start and cols.max() < region[2].stop
    assert region[2].start <= x0 and region[2].stop >= x1
    assert screen.panel.colour_bar.isVisible()

    screen.review.select("")  # nothing selected: no heat map anywhere
    assert _layer_image(axial, HEAT_LAYER) is None and not screen.panel.colour_bar.isVisible()
    screen.review.select("F1")
    assert _layer_image(axial, HEAT_LAYER) is not None

    screen.panel.threshold.setValue(100)  # F1 hidden by the threshold: its heat map goes too
    mask = _layer_image(axial, MASK_LAYER)
    assert mask is not None and not mask.any()
    assert _layer_image(axial, HEAT_LAYER) is None
    screen.panel.threshold.setValue(0)
    assert _layer_image(axial, HEAT_LAYER) is not None


def test_threshold_is_per_series(qtbot: QtBot, window: MainWindow) -> None:
    first = chest_volume()
    second = replace(chest_volume(), series_instance_uid="1.2.3.5")
    screen = window.review
    _show(window, first)
    _run(qtbot, window)
    screen.panel.threshold.setValue(60)
    assert screen.review.threshold == pytest.approx(0.6)

    _show(window, second)
    _run(qtbot, window)
    assert screen.review.threshold == 0.0 and screen.panel.threshold.value() == 0  # not carried over

    _show(window, first)
    window.review.on_series_loaded(first.series_instance_uid)  # restores the stored review
    settle(qtbot, window)
    assert screen.review.threshold == pytest.approx(0.6) and screen.panel.threshold.value() == 60
