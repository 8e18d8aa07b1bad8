"""Brush and eraser maths (core/brush.py): round in millimetres, slice-wise, undo and redo."""

from __future__ import annotations

import numpy as np

from meddiag_desktop.core.brush import MaskEditor, bounding_box, paint_disc, paint_segment

SPACING = (5.0, 0.5, 1.0)  # z, y, x mm


def test_disc_is_round_in_mm_and_stays_on_its_slice() -> None:
    mask = np.zeros((5, 40, 40), dtype=bool)
    paint_disc(mask, 0, 2, (2.0, 20.0, 20.0), 4.0, SPACING, True)
    assert mask[[0, 1, 3, 4]].sum() == 0
    rows = np.flatnonzero(mask[2].any(axis=1))
    cols = np.flatnonzero(mask[2].any(axis=0))
    assert (rows[-1] - rows[0] + 1) * 0.5 == 8.5  # 4 mm radius = 8 rows of 0.5 mm each side + centre
    assert (cols[-1] - cols[0] + 1) * 1.0 == 9.0
    paint_disc(mask, 0, 2, (2.0, 20.0, 20.0), 2.0, SPACING, False)
    assert not mask[2, 20, 20] and mask[2, 20, 23]


def test_disc_on_a_coronal_slice_and_at_the_border() -> None:
    mask = np.zeros((5, 10, 10), dtype=bool)
    paint_disc(mask, 1, 0, (4.0, 0.0, 0.0), 5.0, SPACING, True)  # coronal slice y=0, corner of the volume
    assert mask[:, 1:].sum() == 0
    assert mask[4, 0, 0] and mask[3, 0, 0] and not mask[2, 0, 0]  # 5 mm reaches one 5 mm slice up


def test_segment_has_no_gaps() -> None:
    mask = np.zeros((1, 10, 60), dtype=bool)
    paint_segment(mask, 0, 0, (0.0, 5.0, 2.0), (0.0, 5.0, 55.0), 1.0, SPACING, True)
    assert mask[0, 5, 2:56].all()


def test_editor_undo_redo_per_stroke() -> None:
    editor = MaskEditor(np.zeros((3, 20, 20), dtype=bool), SPACING)
    editor.stroke(0, 1, (1.0, 5.0, 5.0), 2.0, erase=False, start=True)
    editor.stroke(0, 1, (1.0, 5.0, 12.0), 2.0, erase=False, start=False)
    editor.end_stroke()
    first = editor.mask.copy()
    editor.stroke(0, 1, (1.0, 5.0, 8.0), 1.0, erase=True, start=True)
    editor.end_stroke()
    assert editor.mask.sum() < first.sum()
    assert editor.undo() and np.array_equal(editor.mask, first)
    assert editor.undo() and editor.mask.sum() == 0 and not editor.can_undo
    assert editor.redo() and np.array_equal(editor.mask, first)
    editor.stroke(0, 2, (2.0, 5.0, 5.0), 1.0, erase=False, start=True)
    editor.end_stroke()
    assert not editor.can_redo  # a new stroke drops the redo history


def test_bounding_box() -> None:
    mask = np.zeros((4, 5, 6), dtype=bool)
    assert bounding_box(mask) is None
    mask[1, 2:4, 3] = True
    assert bounding_box(mask) == (slice(1, 2), slice(2, 4), slice(3, 4))
