"""Case discovery: which CT series have references, from which sources; the case manifest."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from meddiag_desktop.errors import LabelReadError
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.validation.case_manifest import read_manifest
from meddiag_desktop.validation.cases import SourceKind, VariantPlan, discover_cases
from tests.validation.helpers import (
    chest_hu,
    ct_datasets,
    label_image_on,
    volume_of,
    write_rtstruct,
    write_series,
)


def test_real_corpus_cases_and_their_sources(corpus: Path, tmp_path: Path) -> None:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        found = discover_cases(
            [corpus / "nsclc_radiomics", corpus / "lung_pet_ct_dx"], index, variants=VariantPlan(thicknesses=(8.0,))
        )  # fmt: skip
    as_acquired = [c for c in found.cases if c.thickness_mm is None]
    assert [c.folder for c in as_acquired] == [
        "lung_pet_ct_dx/A0001_philips_lungkernel_L", "nsclc_radiomics/LUNG1-001/ct", "nsclc_radiomics/LUNG1-002/ct",
        "nsclc_radiomics/LUNG1-003/ct",
    ]  # fmt: skip
    assert [c.patient for c in as_acquired] == ["P1", "P2", "P3", "P4"]
    assert [c.manufacturer for c in as_acquired] == ["Philips", "SIEMENS", "CMS, Inc.", "CMS, Inc."]
    [boxes] = as_acquired[0].sources
    assert boxes.kind is SourceKind.VOC and len(boxes.paths) == 20  # 11 name its slices, 9 another reconstruction
    for case in as_acquired[1:]:
        [rt] = case.sources
        assert rt.kind is SourceKind.RTSTRUCT and rt.paths[0].endswith(f"{case.folder.split('/')[1]}/rtstruct.dcm")
    assert [c.variant for c in found.cases[:2]] == ["as acquired", "averaged to ~8 mm"]
    assert len(found.cases) == 8
    assert pickle.loads(pickle.dumps(found.cases[0])) == found.cases[0]  # can be sent to workers


def _seg_for(datasets: list, path: Path) -> Path:
    mask = np.zeros((len(datasets), datasets[0].Rows, datasets[0].Columns), dtype=bool)
    mask[2:4, 10:14, 10:14] = True
    segment = hd.seg.SegmentDescription(
        1, "Nodule", Code("49755003", "SCT", "Morphologically Altered Structure"), Code("27925004", "SCT", "Nodule"),
        "MANUAL",
    )  # fmt: skip
    seg = hd.seg.Segmentation(
        datasets, mask[..., None].astype(np.uint8), "BINARY", [segment], generate_uid(), 300, generate_uid(), 1,
        "ACME", "Seg", "1", "1",
    )  # fmt: skip
    seg.save_as(path)
    return path


def test_generated_folder_seg_label_volume_boxes_and_no_reference(tmp_path: Path) -> None:
    root = tmp_path / "studies"
    with_seg, with_nifti, with_boxes, without = (ct_datasets(chest_hu((10, 32, 32))) for _ in range(4))
    write_series(root / "a" / "ct", with_seg)
    _seg_for(with_seg, root / "a" / "seg.dcm")
    write_series(root / "b" / "ct", with_nifti)
    labels = np.zeros((10, 32, 32), dtype=np.uint8)
    labels[4:6, 8:12, 8:12] = 1
    sitk.WriteImage(label_image_on(volume_of(with_nifti), labels), str(tmp_path / "b_labels.nii.gz"))
    write_series(root / "c" / "ct", with_boxes)
    notes = tmp_path / "boxes"
    notes.mkdir()
    (notes / f"{with_boxes[3].SOPInstanceUID}.xml").write_text(
        "<annotation><object><name>A</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>9</xmax><ymax>9</ymax>"
        "</bndbox></object></annotation>"
    )
    (notes / "1.2.3.4.5.xml").write_text("<annotation/>")  # names no slice here
    write_series(root / "d" / "ct", without)
    write_series(root / "e" / "ct", with_rt := ct_datasets(chest_hu((10, 32, 32))))
    write_rtstruct(root / "e" / "rtstruct.dcm", with_rt)  # all these series share one frame of reference
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("series,labels\nstudies/b,b_labels.nii.gz\n")
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        found = discover_cases([root], index, annotations=notes, manifest=manifest)
    kinds = {c.folder: [s.kind for s in c.sources] for c in found.cases}
    assert kinds == {
        "studies/a/ct": [SourceKind.SEG], "studies/b/ct": [SourceKind.LABEL_VOLUME], "studies/c/ct": [SourceKind.VOC],
        "studies/e/ct": [SourceKind.RTSTRUCT],
    }  # fmt: skip
    assert {c.manufacturer for c in found.cases} == {"ACME Medical"}
    assert any("1 CT series have no reference labels" in n for n in found.notes)
    assert {c.series_instance_uid for c in found.cases} == {
        str(d[0].SeriesInstanceUID) for d in (with_seg, with_nifti, with_boxes, with_rt)
    }


def test_manifest_json_and_csv_with_relative_paths_and_errors(tmp_path: Path) -> None:
    (tmp_path / "ct").mkdir()
    (tmp_path / "l.nrrd").write_bytes(b"")
    (tmp_path / "m.json").write_text(json.dumps({"cases": [{"series": "ct", "labels": "l.nrrd", "series_uid": "1.2"}]}))
    [entry] = read_manifest(tmp_path / "m.json")
    assert entry.series_folder == (tmp_path / "ct").resolve() and entry.series_uid == "1.2"
    (tmp_path / "m.csv").write_text("series,labels\nct,l.nrrd\n")
    assert read_manifest(tmp_path / "m.csv")[0].labels == (tmp_path / "l.nrrd").resolve()
    (tmp_path / "bad.csv").write_text("series,labels\nct,missing.nii.gz\n")
    with pytest.raises(LabelReadError, match=re.escape("bad.csv entry 1: missing.nii.gz is not")):
        read_manifest(tmp_path / "bad.csv")
    (tmp_path / "bad.json").write_text('{"cases": [{"series": "ct"}]}')
    with pytest.raises(LabelReadError, match="needs both"):
        read_manifest(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(LabelReadError, match="cannot be read"):
        read_manifest(tmp_path / "broken.json")
