"""Window/level and LUT maths: exact values at the window edges, inversion, presets."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.window_level import (
    PRESETS,
    WindowLevel,
    apply_window,
    default_window,
    drag_window,
    label_lut,
    preset_for_key,
    quantize,
    region_stats,
)


def test_window_edges_map_to_black_and_white() -> None:
    window = WindowLevel(40.0, 400.0)
    values = np.array([[-1000.0, -160.0, 40.0, 240.0, 3000.0]], dtype=np.float32)
    out = apply_window(values, window)
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 0, 128, 255, 255]]


def test_invert_is_the_mirror_image() -> None:
    window = WindowLevel(-600.0, 1500.0)
    values = np.linspace(-1500, 500, 101, dtype=np.float32).reshape(1, -1)
    plain = apply_window(values, window).astype(int)
    inverted = apply_window(values, window, invert=True).astype(int)
    assert np.all(np.abs(plain + inverted - 255) <= 1)


def test_reuses_output_buffers_and_accepts_strided_views() -> None:
    volume = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    plane = volume[:, 2, ::-1]
    out = np.empty(plane.shape, np.uint8)
    scratch = np.empty(plane.shape, np.float32)
    result = apply_window(plane, WindowLevel.from_bounds(0, 119), out=out, scratch=scratch)
    assert result is out
    assert out[0, -1] == round(12 * 255 / 119)  # volume[0, 2, 0] == 12
    assert out[-1, 0] > out[0, 0]


def test_presets_match_the_issue() -> None:
    expected = {1: (-600, 1500), 2: (40, 400), 3: (400, 1800), 4: (40, 80), 5: (50, 350), 6: (60, 160)}
    assert {p.key: (p.window.center, p.window.width) for p in PRESETS} == expected
    preset = preset_for_key(1)
    assert preset is not None and preset.name == "Lung"
    assert preset_for_key(7) is None


def test_invalid_windows_are_rejected() -> None:
    with pytest.raises(ValueError, match="width"):
        WindowLevel(0.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        WindowLevel(float("nan"), 10.0)


def test_default_window_prefers_the_header() -> None:
    assert default_window([(-600.0, 1600.0)], -1024, 3000) == WindowLevel(-600.0, 1600.0)
    assert default_window([], -1024, 976) == WindowLevel(-24.0, 2000.0)


def test_drag_right_widens_and_down_raises_level() -> None:
    window = drag_window(WindowLevel(40.0, 400.0), dx=10, dy=20, value_range=4000)
    assert window == WindowLevel(120.0, 440.0)
    assert drag_window(WindowLevel(40.0, 10.0), dx=-1000, dy=0, value_range=4000).width == 1.0


def test_quantize_and_colour_tables() -> None:
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)
    assert quantize(values, 0.0, 1.0).tolist() == [0, 0, 128, 255, 255]
    assert label_lut()[0, 3] == 0 and label_lut().shape == (256, 4)


def test_region_stats() -> None:
    stats = region_stats(np.array([1.0, 2.0, 3.0, 4.0]), pixel_area_mm2=0.25)
    assert (stats.mean, stats.minimum, stats.maximum, stats.count) == (2.5, 1.0, 4.0, 4)
    assert stats.area_mm2 == pytest.approx(1.0)
    assert stats.sd == pytest.approx(np.std([1, 2, 3, 4]))
    assert region_stats(np.array([]), 1.0).count == 0
