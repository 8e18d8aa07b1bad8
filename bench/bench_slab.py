"""Thick slab (MIP / mean) render time per frame on the demo lung CT, against the plain plane.

Run: ``.venv/bin/python bench/bench_slab.py``. Renders every axial plane of the 5 mm demo
(64 x 512²) through ``GrayscaleLayer.render`` and pyqtgraph's ``ImageItem.render`` with the slab
off, MIP 10 mm and 20 mm, and mean 10 mm, and times the projection alone
(``core.slab.slab_project``); prints medians in ms per frame. Coronal MIP 10 mm (11 columns of
0.84 mm) is timed too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_reformat import WINDOW, demo_volume, per_frame_ms
from PySide6.QtWidgets import QApplication

from meddiag_desktop.core.slab import SlabMode, slab_project
from meddiag_desktop.ui.viewer import layers
from meddiag_desktop.ui.viewer.orientation import Plane, plane_axes
from meddiag_desktop.ui.viewer.state import SeriesInfo, ViewerState

CASES = ((SlabMode.OFF, 10.0), (SlabMode.MIP, 10.0), (SlabMode.MIP, 20.0), (SlabMode.MEAN, 10.0))


def main() -> None:
    app = QApplication.instance() or QApplication([])
    volume = demo_volume()
    state = ViewerState()
    state.set_volume(volume, SeriesInfo())
    state.set_window(WINDOW)
    print(f"demo CT {volume.shape} {volume.array.dtype}, spacing (z, y, x) {volume.spacing} mm")
    for plane in (Plane.AXIAL, Plane.CORONAL):
        axes = plane_axes(volume.affine, plane)
        count = volume.shape[axes.slice_axis]
        layer = layers.GrayscaleLayer()

        def render(index: int, layer: layers.GrayscaleLayer = layer, axes: object = axes) -> None:
            layer.render(state, axes, index)  # type: ignore[arg-type]
            layer.item.render()

        for mode, mm in CASES if plane is Plane.AXIAL else CASES[:2]:
            state.set_slab(mode, mm)
            half = state.slab_half(axes.slice_axis)
            frame = per_frame_ms(render, count)

            def project(index: int, half: int = half, mode: SlabMode = mode, axis: int = axes.slice_axis) -> None:
                slab_project(volume.array, axis, index, half, mode)

            alone = per_frame_ms(project, count)
            what = f"{mode.value} {mm:g} mm ({2 * half + 1} slices)" if mode is not SlabMode.OFF else "off"
            print(f"  {plane.value:8s} {what:24s} frame {frame:6.2f} ms   projection alone {alone:6.2f} ms")
    del app


if __name__ == "__main__":
    main()
