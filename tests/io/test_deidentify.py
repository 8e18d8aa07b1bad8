"""The Annex E engine on hand-built datasets: table actions, recursion, UIDs, dates, SR text, records."""

from __future__ import annotations

import pytest
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, UltrasoundImageStorage

from meddiag_desktop.errors import DeidentifyError
from meddiag_desktop.io.deid_table import BASIC_PROFILE, PROFILE_BY_TAG, Action
from meddiag_desktop.io.deidentify import (
    DUMMY_TEXT,
    Deidentifier,
    attribute_action,
    burned_in_warning,
    validate_pseudonym,
)

SOURCE_UID = "1.2.3.4.5.6.7.8"
OFFSET = -10


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _source() -> Dataset:
    """A CT header with identifying values at the top, one and two sequence levels down, and in private tags."""
    ds = _item(
        SOPClassUID=CTImageStorage, SOPInstanceUID=SOURCE_UID + ".1", StudyInstanceUID=SOURCE_UID,
        SeriesInstanceUID=SOURCE_UID + ".2", PatientName="Doe^Jane", PatientID="MRN-99887766",
        PatientBirthDate="19610203", PatientSex="F", PatientAge="063Y", StudyDate="20240229", StudyTime="101500",
        AccessionNumber="ACC-5566", InstitutionName="St. Elsewhere", StationName="CT-ROOM-2",
        ReferringPhysicianName="House^Gregory", SeriesDescription="chest for Jane Doe", Manufacturer="ACME",
        Modality="CT", DeviceSerialNumber="SN-123456",
    )  # fmt: skip
    ds.add_new(0x00091010, "LO", "private Jane Doe")
    ds.ReferencedImageSequence = Sequence(
        [_item(ReferencedSOPClassUID=CTImageStorage, ReferencedSOPInstanceUID=SOURCE_UID + ".1")]
    )
    deep = _item(
        ReferencedSOPInstanceUID=SOURCE_UID + ".2",
        OperatorsName="Tech^Tom",
        InstanceCreationDate="20240228",
        AcquisitionDateTime="20240229101500.5+0100",
    )
    deep.add_new(0x00111001, "LO", "private deep")
    ds.ReferencedSeriesSequence = Sequence(
        [_item(SeriesInstanceUID=SOURCE_UID + ".2", ReferencedInstanceSequence=[deep])]
    )
    ds.OtherPatientIDsSequence = Sequence([_item(PatientID="OLD-1")])
    ds.AnatomicRegionSequence = Sequence(
        [_item(CodeValue="39607008", CodingSchemeDesignator="SCT", CodeMeaning="Lung")]
    )
    ds.add_new(0x60000010, "US", 2)  # Overlay Rows
    ds.add_new(0x60003000, "OW", b"\x01\x02")  # Overlay Data
    return ds


def _empty(ds: Dataset, *keywords: str) -> bool:
    """Each attribute present (Type 2 stays) with an empty value."""
    return all(k in ds and not ds[k].value for k in keywords)


def test_every_keyword_of_the_table_is_a_dicom_keyword_and_listed_once() -> None:
    keywords = [k for group in BASIC_PROFILE.values() for k in group]
    assert len(keywords) == len(set(keywords)) == len(PROFILE_BY_TAG) > 600
    assert all(tag_for_keyword(k) is not None for k in keywords)
    assert set(BASIC_PROFILE) == {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}


@pytest.mark.parametrize(
    ("keyword", "vr", "expected"),
    [
        ("PatientName", "PN", Action.PSEUDONYM), ("PatientID", "LO", Action.PSEUDONYM),
        ("PatientBirthDate", "DA", Action.EMPTY), ("PatientBirthTime", "TM", Action.REMOVE),
        ("StudyDate", "DA", Action.SHIFT_DATE), ("AcquisitionDateTime", "DT", Action.SHIFT_DATE),
        ("StudyTime", "TM", Action.KEEP), ("AccessionNumber", "SH", Action.EMPTY),
        ("InstitutionName", "LO", Action.EMPTY), ("DeviceSerialNumber", "LO", Action.DUMMY),
        ("SeriesDescription", "LO", Action.REMOVE), ("PatientAge", "AS", Action.REMOVE),
        ("OtherPatientIDsSequence", "SQ", Action.REMOVE), ("ReferencedStudySequence", "SQ", Action.REMOVE),
        ("ReferencedImageSequence", "SQ", Action.CLEAN), ("ContentSequence", "SQ", Action.CLEAN),
        ("VerifyingObserverName", "PN", Action.DUMMY), ("SOPInstanceUID", "UI", Action.NEW_UID),
        ("ReferencedSOPInstanceUID", "UI", Action.NEW_UID), ("Manufacturer", "LO", Action.KEEP),
        ("AnatomicRegionSequence", "SQ", Action.CLEAN), ("ConsultingPhysicianName", "PN", Action.EMPTY),
    ],
)  # fmt: skip
def test_actions_follow_table_e1_1_and_the_modified_dates_option(keyword: str, vr: str, expected: Action) -> None:
    assert attribute_action(Tag(tag_for_keyword(keyword)), vr) is expected


def test_private_overlay_group_length_and_unknown_attributes_are_removed() -> None:
    assert attribute_action(Tag(0x00091010), "LO") is Action.REMOVE
    assert attribute_action(Tag(0x60003000), "OW") is Action.REMOVE
    assert attribute_action(Tag(0x60020010), "US") is Action.REMOVE
    assert attribute_action(Tag(0x00080000), "UL") is Action.REMOVE
    unknown = Tag(0x0018FFF0)
    assert not keyword_for_tag(unknown)
    assert attribute_action(unknown, "LO") is Action.REMOVE


def test_identifying_values_are_replaced_at_every_depth() -> None:
    deid = Deidentifier("Subject^7", OFFSET, uid_secret="s")
    out = deid.dataset(_source())
    assert (str(out.PatientName), out.PatientID) == ("Subject^7", "Subject^7")
    assert _empty(out, "PatientBirthDate", "PatientSex", "AccessionNumber", "InstitutionName", "ReferringPhysicianName")
    assert "PatientAge" not in out and "SeriesDescription" not in out and "OtherPatientIDsSequence" not in out
    assert out.DeviceSerialNumber == DUMMY_TEXT and _empty(out, "StationName")
    assert (out.StudyDate, out.StudyTime, out.Manufacturer) == ("20240219", "101500", "ACME")
    assert not [e for e in out.iterall() if e.tag.is_private] and not [e for e in out if e.tag.group == 0x6000]
    deep = out.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0]
    assert _empty(deep, "OperatorsName") and deep.InstanceCreationDate == "20240218"
    assert deep.AcquisitionDateTime == "20240219101500.5+0100"
    assert out.AnatomicRegionSequence[0].CodeMeaning == "Lung"


def test_one_source_uid_gets_one_new_uid_everywhere_and_dicom_uids_stay() -> None:
    deid = Deidentifier("Subject^7", OFFSET)
    out = deid.dataset(_source())
    series = out.ReferencedSeriesSequence[0]
    assert (
        out.SeriesInstanceUID
        == series.SeriesInstanceUID
        == series.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID
    )
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPClassUID == CTImageStorage == out.ReferencedImageSequence[0].ReferencedSOPClassUID
    assert SOURCE_UID not in str(out) and out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    again = deid.dataset(_source())
    assert again.SOPInstanceUID == out.SOPInstanceUID  # same export: same map
    other = Deidentifier("Subject^7", OFFSET).dataset(_source())
    assert other.SOPInstanceUID != out.SOPInstanceUID  # another export cannot be linked through its UIDs


@pytest.mark.parametrize(
    ("value", "shifted"),
    [
        ("20240301", "20240220"), ("2024.03.01", "20240220"), ("20240230", ""), ("garbage!", ""), ("", ""),
        ("20240301120000", "20240220120000"), ("202403011200+0100", "202402201200+0100"), ("202403", "202402"),
        ("2024", "2023"), ("20240301Jane", ""),
    ],
)  # fmt: skip
def test_dates_move_by_the_offset_at_their_own_precision(value: str, shifted: str) -> None:
    deid = Deidentifier("Subject", OFFSET)
    move = deid.shift_date if len(value.replace(".", "")) == 8 or not value[:1].isdigit() else deid.shift_datetime
    assert move(value) == shifted


def test_multi_valued_dates_and_uids_are_changed_value_by_value() -> None:
    ds = _source()
    ds.CalibrationDate = ["20240301", "20240302"]
    ds.FailedSOPInstanceUIDList = [SOURCE_UID + ".1", SOURCE_UID + ".9"]
    out = Deidentifier("Subject", OFFSET).dataset(ds)
    assert list(out.CalibrationDate) == ["20240220", "20240221"]
    assert "FailedSOPInstanceUIDList" in out and out.FailedSOPInstanceUIDList[0] == out.SOPInstanceUID


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "Jane\\Doe", "Zoë", "A=B", "tab\there"])
def test_a_pseudonym_must_be_one_printable_ascii_value(bad: str) -> None:
    with pytest.raises(DeidentifyError, match="pseudonym"):
        validate_pseudonym(bad)


def test_sr_free_text_is_replaced_and_the_apps_own_text_kept() -> None:
    ds = _source()
    note = _item(ValueType="TEXT", TextValue="Jane Doe, bed 12", RelationshipType="CONTAINS")
    note.ConceptNameCodeSequence = [_item(CodeValue="D6", CodingSchemeDesignator="99MEDDIAG", CodeMeaning="Note")]
    algorithm = _item(ValueType="TEXT", TextValue="lung-nodule-seg", RelationshipType="HAS CONCEPT MOD")
    algorithm.ConceptNameCodeSequence = [_item(CodeValue="111001", CodingSchemeDesignator="DCM", CodeMeaning="x")]
    person = _item(ValueType="PNAME", PersonName="Radiologist^Rita", RelationshipType="HAS OBS CONTEXT")
    ds.ContentSequence = [_item(ValueType="CONTAINER", ContentSequence=[note, algorithm, person])]
    out = Deidentifier("Subject", OFFSET).dataset(ds)
    items = out.ContentSequence[0].ContentSequence
    assert [i.get("TextValue") or str(i.PersonName) for i in items] == [DUMMY_TEXT, "lung-nodule-seg", DUMMY_TEXT]
    codes = [c.CodeValue for c in out.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107", "113104"]  # Clean Structured Content claimed only with content


def test_the_deidentification_is_recorded_in_each_object() -> None:
    source = _source()
    source.PatientIdentityRemoved = "NO"
    source.DeidentificationMethod = "someone else's"
    source.file_meta = Dataset()
    source.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    source.file_meta.SourceApplicationEntityTitle = "HOSPITAL_PACS"
    out = Deidentifier("Subject", OFFSET).dataset(source)
    assert out.PatientIdentityRemoved == "YES" and out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert out.DeidentificationMethod[0].startswith("PS3.15 E.1")
    assert [(c.CodingSchemeDesignator, c.CodeValue) for c in out.DeidentificationMethodCodeSequence] == [
        ("DCM", "113100"), ("DCM", "113107")
    ]  # fmt: skip
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


def test_an_object_without_its_uids_or_an_offset_of_zero_is_refused() -> None:
    with pytest.raises(DeidentifyError, match="SOP"):
        Deidentifier("Subject", OFFSET).dataset(_item(PatientName="Doe^Jane"))
    with pytest.raises(DeidentifyError, match="0 days"):
        Deidentifier("Subject", 0)


@pytest.mark.parametrize(
    ("values", "warned"),
    [
        ({"Modality": "US", "SOPClassUID": UltrasoundImageStorage}, "US image"),
        ({"Modality": "US", "BurnedInAnnotation": "NO"}, ""),
        ({"Modality": "XA"}, "XA image"),
        ({"Modality": "OT", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.7"}, "SC image"),
        ({"Modality": "OT", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.7.4", "BurnedInAnnotation": "NO"}, ""),
        ({"Modality": "CT"}, ""),
        ({"Modality": "CT", "BurnedInAnnotation": "YES"}, "BurnedInAnnotation is YES"),
        ({"Modality": "SR", "BurnedInAnnotation": "YES", "Rows": None}, ""),
    ],
)
def test_images_that_may_show_text_in_their_pixels_are_flagged(values: dict[str, object], warned: str) -> None:
    ds = _item(Rows=2, **{k: v for k, v in values.items() if v is not None})
    if values.get("Rows", 0) is None:
        del ds.Rows
    message = burned_in_warning(ds)
    assert (warned in message and bool(message)) if warned else message == ""
