"""A case's reference lesions on its volume, from every source, and their thick-slice versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.labels import LabelRole, LabelShape
from meddiag_desktop.core.reslice import average_mask
from meddiag_desktop.io.label_volumes import label_volume_labels
from meddiag_desktop.io.rtstruct import read_structure_set, structure_labels
from meddiag_desktop.io.seg_labels import read_segments, seg_labels
from meddiag_desktop.io.voc_boxes import read_voc_boxes
from meddiag_desktop.validation.cases import LabelSource, SourceKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from meddiag_desktop.core.labels import ReferenceLabel
    from meddiag_desktop.core.volume import Volume


def _rtstruct(path: Path, volume: Volume, notes: list[str]) -> list[ReferenceLabel]:
    return structure_labels(read_structure_set(path), volume, roles=(LabelRole.LESION,))


def _seg(path: Path, volume: Volume, notes: list[str]) -> list[ReferenceLabel]:
    automatic = [s.label for s in read_segments(path) if s.algorithm_type == "AUTOMATIC"]
    if automatic:
        notes.append(f"{path.name}: segments made by an algorithm are not references: {', '.join(automatic)}")
    references = seg_labels(path, volume, include_automatic=False)
    others = [label.name for label in references if label.role is not LabelRole.LESION]
    if others:
        notes.append(f"{path.name}: segments not recognised as lesions, not used: {', '.join(others)}")
    return [label for label in references if label.role is LabelRole.LESION]


def _voc(paths: Sequence[Path], volume: Volume, notes: list[str]) -> list[ReferenceLabel]:
    boxes = read_voc_boxes(paths, volume)
    if boxes.ignored_files:
        notes.append(f"{boxes.ignored_files} of {len(paths)} box files name slices not in this series; ignored")
    return boxes.labels


def _label_volume(path: Path, volume: Volume, notes: list[str]) -> list[ReferenceLabel]:
    return label_volume_labels(path, volume)


def source_lesions(source: LabelSource, volume: Volume, notes: list[str]) -> list[ReferenceLabel]:
    """The lesions of one reference source on ``volume`` (plain-words remarks go to ``notes``).

    Raises
    ------
    DicomReadError, LabelReadError
        The source cannot be read or placed on this series.
    """
    paths = [Path(p) for p in source.paths]
    if source.kind is SourceKind.VOC:
        return _voc(paths, volume, notes)
    reader = {SourceKind.RTSTRUCT: _rtstruct, SourceKind.SEG: _seg, SourceKind.LABEL_VOLUME: _label_volume}
    return [label for path in paths for label in reader[source.kind](path, volume, notes)]


def case_lesions(sources: Sequence[LabelSource], volume: Volume) -> tuple[list[ReferenceLabel], list[str]]:
    """Every reference lesion of a case with a voxel on ``volume``, and notes on what was left out."""
    notes: list[str] = []
    lesions = [label for source in sources for label in source_lesions(source, volume, notes)]
    empty = [label.name for label in lesions if not label.mask.any()]
    if empty:
        notes.append(f"lesions with no voxel on this series, not counted: {', '.join(empty)}")
    return [label for label in lesions if label.mask.any()], notes


def _thick_box(mask: NDArray[np.bool_], group: int) -> NDArray[np.bool_]:
    n = mask.shape[0] // group
    return np.asarray(mask[: n * group].reshape(n, group, *mask.shape[1:]).any(axis=1))


def thicken(labels: Sequence[ReferenceLabel], group: int) -> list[ReferenceLabel]:
    """Labels on a grid averaged in groups of ``group`` slices (``core.reslice.average_slices``).

    Outlines keep the thick voxels that are at least half inside (``average_mask``); boxes keep
    every thick voxel that holds a boxed voxel, since a box bounds its lesion.
    """
    out = []
    for label in labels:
        mask = _thick_box(label.mask, group) if label.shape is LabelShape.BOX else average_mask(label.mask, group)
        out.append(replace(label, mask=mask))
    return out
