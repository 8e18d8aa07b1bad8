"""Viewport layouts (1×1, 1×2, 2×2, 1×3) with a plane per viewport, and the per-modality hanging protocol."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest
from ui_helpers import axial_volume

from meddiag_desktop.ui.hanging import HangingProtocol, HangingStore
from meddiag_desktop.ui.panels import NotificationPanel
from meddiag_desktop.ui.viewer.layers import LabelMaskLayer
from meddiag_desktop.ui.viewer.layouts import Arrangement, Layout
from meddiag_desktop.ui.viewer.orientation import Plane
from meddiag_desktop.ui.viewer.state import SeriesInfo
from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

A, C, S = Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL


@pytest.fixture
def viewer(qtbot: QtBot) -> ViewerWidget:
    widget = ViewerWidget()
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitExposed(widget)
    widget.state.set_volume(axial_volume(), SeriesInfo(series_uid="1.2.3", modality="CT"))
    return widget


def _shown(viewer: ViewerWidget) -> list[tuple[Plane, int, int]]:
    """(plane, x, y) of each visible viewport, row by row."""
    views = [v for v in viewer.viewports if v.isVisible()]
    return sorted(((v.plane, v.x(), v.y()) for v in views), key=lambda t: (t[2], t[1]))


@pytest.mark.parametrize(
    ("layout", "planes", "grid"),
    [
        (Layout.SINGLE, [A], (1, 1)),
        (Layout.PAIR, [A, C], (1, 2)),
        (Layout.GRID, [A, C, S, A], (2, 2)),
        (Layout.MPR, [A, C, S], (1, 3)),
    ],
)
def test_layout_gives_n_viewports_in_its_grid(
    viewer: ViewerWidget, qtbot: QtBot, layout: Layout, planes: list[Plane], grid: tuple[int, int]
) -> None:
    viewer.set_layout(layout)
    qtbot.wait(10)
    shown = _shown(viewer)
    assert [p for p, _x, _y in shown] == planes
    assert len({y for _p, _x, y in shown}) == grid[0] and len({x for _p, x, _y in shown}) == grid[1]
    assert all(v.geometry is not None and v.base.item.image is not None for v in viewer.shown_viewports())


def test_each_viewport_shows_its_own_plane(viewer: ViewerWidget, qtbot: QtBot) -> None:
    viewer.set_layout(Layout.GRID)
    fourth = viewer.viewports[3]
    menu = viewer.plane_menu(fourth)
    next(a for a in menu.actions() if a.text() == "Sagittal").trigger()
    menu.deleteLater()
    assert viewer.arrangement == Arrangement(Layout.GRID, (A, C, S, S))
    assert fourth.geometry is not None and fourth.geometry.axes.plane is S
    assert fourth.corners.text("tr").startswith("Sagittal")
    viewer.state.set_position((5.0, 12.0, 30.0))  # the crosshair moves every plane, duplicates too
    assert fourth.slice_index == viewer.viewports[2].slice_index == 30
    viewer.active = viewer.viewports[0]
    viewer.set_plane(C)
    assert [v.plane for v in viewer.shown_viewports()] == [C, C, S, S]
    assert viewer.viewports[0].slice_index == 12


def test_overlays_reach_every_viewport_and_follow_a_plane_change(viewer: ViewerWidget, qtbot: QtBot) -> None:
    volume = viewer.state.volume
    assert volume is not None
    labels = np.zeros(volume.shape, dtype=np.uint8)
    labels[10, 5:9, 20:30] = 1
    for view in viewer.viewports:
        view.add_layer(LabelMaskLayer("mask", labels))
    viewer.state.set_position((10.0, 6.0, 25.0))
    viewer.set_arrangement(Arrangement(Layout.GRID, (A, C, S, C)))
    fourth = viewer.viewports[3]
    layer = next(la for la in fourth.layers if la.name == "mask")
    assert fourth.geometry is not None
    assert np.asarray(layer.item.image).shape == fourth.plane_values().shape  # the coronal cut, not the axial
    assert np.asarray(layer.item.image).any()
    placed = layer.item.mapRectToParent(layer.item.boundingRect())
    assert (placed.width(), placed.height()) == pytest.approx(fourth.geometry.size_mm)  # laid over the new plane


def test_single_layout_shows_the_active_plane_and_toggles_back(viewer: ViewerWidget) -> None:
    viewer.set_arrangement(Arrangement(Layout.PAIR, (S, C)))
    viewer.active = viewer.viewports[1]
    viewer.toggle_layout()
    assert viewer.arrangement == Arrangement(Layout.SINGLE, (C,))
    viewer.toggle_layout()
    assert viewer.arrangement == Arrangement(Layout.PAIR, (S, C))  # the planes it had


def test_views_by_plane_prefers_shown_viewports(viewer: ViewerWidget) -> None:
    viewer.set_arrangement(Arrangement(Layout.PAIR, (C, S)))
    assert viewer.views[C] is viewer.viewports[0] and viewer.views[S] is viewer.viewports[1]
    assert viewer.views[A] in viewer.viewports[2:]  # hidden, still ready


def _protocol(viewer: ViewerWidget, tmp_path: Path) -> HangingProtocol:
    notes = NotificationPanel()
    notes.setParent(viewer)
    return HangingProtocol(viewer, HangingStore(tmp_path / "config" / "hanging.json"), notes, viewer)


def test_hanging_protocol_is_per_modality_and_survives_a_restart(viewer: ViewerWidget, tmp_path: Path) -> None:
    _protocol(viewer, tmp_path)
    ct, mr = axial_volume(), replace(axial_volume(), modality="MR")
    viewer.state.set_volume(ct, SeriesInfo(modality="CT"))
    assert viewer.arrangement == Arrangement.default(Layout.MPR)
    viewer.set_layout(Layout.GRID)
    viewer.set_plane(S, viewer.viewports[3])
    viewer.state.set_volume(mr, SeriesInfo(modality="MR"))
    assert viewer.arrangement == Arrangement.default(Layout.MPR)  # MR has its own
    viewer.set_layout(Layout.SINGLE)
    saved = json.loads((tmp_path / "config" / "hanging.json").read_text(encoding="utf-8"))
    assert saved["CT"] == {"layout": "2x2", "planes": ["axial", "coronal", "sagittal", "sagittal"]}
    assert saved["MR"] == {"layout": "1x1", "planes": ["axial"]}
    viewer.set_arrangement(Arrangement.default(Layout.PAIR))
    restarted = HangingStore(tmp_path / "config" / "hanging.json")  # what the next start reads
    assert restarted.get("ct") == Arrangement(Layout.GRID, (A, C, S, S))
    viewer.state.set_volume(ct, SeriesInfo(modality="CT"))
    assert viewer.arrangement == Arrangement(Layout.GRID, (A, C, S, S))


def test_a_broken_hanging_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "hanging.json"
    path.write_text('{"CT": {"layout": "3x3", "planes": []}, "MR": {"layout": "1x2", "planes": ["axial"]}', "utf-8")
    assert HangingStore(path).get("CT") is None
    path.write_text('{"CT": {"layout": "3x3", "planes": []}, "PT": {"layout": "1x1", "planes": ["coronal"]}}', "utf-8")
    store = HangingStore(path)
    assert store.get("CT") is None and store.get("PT") == Arrangement(Layout.SINGLE, (C,))
