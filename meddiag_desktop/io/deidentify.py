"""De-identification per DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile
(E.1, actions of Table E.1-1) with the Retain Longitudinal Temporal Information with Modified
Dates Option (E.3.6).

One ``Deidentifier`` serves one export and holds what its files share: the UID map (a source
UID always gets the same new UID, so a series, its SEG and its SR still reference each other),
one date offset (every date moves by the same number of days, so intervals survive; times are
kept) and the pseudonym that replaces the Patient's Name and Patient ID.

Table E.1-1 (``deid_table``) decides each listed attribute, at every depth of every sequence.
On top of it, wherever they occur:

- private attributes are removed (no Retain Safe Private Option), and so are group lengths,
  overlay (60xx) and curve (50xx) groups and public attributes pydicom does not know;
- every DA and DT value, listed or not, is shifted by the offset; TM values are kept; the birth
  date is emptied and the birth time removed (the option does not cover them);
- a UID that is not DICOM-defined (root ``1.2.840.10008``) is replaced, listed or not;
- a person name the table does not list is emptied;
- SR content (E.3.4, Clean Structured Content): the Content Sequence is cleaned item by item,
  and free text (TEXT items) is replaced unless its concept is one the app fills in itself.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from meddiag_desktop.errors import DeidentifyError
from meddiag_desktop.io.deid_table import PROFILE_BY_TAG, Action, resolve

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pydicom.tag import BaseTag

DICOM_UID_ROOT = "1.2.840.10008."
SR_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
DUMMY_TEXT = "ANONYMIZED"
MAX_OFFSET_DAYS = 3650

PROFILE = Code("113100", "DCM", "Basic Application Confidentiality Profile")
MODIFIED_DATES = Code("113107", "DCM", "Retain Longitudinal Temporal Information Modified Dates Option")
CLEAN_STRUCTURED_CONTENT = Code("113104", "DCM", "Clean Structured Content Option")
METHOD = ("PS3.15 E.1 Basic Application Level Confidentiality", "Retain Longitudinal Modified Dates Option")

_SPECIAL = {
    "PatientName": Action.PSEUDONYM,
    "PatientID": Action.PSEUDONYM,
    "PatientBirthDate": Action.EMPTY,
    "PatientBirthTime": Action.REMOVE,
}
_BY_VR = {"UI": Action.NEW_UID, "PN": Action.EMPTY, "SQ": Action.CLEAN}
_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_NUMBER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
_BYTE_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
TEXT_VALUE = 0x0040A160
MACHINE_TEXT = frozenset(
    (code.scheme_designator, code.value)
    for code in (
        codes.DCM.DeviceObserverName, codes.DCM.DeviceObserverManufacturer, codes.DCM.DeviceObserverModelName,
        codes.DCM.AlgorithmName, codes.DCM.AlgorithmVersion, codes.DCM.TrackingIdentifier,
    )
)  # fmt: skip
"""TEXT concepts the app writes itself (PS3.16 TID 1004, 4019, 1501); other SR text is free text."""
_DATETIME = re.compile(r"(\d{4})(\d{2})?(\d{2})?([0-9.+\- ]*)")
_PSEUDONYM = re.compile(r"[ -\[\]-~]{1,64}")  # printable ASCII without backslash, at most 64 (LO)


def validate_pseudonym(text: str) -> str:
    """The pseudonym as stored (Patient's Name PN and Patient ID LO: one value, ≤ 64 characters).

    Raises
    ------
    DeidentifyError
        Empty, longer than 64 characters, not printable ASCII, or with a backslash or ``=``.
    """
    value = text.strip()
    if not _PSEUDONYM.fullmatch(value) or "=" in value:
        raise DeidentifyError(
            f"The pseudonym {text!r} cannot be used: give 1 to 64 printable ASCII characters, without \\ or =."
        )
    return value


def random_offset_days() -> int:
    """A date offset for one export: 1 to 10 years back, never kept."""
    return -(365 + secrets.randbelow(MAX_OFFSET_DAYS - 365))


def attribute_action(tag: BaseTag, vr: str) -> Action:
    """The action for one attribute, wherever it is (top level or inside a sequence item)."""
    group = tag.group
    if tag.is_private or tag.element == 0 or group == 0x0002 or _repeating_group(group):
        return Action.REMOVE
    keyword = keyword_for_tag(tag)
    if keyword in _SPECIAL:
        return _SPECIAL[keyword]
    if vr in ("DA", "DT"):
        return Action.SHIFT_DATE
    if vr == "TM":
        return Action.KEEP
    code = PROFILE_BY_TAG.get(int(tag))
    if code is not None:
        return resolve(code, keyword, vr == "SQ")
    if not keyword:
        return Action.REMOVE  # a public attribute unknown to pydicom cannot be judged
    return _BY_VR.get(vr, Action.KEEP)


def _repeating_group(group: int) -> bool:
    """Curve (50xx) and overlay (60xx) groups: Curve Data, Overlay Data and Comments are X."""
    return group % 2 == 0 and (0x5000 <= group <= 0x501E or 0x6000 <= group <= 0x601E)


def _vr(element: DataElement | RawDataElement) -> str:
    """The element's VR; for implicit VR or UN, the dictionary's (as pydicom converts it)."""
    if element.VR and element.VR != "UN":
        return str(element.VR)
    try:
        return str(dictionary_VR(element.tag))
    except KeyError:
        return "UN"


def burned_in_warning(dataset: Dataset) -> str:
    """Why the pixels may show identifying text, or ``""`` (PS3.15 E.3.1; Burned In Annotation, PS3.3 C.7.6.1).

    Ultrasound, secondary capture and X-ray angiography images often carry the patient's name
    in their pixels: they need BurnedInAnnotation NO. Any image with YES is flagged too.
    """
    if "PixelData" not in dataset and "FloatPixelData" not in dataset and "Rows" not in dataset:
        return ""
    flag = str(dataset.get("BurnedInAnnotation", "") or "").strip().upper()
    if flag == "YES":
        return "BurnedInAnnotation is YES: text in the pixels may identify the patient"
    kind = _burned_in_kind(dataset)
    if kind and flag != "NO":
        return f"{kind} image without BurnedInAnnotation NO: text in the pixels may identify the patient"
    return ""


def _burned_in_kind(dataset: Dataset) -> str:
    modality = str(dataset.get("Modality", "") or "").upper()
    sop_class = str(dataset.get("SOPClassUID", ""))
    if modality in ("US", "XA", "SC"):
        return modality
    if sop_class.startswith("1.2.840.10008.5.1.4.1.1.7"):  # the Secondary Capture Image Storage classes
        return "SC"
    return ""


class Deidentifier:
    """One export's de-identification: one UID map, one date offset, one pseudonym.

    Parameters
    ----------
    pseudonym
        Replaces Patient's Name and Patient ID (checked by ``validate_pseudonym``).
    date_offset_days
        Added to every date of every file of this export.
    uid_secret
        Seeds the new UIDs; a fresh random one by default, so two exports of the same study
        cannot be linked through their UIDs.
    """

    def __init__(self, pseudonym: str, date_offset_days: int, uid_secret: str | None = None) -> None:
        self.pseudonym = validate_pseudonym(pseudonym)
        if date_offset_days == 0:
            raise DeidentifyError("A date offset of 0 days would keep the real dates; give another offset.")
        self.date_offset_days = date_offset_days
        self._offset = timedelta(days=date_offset_days)
        self._secret = uid_secret or secrets.token_hex(16)
        self._uids: dict[str, str] = {}

    @property
    def uid_map(self) -> Mapping[str, str]:
        """Source UID -> new UID, for every UID replaced so far."""
        return dict(self._uids)

    def new_uid(self, uid: str) -> str:
        """The export's UID for ``uid``; DICOM-defined UIDs (SOP classes, ...) are kept."""
        source = uid.strip("\0 ")
        if not source or source.startswith(DICOM_UID_ROOT):
            return source
        if source not in self._uids:
            self._uids[source] = str(generate_uid(entropy_srcs=[self._secret, source]))
        return self._uids[source]

    def shift_date(self, value: str) -> str:
        """A DA moved by the offset; ``""`` when it is not a valid date (it cannot be kept)."""
        text = value.strip().replace(".", "")  # ACR-NEMA wrote YYYY.MM.DD
        if len(text) != 8 or not text.isdigit():
            return ""
        return self.shift_datetime(text)

    def shift_datetime(self, value: str) -> str:
        """A DT moved by the offset at its own precision; the time and UTC offset are kept."""
        match = _DATETIME.fullmatch(value.strip())
        if match is None:
            return ""
        year, month, day, rest = match.groups()
        try:
            start = date(int(year), int(month or 1), int(day or 1))
            moved = start + self._offset
        except (ValueError, OverflowError):
            return ""
        digits = f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"
        return digits[: len(year + (month or "") + (day or ""))] + rest.strip()

    def dataset(self, source: Dataset) -> Dataset:
        """A de-identified copy of ``source`` with its de-identification recorded and new file meta.

        Raises
        ------
        DeidentifyError
            The object has no SOP Class or SOP Instance UID.
        """
        if not source.get("SOPClassUID") or not source.get("SOPInstanceUID"):
            raise DeidentifyError("The object has no SOP Class UID or SOP Instance UID.")
        out = self._clean(source)
        for keyword in _type2_sequences(source):
            setattr(out, keyword, [])  # removed by its X/Z/D action, but required (empty) here
        self._record(out, structured="ContentSequence" in source)
        out.file_meta = _file_meta(source, out)
        return out

    def _clean(self, source: Dataset) -> Dataset:
        out = Dataset()
        free_text = _is_free_text(source)
        for element in source.elements():
            vr = _vr(element)
            free = free_text and element.tag == TEXT_VALUE
            action = Action.DUMMY if free else attribute_action(element.tag, vr)
            cleaned = self._apply(action, element, source, vr)
            if cleaned is not None:
                out[element.tag] = cleaned
        return out

    def _apply(
        self, action: Action, element: DataElement | RawDataElement, source: Dataset, vr: str
    ) -> DataElement | RawDataElement | None:
        if action is Action.KEEP:
            return element
        if action is Action.REMOVE:
            return None
        tag = element.tag
        value = source[tag].value
        if action is Action.CLEAN:
            return DataElement(tag, "SQ", [self._clean(item) for item in value or []])
        return DataElement(tag, vr, self._new_value(action, vr, value))

    def _new_value(self, action: Action, vr: str, value: object) -> object:
        if action is Action.PSEUDONYM:
            return self.pseudonym
        if action is Action.NEW_UID:
            return _each(value, self.new_uid)
        if action is Action.SHIFT_DATE:
            return _each(value, self.shift_date if vr == "DA" else self.shift_datetime)
        if action is Action.DUMMY:
            return dummy_value(vr)
        return [] if vr == "SQ" else None  # EMPTY

    def _record(self, out: Dataset, *, structured: bool) -> None:
        """Patient identity, method and options, and the modified dates (PS3.15 E.1.1, E.3.6)."""
        out.PatientName = self.pseudonym
        out.PatientID = self.pseudonym
        out.PatientIdentityRemoved = "YES"
        out.DeidentificationMethod = list(METHOD)
        claimed = [PROFILE, MODIFIED_DATES, *([CLEAN_STRUCTURED_CONTENT] if structured else [])]
        out.DeidentificationMethodCodeSequence = [_code_item(code) for code in claimed]
        out.LongitudinalTemporalInformationModified = "MODIFIED"


def _type2_sequences(source: Dataset) -> list[str]:
    """Sequences an X/Z/D action removes but the source's IOD makes Type 2: they stay, empty.

    The SR Document Series module makes the Referenced Performed Procedure Step Sequence Type 2
    (PS3.3 C.17.1); image modules make it Type 3, where an empty sequence would be invalid.
    """
    is_sr = str(source.get("SOPClassUID", "")).startswith(SR_CLASS_PREFIX)
    keyword = "ReferencedPerformedProcedureStepSequence"
    return [keyword] if is_sr and keyword in source else []


def dummy_value(vr: str) -> object:
    """A non-empty value that identifies nobody, valid for ``vr`` (action D)."""
    if vr in _TEXT_VRS:
        return DUMMY_TEXT
    if vr in ("DS", "IS"):
        return "0"
    if vr in _NUMBER_VRS:
        return 0
    if vr == "TM":
        return "000000"
    if vr == "AS":
        return "000Y"
    return b"\0\0" if vr in _BYTE_VRS else None


def _each(value: object, change: Callable[[str], str]) -> object:
    """``change`` applied to a single value or to each value of a multi-valued element."""
    if value is None or isinstance(value, str | date):
        return value if value is None else change(_text(value))
    return [change(_text(item)) for item in value]  # type: ignore[attr-defined]  # pydicom MultiValue


def _text(value: object) -> str:
    """A value as DICOM text; pydicom's DA and DT objects (highdicom makes them) keep their original string."""
    original = getattr(value, "original_string", None)
    if original:
        return str(original)
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d%H%M%S.%f") + (value.strftime("%z") if value.tzinfo else "")
    return value.strftime("%Y%m%d") if isinstance(value, date) else str(value)


def _is_free_text(item: Dataset) -> bool:
    """A TEXT content item whose concept is not one the app writes itself."""
    if item.get("ValueType") != "TEXT":
        return False
    concept = item.get("ConceptNameCodeSequence") or [Dataset()]
    return (str(concept[0].get("CodingSchemeDesignator", "")), str(concept[0].get("CodeValue", ""))) not in MACHINE_TEXT


def _code_item(code: Code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


def _file_meta(source: Dataset, out: Dataset) -> FileMetaDataset:
    """New File Meta Information (PS3.10 7.1): only the new UIDs and the source's transfer syntax."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    source_meta = getattr(source, "file_meta", None)
    meta.TransferSyntaxUID = (source_meta.get("TransferSyntaxUID") if source_meta else None) or ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta
