"""PASCAL-VOC box files -> box lesions: generated files, the demo's and the corpus's radiologist boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.core.labels import LabelRole, LabelShape
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.errors import LabelReadError
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series
from meddiag_desktop.io.voc_boxes import find_voc_files, read_voc, read_voc_boxes
from tests.validation.helpers import chest_hu, ct_datasets, volume_of

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo"
DEMO_BOXES = REPO / "resources" / "demo_annotations"


def voc_xml(boxes: list[tuple[str, int, int, int, int]], size: tuple[int, int] | None = (40, 30)) -> str:
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax>"
        "</bndbox></object>"
        for n, a, b, c, d in boxes
    )
    head = f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>1</depth></size>" if size else ""
    return f"<annotation>{head}{objects}</annotation>"


@pytest.fixture
def volume() -> Volume:
    return volume_of(ct_datasets(chest_hu((10, 30, 40))))


def write(folder: Path, uid: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uid}.xml"
    path.write_text(text)
    return path


def test_boxes_united_per_slice_and_connected_across_slices(volume: Volume, tmp_path: Path) -> None:
    uids = volume.source_sop_instance_uids
    files = [
        write(tmp_path, uids[2], voc_xml([("A", 5, 4, 9, 8), ("A", 8, 6, 12, 10)])),  # two overlapping boxes
        write(tmp_path, uids[3], voc_xml([("A", 6, 5, 10, 9)])),  # continues on the next slice
        write(tmp_path, uids[7], voc_xml([("B", 30, 20, 35, 25)])),  # a separate lesion...
        write(tmp_path, uids[8], voc_xml([("B", 36, 26, 38, 28)])),  # ...touching it only corner to corner
        write(tmp_path, "1.2.3.999", voc_xml([("A", 1, 1, 5, 5)])),  # names a slice of another series
    ]
    result = read_voc_boxes(files, volume)
    assert (result.used_files, result.ignored_files) == (4, 1)
    first, second = result.labels
    assert first.shape is LabelShape.BOX and first.role is LabelRole.LESION and first.source == "VOC"
    expected = np.zeros(volume.shape, dtype=bool)
    expected[2, 4:9, 5:10] = expected[2, 6:11, 8:13] = True  # inclusive pixel bounds
    expected[3, 5:10, 6:11] = True
    assert np.array_equal(first.mask, expected)
    assert np.argwhere(second.mask)[:, 0].tolist() == [7] * 36 + [8] * 9  # 26-connected, as findings are
    assert "1 box files name slices that are not in this series" in first.warnings[0]


def test_find_files_and_clear_errors(volume: Volume, tmp_path: Path) -> None:
    uid = volume.source_sop_instance_uids[0]
    write(tmp_path / "a", uid, voc_xml([("A", 1, 1, 3, 3)]))
    (tmp_path / "a" / "notes.xml").write_text("<x/>")  # not named by a UID: not a box file
    assert list(find_voc_files([tmp_path])) == [uid]
    wrong = write(tmp_path / "b", uid, voc_xml([("A", 1, 1, 3, 3)], size=(512, 512)))
    with pytest.raises(LabelReadError, match="512 x 512 image"):
        read_voc_boxes([wrong], volume)
    broken = write(tmp_path / "c", uid, "<annotation><object>")
    with pytest.raises(LabelReadError, match="not a readable PASCAL-VOC"):
        read_voc(broken)
    bad = write(tmp_path / "d", uid, voc_xml([("A", 1, 1, 3, 3)]).replace("<xmax>3</xmax>", "<xmax>n/a</xmax>"))
    with pytest.raises(LabelReadError, match="<xmax>"):
        read_voc(bad)


def _load(folder: Path, tmp_path: Path) -> Volume:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [series] = [s for s in index.series() if s.modality == "CT"]
        [volume] = load_series(index, series.series_instance_uid)
        return volume


def _check_a0001(volume: Volume, box_folder: Path) -> None:
    files = sorted(box_folder.glob("*.xml"))
    result = read_voc_boxes(files, volume)
    assert (result.used_files, result.ignored_files) == (11, 9)  # 9 name a reconstruction not kept
    [lesion] = result.labels
    slices = sorted(set(np.argwhere(lesion.mask)[:, 0].tolist()))
    assert slices == list(range(41, 52)) and 46 in slices  # the radiologists' boxes centre on slice 46
    first = read_voc(next(f for f in files if f.stem == volume.source_sop_instance_uids[46]))
    b = first.boxes[0]
    assert lesion.mask[46, b.ymin : b.ymax + 1, b.xmin : b.xmax + 1].all()
    assert (lesion.mask & (np.asarray(volume.array) > -100)).sum() > 10_000  # the solid mass is inside


def test_demo_boxes_on_the_demo_series(tmp_path: Path) -> None:
    _check_a0001(_load(DEMO, tmp_path), DEMO_BOXES / "A0001")


def test_corpus_boxes_on_the_corpus_series(corpus: Path, tmp_path: Path) -> None:
    root = corpus / "lung_pet_ct_dx"
    _check_a0001(_load(root / "A0001_philips_lungkernel_L", tmp_path), root / "annotations" / "A0001")
