"""What a source file holds that identifies someone, and where it could survive in an export.

Identifying: every value (recursively, inside every sequence item) of VR PN, LO, SH, LT, ST, UT,
UC, UR, AE, AS, DA, DT and UI, and every textual value of a private attribute; minus what the
profile keeps on purpose (``KEPT``: equipment and acquisition descriptions that Table E.1-1 does
not list, DICOM-defined UIDs, times under the Modified Dates option) and values equal to one of
those kept values in the same file. CS values are codes (PS3.15 E.1.1 note 9: no CS in Table
E.1-1 but Patient's Sex, which is checked on its own).
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.charset import encode_string
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

IDENTIFYING_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC", "UR", "AE", "AS", "DA", "DT", "UI"})
KEPT = frozenset(
    {
        # Table E.1-1 does not list these: kept by the Basic Profile (E.1.1)
        "Manufacturer", "ManufacturerModelName", "SoftwareVersions", "ConvolutionKernel", "FilterType",
        "SpecificCharacterSet", "ImageType", "BodyPartExamined", "CodeMeaning", "CodeValue", "CodingSchemeDesignator",
        "CodingSchemeVersion", "ContextIdentifier", "MappingResource",
        # acquisition and display descriptions, not in Table E.1-1 (only the Clean Descriptors Option touches
        # descriptions, and it is not claimed)
        "SequenceName", "TransmitCoilName", "WindowCenterWidthExplanation", "LUTExplanation", "TransducerData",
        "ProcessingFunction",
        # segmentation content, not in Table E.1-1
        "ContentLabel", "ContentDescription", "SegmentLabel", "SegmentAlgorithmName", "DimensionDescriptionLabel",
        "TrackingID",
    }
)  # fmt: skip
KEPT_VRS = frozenset({"CS", "IS", "DS", "TM", "US", "SS", "UL", "SL", "FL", "FD"})  # codes, numbers, times
MIN_BYTES = 6  # shorter values are compared with every exported value, not searched in the file bytes


@dataclass(frozen=True)
class Leak:
    value: str
    where: str


def walk_values(dataset: Dataset, path: str = "", *, meta: bool = True) -> list[tuple[str, str, str]]:
    """``(where, VR or "private", text)`` of every value as text, recursively (and the file meta)."""
    found: list[tuple[str, str, str]] = []
    file_meta = getattr(dataset, "file_meta", None) if meta and not path else None
    for ds in ([file_meta] if file_meta is not None else []) + [dataset]:
        for element in ds:
            name = element.keyword or str(element.tag)
            if element.VR == "SQ":
                for i, item in enumerate(element.value):
                    found += walk_values(item, f"{path}{name}[{i}].")
                continue
            for text in _texts(element.value):
                found.append((f"{path}{name}", "private" if element.tag.is_private else element.VR, text))
    return found


def _texts(value: object) -> list[str]:
    values = list(value) if isinstance(value, MultiValue | list) else [value]
    out = []
    for v in values:
        if isinstance(v, bytes):
            v = v.decode("latin-1") if all(32 <= b < 127 for b in v.rstrip(b"\0 ")) else ""
        text = str(v).strip("\0 ") if v is not None else ""
        if text:
            out.append(text)
            out += [part for part in text.split("^") if len(part) >= 2 and part != text]  # PN components
    return out


def identifying_values(dataset: Dataset) -> dict[str, str]:
    """Identifying value -> where it was found (see the module docstring)."""
    values = walk_values(dataset, meta=False)
    kept = [text for where, vr, text in values if where.rsplit(".", 1)[-1] in KEPT or vr in KEPT_VRS]
    found = {}
    for where, vr, text in values:
        if where.rsplit(".", 1)[-1] in KEPT or any(text in k for k in kept):
            continue  # kept by the profile, or part of a kept value (Institution "TOSHIBA", maker "TOSHIBA_MEC")
        if vr == "UI" and text.startswith("1.2.840.10008."):
            continue  # DICOM-defined UIDs (SOP classes, transfer syntaxes) identify nobody
        if vr not in ("DA", "DT", "UI") and (len(text) < 3 or _is_number(text)):
            continue  # a number or a one- or two-letter code identifies nobody and recurs everywhere
        if vr in IDENTIFYING_VRS or vr == "private":
            found.setdefault(text, where)
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def encodings(text: str, dataset: Dataset) -> set[bytes]:
    """The byte forms ``text`` may take in a file: UTF-8, Latin-1 and the dataset's own character set."""
    forms = {text.encode("utf-8")}
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(text.encode("latin-1"))
    charsets = dataset.get("SpecificCharacterSet") or "ISO_IR 6"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom warns, then replaces what the character set cannot encode
        with contextlib.suppress(UnicodeEncodeError, LookupError, ValueError, UserWarning):
            forms.add(encode_string(text, list(charsets) if isinstance(charsets, MultiValue) else [charsets]))
    return {form for form in forms if len(form) >= MIN_BYTES}


def leaks(sources: list[Dataset], exported: list[Path], extra: dict[str, str] | None = None) -> list[Leak]:
    """Every identifying value of ``sources`` (and ``extra``) found in an exported file's values or bytes.

    The bytes are searched whole: ASCII forms among the file's printable runs (one pass over the
    file), other forms (names in Latin-1, ISO 2022, UTF-8) in the raw bytes.
    """
    identifying: dict[str, tuple[str, set[bytes]]] = {}
    for source in sources:
        for text, where in (identifying_values(source) | (extra or {})).items():
            forms = identifying.setdefault(text, (where, set()))[1]
            forms |= encodings(text, source)
    found: list[Leak] = []
    for path in exported:
        data = path.read_bytes()
        printable = "\n".join(run.decode("ascii") for run in re.findall(rb"[\x20-\x7e]{4,}", data))
        values = {text for _, _, text in walk_values(pydicom.dcmread(path))}
        for text, (where, forms) in identifying.items():
            in_bytes = any(f.decode("ascii") in printable if f.isascii() else f in data for f in forms)
            if text in values or in_bytes:
                found.append(Leak(text, f"{where} -> {path.name}"))
    return found
