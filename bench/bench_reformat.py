"""Coronal and sagittal reformat render time per frame, nearest-neighbour vs linear between slices.

Run: ``.venv/bin/python bench/bench_reformat.py``. On the 5 mm demo lung CT (64 × 512²) it
renders every coronal (or sagittal) plane through ``GrayscaleLayer.render`` and pyqtgraph's
``ImageItem.render`` (the QImage Qt paints), and prints medians in ms per frame:
- before: nearest neighbour (one image row per 5 mm slice; ``display_factors`` forced to 1)
- after: linear interpolation between slices (``core.display_resample``, ~7 sub-rows a slice)
The interpolation step alone (``upsample_plane``) is timed too.
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
from PySide6.QtWidgets import QApplication

import meddiag_desktop.ui  # noqa: F401  (PySide6 compatibility shim)
from meddiag_desktop.core.display_resample import upsample_plane
from meddiag_desktop.core.volume import DisplayHints, Volume
from meddiag_desktop.core.window_level import WindowLevel
from meddiag_desktop.ui.viewer import layers
from meddiag_desktop.ui.viewer.orientation import Plane, extract_slice, plane_axes
from meddiag_desktop.ui.viewer.state import SeriesInfo, ViewerState

ROUNDS = 5
WINDOW = WindowLevel(-600.0, 1500.0)


def demo_volume() -> Volume:
    """The demo lung CT (resources/demo or the shared corpus) as a float32 HU volume."""
    for folder in (ROOT / "resources" / "demo", ROOT.parent / "shared" / "corpus" / "lung_pet_ct_dx"):
        files = sorted(folder.rglob("*.dcm"))
        if files:
            slices = sorted((pydicom.dcmread(f) for f in files), key=lambda d: float(d.ImagePositionPatient[2]))
            array = np.stack(
                [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in slices]
            ).astype(np.float32)
            step = float(slices[1].ImagePositionPatient[2]) - float(slices[0].ImagePositionPatient[2])
            row_mm, col_mm = (float(v) for v in slices[0].PixelSpacing)
            affine = np.zeros((4, 4))
            affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = step, row_mm, col_mm, 1.0
            return Volume(array=array, affine=affine, display=DisplayHints(units="HU"))
    raise SystemExit("no demo CT found (resources/demo or ../shared/corpus/lung_pet_ct_dx)")


def per_frame_ms(render: object, count: int) -> float:
    """Median over ``ROUNDS`` sweeps through all ``count`` planes, in ms per frame."""
    sweeps = []
    for _ in range(ROUNDS + 1):
        start = time.perf_counter()
        for index in range(count):
            render(index)  # type: ignore[operator]
        sweeps.append((time.perf_counter() - start) / count)
    return statistics.median(sweeps[1:]) * 1000.0  # the first sweep warms caches


def main() -> None:
    app = QApplication.instance() or QApplication([])
    volume = demo_volume()
    state = ViewerState()
    state.set_volume(volume, SeriesInfo())
    state.set_window(WINDOW)
    spacing = ", ".join(f"{s:.2f}" for s in volume.spacing)
    print(f"demo CT {volume.shape}, spacing (z, y, x) {spacing} mm, window {WINDOW.label()}, medians of {ROUNDS}")
    real_factors = layers.display_factors
    for plane in (Plane.CORONAL, Plane.SAGITTAL):
        axes = plane_axes(volume.affine, plane)
        count = volume.shape[axes.slice_axis]
        layer = layers.GrayscaleLayer()

        def render(index: int, layer: layers.GrayscaleLayer = layer, axes: object = axes) -> None:
            layer.render(state, axes, index)  # type: ignore[arg-type]
            layer.item.render()

        layers.display_factors = lambda _s, _a: (1, 1)  # type: ignore[assignment]
        before = per_frame_ms(render, count)
        layers.display_factors = real_factors
        after = per_frame_ms(render, count)
        factors = real_factors(volume.spacing, axes)

        def interpolate(index: int, axes: object = axes, factors: tuple[int, int] = factors) -> None:
            upsample_plane(extract_slice(volume.array, axes, index), *factors)  # type: ignore[arg-type]

        step = per_frame_ms(interpolate, count)
        shape = layer.item.image.shape
        print(f"  {plane.value:9s} before (nearest):  {before:6.2f} ms/frame")
        print(f"  {plane.value:9s} after (linear):    {after:6.2f} ms/frame  ({after / before:.2f}x), shown {shape}")
        print(f"  {plane.value:9s} interpolation only: {step:6.2f} ms/frame, factors (rows, cols) {factors}")
    del app


if __name__ == "__main__":
    main()
