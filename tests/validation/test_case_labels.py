"""A case's lesions: thick-slice versions of outlines and boxes, and what is left out, in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meddiag_desktop.core.labels import LabelRole, LabelShape, ReferenceLabel
from meddiag_desktop.validation.case_labels import case_lesions, thicken
from meddiag_desktop.validation.cases import LabelSource, SourceKind
from tests.validation.helpers import chest_hu, ct_datasets, volume_of


def test_thick_outlines_need_half_their_slices_boxes_keep_any_boxed_slice() -> None:
    mask = np.zeros((9, 4, 4), dtype=bool)
    mask[1, 1:3, 1:3] = True  # 1 of the 3 slices of group 0
    mask[3:5, 0:2, 0:2] = True  # 2 of the 3 slices of group 1
    outline = ReferenceLabel("GTV", mask, LabelRole.LESION, LabelShape.OUTLINE)
    boxes = ReferenceLabel("A boxes 1", mask, LabelRole.LESION, LabelShape.BOX)
    thick_outline, thick_boxes = thicken([outline, boxes], 3)
    assert thick_outline.mask.shape == (3, 4, 4)
    assert thick_outline.mask.sum(axis=(1, 2)).tolist() == [0, 4, 0]
    assert thick_boxes.mask.sum(axis=(1, 2)).tolist() == [4, 4, 0]
    assert thick_boxes.shape is LabelShape.BOX and thick_boxes.name == "A boxes 1"


def test_box_files_of_another_reconstruction_are_counted_in_the_notes(tmp_path: Path) -> None:
    volume = volume_of(ct_datasets(chest_hu((6, 20, 20))))
    box = "<annotation><object><name>A</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>5</xmax><ymax>5</ymax>"
    (tmp_path / f"{volume.source_sop_instance_uids[2]}.xml").write_text(box + "</bndbox></object></annotation>")
    (tmp_path / "1.2.3.4.xml").write_text(box + "</bndbox></object></annotation>")
    (tmp_path / "1.2.3.5.xml").write_text(box + "</bndbox></object></annotation>")
    source = LabelSource(SourceKind.VOC, tuple(str(p) for p in sorted(tmp_path.glob("*.xml"))))
    lesions, notes = case_lesions([source], volume)
    assert [label.name for label in lesions] == ["A boxes 1"] and lesions[0].mask.sum() == 16
    assert notes == ["2 of 3 box files name slices not in this series; ignored"]
