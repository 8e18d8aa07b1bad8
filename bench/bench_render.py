"""Window/level render speed on a real 512² CT slice, against pyqtgraph's ImageItem.

Run: ``.venv/bin/python bench/bench_render.py``. Prints medians (ms) and ratios:
- pyqtgraph: ``ImageItem.setImage(float slice, levels=...)`` + ``render()`` (its own W/L + QImage)
- naive: float maths with fresh arrays, then a QImage
- ours: ``GrayscaleLayer.render`` (core.window_level into reused buffers, uint8 into ImageItem)
- composite: ours + a label-mask layer + a heat-map layer, each rendered to a QImage
- "+ paint" rows also draw every layer's QImage into a 512² ARGB target with QPainter
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import pydicom
import pyqtgraph as pg
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

import meddiag_desktop.ui  # noqa: F401  (PySide6 compatibility shim)
from meddiag_desktop.core.volume import DisplayHints, Volume
from meddiag_desktop.core.window_level import WindowLevel
from meddiag_desktop.ui.viewer.layers import GrayscaleLayer, HeatMapLayer, LabelMaskLayer
from meddiag_desktop.ui.viewer.orientation import Plane, plane_axes
from meddiag_desktop.ui.viewer.state import SeriesInfo, ViewerState

REPEATS = 400
WINDOW = WindowLevel(-600.0, 1500.0)


def ct_slice() -> np.ndarray:
    """The middle slice of the demo lung CT (resources/demo or the shared corpus), in HU."""
    for folder in (ROOT / "resources" / "demo", ROOT.parent / "shared" / "corpus" / "lung_pet_ct_dx"):
        files = sorted(folder.rglob("*.dcm"))
        if files:
            ds = pydicom.dcmread(files[len(files) // 2])
            return (ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)).astype(np.float32)
    raise SystemExit("no demo CT found (resources/demo or ../shared/corpus/lung_pet_ct_dx)")


def median_ms(fn: object, repeats: int = REPEATS) -> float:
    for _ in range(20):
        fn()  # type: ignore[operator]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def main() -> None:
    app = QApplication.instance() or QApplication([])
    image = ct_slice()
    volume_array = image[np.newaxis].copy()
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = 5.0, 0.84, 0.84, 1.0  # axial: slices along S
    volume = Volume(array=volume_array, affine=affine, display=DisplayHints(units="HU"))
    state = ViewerState()
    state.set_volume(volume, SeriesInfo())
    state.set_window(WINDOW)
    axes = plane_axes(affine, Plane.AXIAL)
    assert (axes.slice_axis, axes.h_axis, axes.v_axis) == (0, 2, 1)
    target = QImage(image.shape[1], image.shape[0], QImage.Format.Format_ARGB32_Premultiplied)

    pg_item = pg.ImageItem(axisOrder="row-major")

    def pyqtgraph_render() -> None:
        pg_item.setImage(image, levels=(WINDOW.low, WINDOW.high), autoLevels=False)
        pg_item.render()

    def naive_render() -> QImage:
        scaled = np.clip((image - WINDOW.low) / WINDOW.width * 255.0, 0, 255).astype(np.uint8)
        return QImage(scaled.data, scaled.shape[1], scaled.shape[0], scaled.shape[1], QImage.Format.Format_Grayscale8)

    base = GrayscaleLayer()

    def ours_render() -> None:
        base.render(state, axes, 0)
        base.item.render()

    labels = np.zeros(volume_array.shape, np.uint8)
    labels[0, 200:300, 150:260] = 1
    heat = np.zeros(volume_array.shape, np.float32)
    heat[0, 180:330, 120:300] = np.linspace(0, 1, 180, dtype=np.float32)[None, :]
    layers = [base, LabelMaskLayer("mask", labels), HeatMapLayer("heat", heat, 0.0, 1.0)]

    def composite_render() -> None:
        for layer in layers:
            layer.render(state, axes, 0)
            layer.item.render()

    def paint(items: list[pg.ImageItem]) -> None:
        painter = QPainter(target)
        for item in items:
            painter.drawImage(0, 0, item.qimage)
        painter.end()

    def pyqtgraph_paint() -> None:
        pyqtgraph_render()
        paint([pg_item])

    def composite_paint() -> None:
        composite_render()
        paint([layer.item for layer in layers])

    results = {
        "pyqtgraph ImageItem (float, levels)": median_ms(pyqtgraph_render),
        "naive float pipeline": median_ms(naive_render),
        "ours: window/level render": median_ms(ours_render),
        "ours: composite (image + mask + heat map)": median_ms(composite_render),
        "pyqtgraph + paint": median_ms(pyqtgraph_paint),
        "ours composite + paint": median_ms(composite_paint),
    }
    reference = results["pyqtgraph ImageItem (float, levels)"]
    print(f"512² CT slice {image.shape}, window {WINDOW.label()}, medians of {REPEATS}, pyqtgraph {pg.__version__}")
    for name, value in results.items():
        print(f"  {name:44s} {value:7.3f} ms   x{value / reference:5.2f} of pyqtgraph")
    ok_speed = results["ours: window/level render"] <= reference * 1.05
    ok_composite = results["ours composite + paint"] <= 2.0
    print(
        f"W/L render no slower than pyqtgraph: {'yes' if ok_speed else 'NO'}; "
        f"composite + paint <= 2 ms: {'yes' if ok_composite else 'NO'}"
    )
    del app


if __name__ == "__main__":
    main()
