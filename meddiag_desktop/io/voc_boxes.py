"""PASCAL-VOC box annotations, one XML file per slice named ``<SOPInstanceUID>.xml`` -> box lesions.

This is how TCIA Lung-PET-CT-Dx ships its radiologists' tumour boxes. ``xmin``..``xmax`` and
``ymin``..``ymax`` are taken as inclusive 0-based pixel columns and rows of that slice (what
LabelImg writes). The boxes of a slice are united, and boxed regions connected in 3D (26-
neighbourhood, across adjacent slices) become one ``LabelShape.BOX`` lesion each. Every object
is a lesion whatever its class name (A, B, E, G are tumour types there). Files naming slices
that are not in the series belong to another reconstruction: they are ignored and counted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.labels import LabelRole, LabelShape, ReferenceLabel
from meddiag_desktop.errors import LabelReadError
from meddiag_desktop.io.label_grid import components

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume

_UID = re.compile(r"^[0-9]+(\.[0-9]+)+$")


@dataclass(frozen=True)
class VocBox:
    """One ``<object>``: class name and inclusive pixel bounds."""

    name: str
    xmin: int
    ymin: int
    xmax: int
    ymax: int


@dataclass(frozen=True)
class VocAnnotation:
    """One slice's annotation file."""

    path: str
    sop_instance_uid: str
    width: int | None
    height: int | None
    boxes: tuple[VocBox, ...]


@dataclass(frozen=True)
class VocBoxes:
    """The box lesions of one series, and how many annotation files named other slices."""

    labels: list[ReferenceLabel]
    used_files: int
    ignored_files: int


def find_voc_files(folders: Iterable[Path]) -> dict[str, Path]:
    """``SOPInstanceUID -> path`` for every ``<UID>.xml`` below the folders."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.xml")):
            if _UID.match(path.stem):
                found.setdefault(path.stem, path)
    return found


def _int(node: ET.Element, tag: str, path: Path) -> int:
    text = node.findtext(tag)
    try:
        return round(float(text or ""))
    except ValueError as exc:
        raise LabelReadError(f"{path.name}: <{tag}> is {text!r}, not a pixel coordinate.") from exc


def read_voc(path: Path) -> VocAnnotation:
    """Parse one VOC XML file.

    Raises
    ------
    LabelReadError
        Not well-formed XML, or a box without numeric bounds.
    """
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise LabelReadError(f"{path.name} is not a readable PASCAL-VOC XML file: {exc}") from exc
    boxes = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        if box is None:
            continue
        bounds = [_int(box, tag, path) for tag in ("xmin", "ymin", "xmax", "ymax")]
        boxes.append(VocBox(str(obj.findtext("name", "") or "box").strip(), *bounds))
    size = root.find("size")
    width = _int(size, "width", path) if size is not None and size.findtext("width") else None
    height = _int(size, "height", path) if size is not None and size.findtext("height") else None
    return VocAnnotation(str(path), path.stem, width, height, tuple(boxes))


def _paint(mask: NDArray[np.bool_], annotation: VocAnnotation) -> None:
    rows, cols = mask.shape
    if (annotation.width, annotation.height) not in ((None, None), (cols, rows)):
        raise LabelReadError(
            f"{Path(annotation.path).name} was drawn on a {annotation.width} x {annotation.height} image; "
            f"this series' slices are {cols} x {rows}."
        )
    for b in annotation.boxes:
        x0, x1 = sorted((max(b.xmin, 0), min(b.xmax, cols - 1)))
        y0, y1 = sorted((max(b.ymin, 0), min(b.ymax, rows - 1)))
        mask[y0 : y1 + 1, x0 : x1 + 1] = True


def read_voc_boxes(paths: Sequence[Path], volume: Volume) -> VocBoxes:
    """Box lesions of ``volume`` from annotation files (see the module docstring for the rules)."""
    slice_of = {uid: z for z, uid in enumerate(volume.source_sop_instance_uids)}
    mask = np.zeros(volume.shape, dtype=bool)
    names: set[str] = set()
    used = 0
    for path in paths:
        if path.stem not in slice_of:
            continue
        annotation = read_voc(path)
        _paint(mask[slice_of[path.stem]], annotation)
        names.update(b.name for b in annotation.boxes)
        used += 1
    ignored = len(paths) - used
    note = (f"{ignored} box files name slices that are not in this series; ignored",) if ignored else ()
    prefix = "/".join(sorted(names)) or "box"
    labels = [
        ReferenceLabel(f"{prefix} boxes {k}", m, LabelRole.LESION, LabelShape.BOX, "VOC", note)
        for k, m in enumerate(components(mask), start=1)
    ]
    return VocBoxes(labels, used, ignored)


def voc_box_labels(paths: Sequence[Path], volume: Volume) -> list[ReferenceLabel]:
    """The box lesions only (see :func:`read_voc_boxes` for the ignored-file count)."""
    return read_voc_boxes(paths, volume).labels
