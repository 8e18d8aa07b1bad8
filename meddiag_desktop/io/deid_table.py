"""PS3.15 Annex E Table E.1-1 as data: the Basic Application Level Confidentiality Profile.

Every public attribute the table lists is named here by its keyword under its Basic Profile
action (transcribed from the 2024b edition, "Basic Prof." column):

- ``D`` replace with a non-empty dummy value consistent with the VR,
- ``Z`` replace with an empty value (or a dummy),
- ``X`` remove,
- ``U`` replace the UID with a new one, the same one for the same source UID within an export,
- the combined actions ``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D`` depend on the attribute's type in its
  IOD, and ``X/Z/U*`` keeps a sequence with its UIDs replaced; ``resolve`` chooses one of them.

Attributes the table does not list are kept (E.1.1). What the deidentifier adds on top of the
table (private attributes, dates and times, UIDs and person names that are not listed, overlay
and curve groups) lives in ``meddiag_desktop.io.deidentify``.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydicom.datadict import tag_for_keyword

if TYPE_CHECKING:
    from collections.abc import Mapping


class Action(enum.Enum):
    """What happens to one attribute."""

    KEEP = "K"
    REMOVE = "X"
    EMPTY = "Z"
    DUMMY = "D"
    NEW_UID = "U"
    CLEAN = "C"  # a sequence kept, each of its items de-identified in turn
    SHIFT_DATE = "shift"  # Modified Dates option: every date moved by the export's offset
    PSEUDONYM = "pseudonym"  # Patient's Name and Patient ID: the name the user entered


NEEDS_VALUE = frozenset({"DeviceSerialNumber"})
"""Attributes of a combined action that are Type 1 in an IOD this app writes (the SEG's
Enhanced General Equipment module, PS3.3 C.7.5.2), so they get a dummy rather than nothing."""

# fmt: off
BASIC_PROFILE: dict[str, tuple[str, ...]] = {
    "D": (
        "AcquisitionFieldOfViewLabel", "AnnotationGroupLabel", "AnnotationGroupUID", "AssertionDateTime",
        "AttributeModificationDateTime", "BeamHoldTransitionDateTime", "CertificateOfSigner",
        "ClinicalTrialProtocolEthicsCommitteeName", "ClinicalTrialProtocolID", "ClinicalTrialSponsorName",
        "ClinicalTrialSubjectID", "ClinicalTrialSubjectReadingID", "ContainerIdentifier", "ContentSequence",
        "ContextGroupLocalVersion", "ContextGroupVersion", "Date", "DateTime", "DecayCorrectionDateTime",
        "DestinationAE", "DeviceLabel", "DigitalSignatureDateTime", "EffectiveDateTime", "EncapsulatedDocument",
        "EntityLabel", "EntityLongLabel", "ExclusionStartDateTime", "FlowIdentifier", "FlowIdentifierSequence",
        "FrameAcquisitionDateTime", "FrameOriginTimestamp", "FrameReferenceDateTime", "FunctionalSyncPulse",
        "GraphicAnnotationSequence", "HangingProtocolCreationDateTime", "ImpedanceMeasurementDateTime",
        "InformationIssueDateTime", "InterlockDateTime", "InterlockDescription", "InterlockOriginDescription",
        "ModifyingSystem", "OverrideDateTime", "PersonIdentificationCodeSequence", "PersonName", "RTPlanLabel",
        "RTPrescriptionLabel", "RTToleranceSetLabel", "RadiationDoseIdentificationLabel",
        "RadiationDoseInVivoMeasurementLabel", "RadiationGenerationModeLabel", "ReasonForTheAttributeModification",
        "RecordedRTControlPointDateTime", "ReferencedDateTime", "SafePositionExitDate", "SafePositionExitTime",
        "SafePositionReturnDate", "SafePositionReturnTime", "SelectorAEValue", "SelectorASValue", "SelectorDAValue",
        "SelectorDTValue", "SelectorLOValue", "SelectorLTValue", "SelectorOBValue", "SelectorPNValue",
        "SelectorSHValue", "SelectorSTValue", "SelectorTMValue", "SelectorUNValue", "SelectorURValue",
        "SelectorUTValue", "SourceEndDateTime", "SourceIdentifier", "SourceStartDateTime",
        "SourceStrengthReferenceDate", "SourceStrengthReferenceTime", "SpecimenIdentifier", "StructureSetLabel",
        "Time", "TreatmentControlPointDate", "TreatmentControlPointTime", "TreatmentPositionGroupLabel",
        "TreatmentToleranceViolationDateTime", "TreatmentToleranceViolationDescription", "UserContentLabel",
        "UserContentLongLabel", "VerificationDateTime", "VerifyingObserverName", "VerifyingObserverSequence",
        "VerifyingOrganization", "XRayDetectorID", "XRaySourceID",
    ),
    "Z": (
        "AccessionNumber", "CalibrationDateTime", "ClinicalTrialCoordinatingCenterName", "ClinicalTrialProtocolName",
        "ClinicalTrialSiteID", "ClinicalTrialSiteName", "ClinicalTrialTimePointID",
        "ConceptualVolumeCombinationDescription", "ConceptualVolumeDescription", "ConsultingPhysicianName",
        "DeviceAlternateIdentifier", "FillerOrderNumberImagingServiceRequest", "FractionationNotes",
        "IssuerOfTheContainerIdentifierSequence", "IssuerOfTheSpecimenIdentifierSequence",
        "ManufacturerDeviceIdentifier", "ParticipationDateTime", "PatientBirthDate", "PatientName", "PatientSex",
        "PlacerOrderNumberImagingServiceRequest", "PrescriptionNotes", "PrescriptionNotesSequence", "ROIInterpreter",
        "ROIName", "RTAccessoryDeviceSlotID", "RTAccessoryHolderSlotID", "RTPhysicianIntentNarrative",
        "RadiationGenerationModeDescription", "ReasonForSuperseding", "ReferringPhysicianName", "ReviewDate",
        "ReviewTime", "SourceOfPreviousValues", "SpecimenPreparationSequence", "StructureSetDate", "StructureSetTime",
        "StudyDate", "StudyID", "StudyTime", "TreatmentTechniqueNotes", "VerifyingObserverIdentificationCodeSequence",
    ),
    "X": (
        "AcquisitionComments", "AcquisitionProtocolDescription", "ActualHumanPerformersSequence",
        "AdditionalPatientHistory", "AddressTrial", "AdmissionID", "AdmittingDate", "AdmittingDiagnosesCodeSequence",
        "AdmittingDiagnosesDescription", "AdmittingTime", "AffectedSOPInstanceUID", "Allergies",
        "AnnotationGroupDescription", "ApprovalStatusDateTime", "Arbitrary", "AssertionExpirationDateTime",
        "AuthorObserverSequence", "BeamDescription", "BolusDescription", "BranchOfService", "CalibrationDate",
        "CalibrationTime", "CameraOwnerName", "CassetteID", "CertifiedTimestamp",
        "ClinicalTrialProtocolEthicsCommitteeApprovalNumber", "ClinicalTrialSeriesDescription",
        "ClinicalTrialSeriesID", "ClinicalTrialTimePointDescription", "CommentsOnRadiationDose",
        "CommentsOnThePerformedProcedureStep", "CompensatorDescription",
        "ConfidentialityConstraintOnPatientDataDescription", "ConsultingPhysicianIdentificationSequence",
        "ContainerComponentID", "ContainerDescription", "ContentCreatorIdentificationCodeSequence",
        "ContrastBolusStartTime", "ContrastBolusStopTime", "ContributionDateTime", "ContributionDescription",
        "CountryOfResidence", "CreationDate", "CreationTime", "CurrentObserverTrial", "CurrentPatientLocation",
        "CurveDate", "CurveTime", "CustodialOrganizationSequence", "DataSetTrailingPadding",
        "DateOfDocumentOrVerbalTransactionTrial", "DateOfInstallation", "DateOfLastCalibration", "DateOfManufacture",
        "DateOfSecondaryCapture", "DateTimeOfLastCalibration", "DecompositionDescription", "DerivationDescription",
        "DeviceDescription", "DeviceSettingDescription", "DigitalSignaturesSequence", "DischargeDate",
        "DischargeDiagnosisDescription", "DischargeTime", "DisplacementReferenceLabel", "DistributionAddress",
        "DistributionName", "DoseReferenceDescription", "EntityDescription", "EntityName",
        "EquipmentFrameOfReferenceDescription", "EthicsCommitteeApprovalEffectivenessEndDate",
        "EthicsCommitteeApprovalEffectivenessStartDate", "EthnicGroup", "ExpectedCompletionDateTime",
        "FilterLookupTableDescription", "FindingsGroupRecordingDateTrial", "FindingsGroupRecordingTimeTrial",
        "FixationDeviceDescription", "FractionGroupDescription", "FrameComments", "GPSAltitude", "GPSAltitudeRef",
        "GPSAreaInformation", "GPSDOP", "GPSDateStamp", "GPSDestBearing", "GPSDestBearingRef", "GPSDestDistance",
        "GPSDestDistanceRef", "GPSDestLatitude", "GPSDestLatitudeRef", "GPSDestLongitude", "GPSDestLongitudeRef",
        "GPSDifferential", "GPSImgDirection", "GPSImgDirectionRef", "GPSLatitude", "GPSLatitudeRef", "GPSLongitude",
        "GPSLongitudeRef", "GPSMapDatum", "GPSMeasureMode", "GPSProcessingMethod", "GPSSatellites", "GPSSpeed",
        "GPSSpeedRef", "GPSStatus", "GPSTimeStamp", "GPSTrack", "GPSTrackRef", "GPSVersionID", "GantryID",
        "GeneratorID", "HL7DocumentEffectiveTime", "HumanPerformerName", "HumanPerformerOrganization",
        "IconImageSequence", "IdentifyingComments", "ImageComments", "ImagePresentationComments",
        "ImagingServiceRequestComments", "Impressions", "InstanceCoercionDateTime", "InstanceOriginStatus",
        "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionalDepartmentTypeCodeSequence",
        "InsurancePlanIdentification", "IntendedFractionStartTime",
        "IntendedRecipientsOfResultsIdentificationSequence", "InterpretationApprovalDate",
        "InterpretationApprovalTime", "InterpretationApproverSequence", "InterpretationAuthor",
        "InterpretationDiagnosisDescription", "InterpretationID", "InterpretationIDIssuer",
        "InterpretationRecordedDate", "InterpretationRecordedTime", "InterpretationRecorder", "InterpretationText",
        "InterpretationTranscriber", "InterpretationTranscriptionDate", "InterpretationTranscriptionTime",
        "InterventionDrugStartTime", "InterventionDrugStopTime", "IssueDateOfImagingServiceRequest",
        "IssueTimeOfImagingServiceRequest", "IssuerOfAdmissionID", "IssuerOfAdmissionIDSequence",
        "IssuerOfClinicalTrialProtocolID", "IssuerOfClinicalTrialSeriesID", "IssuerOfClinicalTrialSiteID",
        "IssuerOfClinicalTrialSubjectID", "IssuerOfClinicalTrialSubjectReadingID", "IssuerOfClinicalTrialTimePointID",
        "IssuerOfPatientID", "IssuerOfServiceEpisodeID", "IssuerOfServiceEpisodeIDSequence", "LastMenstrualDate",
        "LensMake", "LensModel", "LensSerialNumber", "LensSpecification", "LongDeviceDescription", "MAC", "MakerNote",
        "MedicalAlerts", "MedicalRecordLocator", "MilitaryRank", "ModifiedAttributesSequence", "ModifiedImageDate",
        "ModifiedImageDescription", "ModifiedImageTime", "ModifyingDeviceID", "MultienergyAcquisitionDescription",
        "NameOfPhysiciansReadingStudy", "NamesOfIntendedRecipientsOfResults", "NetworkID",
        "NonconformingDataElementValue", "NonconformingModifiedAttributesSequence", "ObservationDateTrial",
        "ObservationStartDateTime", "ObservationTimeTrial", "Occupation", "OrderCallbackPhoneNumber",
        "OrderCallbackTelecomInformation", "OrderEnteredBy", "OrderEntererLocation", "OriginalAttributesSequence",
        "Originator", "OtherClinicalTrialProtocolIDsSequence", "OtherPatientIDs", "OtherPatientIDsSequence",
        "OtherPatientNames", "OverlayDate", "OverlayTime", "ParticipantSequence", "PatientAddress", "PatientAge",
        "PatientBirthName", "PatientBirthTime", "PatientComments", "PatientInstitutionResidence",
        "PatientInsurancePlanCodeSequence", "PatientMotherBirthName", "PatientPrimaryLanguageCodeSequence",
        "PatientPrimaryLanguageModifierCodeSequence", "PatientReligiousPreference", "PatientSetupPhotoDescription",
        "PatientSize", "PatientState", "PatientTelecomInformation", "PatientTelephoneNumbers",
        "PatientTransportArrangements", "PatientTreatmentPreparationMethodDescription",
        "PatientTreatmentPreparationProcedureParameterDescription", "PatientWeight", "PerformedLocation",
        "PerformedProcedureStepDescription", "PerformedProcedureStepEndDate", "PerformedProcedureStepEndDateTime",
        "PerformedProcedureStepEndTime", "PerformedProcedureStepID", "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartDateTime", "PerformedProcedureStepStartTime", "PerformedStationAETitle",
        "PerformedStationGeographicLocationCodeSequence", "PerformedStationName", "PerformedStationNameCodeSequence",
        "PerformingPhysicianIdentificationSequence", "PerformingPhysicianName", "PersonAddress",
        "PersonTelecomInformation", "PersonTelephoneNumbers", "PhysicianApprovingInterpretation",
        "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
        "PhysiciansReadingStudyIdentificationSequence", "PlateID", "PositionAcquisitionTemplateDescription",
        "PositionAcquisitionTemplateName", "PreMedication", "PregnancyStatus", "PrescriptionDescription",
        "PresentationCreationDate", "PresentationCreationTime", "PriorTreatmentDoseDescription",
        "ProcedureStepCancellationDateTime", "ProductExpirationDateTime", "PyramidDescription", "PyramidLabel",
        "ROICreatorSequence", "ROIDateTime", "ROIDescription", "ROIGenerationDescription", "ROIInterpreterSequence",
        "ROIObservationDateTime", "ROIObservationDescription", "ROIObservationLabel", "RTPlanDescription",
        "RTPlanName", "RadiopharmaceuticalStartDateTime", "RadiopharmaceuticalStartTime",
        "RadiopharmaceuticalStopDateTime", "RadiopharmaceuticalStopTime", "ReasonForOmissionDescription",
        "ReasonForRequestedProcedureCodeSequence", "ReasonForStudy", "ReasonForTheImagingServiceRequest",
        "ReasonForTheRequestedProcedure", "ReasonForVisit", "ReasonForVisitCodeSequence", "ReceivingAE",
        "ReferencedDigitalSignatureSequence", "ReferencedPatientAliasSequence", "ReferencedPatientPhotoSequence",
        "ReferencedPatientSequence", "ReferencedSOPInstanceMACSequence", "ReferringPhysicianAddress",
        "ReferringPhysicianIdentificationSequence", "ReferringPhysicianTelephoneNumbers", "RegionOfResidence",
        "RequestAttributesSequence", "RequestedContrastAgent", "RequestedProcedureComments", "RequestedProcedureID",
        "RequestedProcedureLocation", "RequestedSeriesDescription", "RequestingAE", "RequestingPhysician",
        "RequestingService", "RespiratoryMotionCompensationTechniqueDescription", "ResponsibleOrganization",
        "ResponsiblePerson", "ResultsComments", "ResultsDistributionListSequence", "ResultsID", "ResultsIDIssuer",
        "RetrieveAETitle", "SOPAuthorizationDateTime", "ScheduledAdmissionDate", "ScheduledAdmissionTime",
        "ScheduledDischargeDate", "ScheduledDischargeTime", "ScheduledHumanPerformersSequence",
        "ScheduledPatientInstitutionResidence", "ScheduledPerformingPhysicianIdentificationSequence",
        "ScheduledPerformingPhysicianName", "ScheduledProcedureStepDescription", "ScheduledProcedureStepEndDate",
        "ScheduledProcedureStepEndTime", "ScheduledProcedureStepExpirationDateTime", "ScheduledProcedureStepID",
        "ScheduledProcedureStepLocation", "ScheduledProcedureStepModificationDateTime",
        "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartDateTime", "ScheduledProcedureStepStartTime",
        "ScheduledStationAETitle", "ScheduledStationGeographicLocationCodeSequence", "ScheduledStationName",
        "ScheduledStationNameCodeSequence", "ScheduledStudyLocation", "ScheduledStudyLocationAETitle",
        "ScheduledStudyStartDate", "ScheduledStudyStartTime", "ScheduledStudyStopDate", "ScheduledStudyStopTime",
        "SeriesDescription", "ServiceEpisodeDescription", "ServiceEpisodeID", "SetupTechniqueDescription",
        "ShieldingDeviceDescription", "SlideIdentifier", "SmokingStatus", "SourceManufacturer", "SpecialNeeds",
        "SpecimenAccessionNumber", "SpecimenDetailedDescription", "SpecimenShortDescription", "StationAETitle",
        "StructureSetDescription", "StructureSetName", "StudyArrivalDate", "StudyArrivalTime", "StudyComments",
        "StudyCompletionDate", "StudyCompletionTime", "StudyDescription", "StudyIDIssuer", "StudyReadDate",
        "StudyReadTime", "StudyVerifiedDate", "StudyVerifiedTime", "SubstanceAdministrationDateTime",
        "TelephoneNumberTrial", "TemplateLocalVersion", "TemplateVersion", "TextComments", "TextString",
        "TimeOfDocumentCreationOrVerbalTransactionTrial", "TimeOfLastCalibration", "TimeOfSecondaryCapture",
        "TimezoneOffsetFromUTC", "TopicAuthor", "TopicKeywords", "TopicSubject", "TopicTitle",
        "TransducerIdentificationSequence", "TreatmentSites", "UDISequence", "UniqueDeviceIdentifier",
        "VerbalSourceIdentifierCodeSequenceTrial", "VerbalSourceTrial", "VisitComments", "WaveformFilterDescription",
        "XRayDetectorLabel",
    ),
    "U": (
        "AcquisitionUID", "ConcatenationUID", "ConceptualVolumeUID", "ConstituentConceptualVolumeUID", "DeviceUID",
        "DigitalSignatureUID", "DimensionOrganizationUID", "DoseReferenceUID", "DosimetricObjectiveUID",
        "FailedSOPInstanceUIDList", "FiducialUID", "FrameOfReferenceUID", "InstanceCreatorUID", "IrradiationEventUID",
        "LargePaletteColorLookupTableUID", "ManufacturerDeviceClassUID", "MediaStorageSOPInstanceUID",
        "MultiplexGroupUID", "ObservationSubjectUIDTrial", "ObservationUID", "PaletteColorLookupTableUID",
        "PatientSetupUID", "PresentationDisplayCollectionUID", "PresentationSequenceCollectionUID", "PyramidUID",
        "RTTreatmentPhaseUID", "ReferencedConceptualVolumeUID", "ReferencedDoseReferenceUID",
        "ReferencedDosimetricObjectiveUID", "ReferencedFiducialsUID", "ReferencedFrameOfReferenceUID",
        "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID", "ReferencedObservationUIDTrial",
        "ReferencedSOPInstanceUID", "ReferencedSOPInstanceUIDInFile", "ReferencedTreatmentPositionGroupUID",
        "RelatedFrameOfReferenceUID", "RequestedSOPInstanceUID", "SOPInstanceUID", "SeriesInstanceUID",
        "SourceConceptualVolumeUID", "SourceFrameOfReferenceUID", "SpecimenUID", "StorageMediaFileSetUID",
        "StudyInstanceUID", "SynchronizationFrameOfReferenceUID", "TargetUID", "TemplateExtensionCreatorUID",
        "TemplateExtensionOrganizationUID", "TrackingUID", "TransactionUID", "TreatmentPositionGroupUID",
        "TreatmentSessionUID", "UID",
    ),
    "Z/D": (
        "ContentCreatorName", "ContentDate", "ContentTime", "ContrastBolusAgent", "InstructionPerformedDateTime",
        "PatientID",
    ),
    "X/Z": (
        "AcquisitionContextSequence", "AcquisitionDate", "AcquisitionTime", "BarcodeValue", "LabelText",
        "PatientSexNeutered", "ReferencedStudySequence", "RequestedProcedureDescription", "ReviewerName",
        "SourceSerialNumber", "TreatmentMachineName",
    ),
    "X/D": (
        "AcquisitionDeviceProcessingDescription", "DateOfLastDetectorCalibration", "DetectorID",
        "EndAcquisitionDateTime", "FirstTreatmentDate", "InstanceCreationDate", "IntendedPhaseEndDate",
        "IntendedPhaseStartDate", "MostRecentTreatmentDate", "ObservationDateTime", "OperatorIdentificationSequence",
        "ProtocolName", "RTPlanDate", "RTPlanTime", "RTTreatmentApproachLabel", "SeriesDate", "SeriesTime",
        "StartAcquisitionDateTime", "TimeOfLastDetectorCalibration", "TreatmentDate", "TreatmentSite", "TreatmentTime",
    ),
    "X/Z/D": (
        "AcquisitionDateTime", "DeviceSerialNumber", "InstanceCreationTime", "InstitutionCodeSequence",
        "InstitutionName", "OperatorsName", "ReferencedPerformedProcedureStepSequence", "StationName",
    ),
    "X/Z/U*": (
        "ReferencedImageSequence", "SourceImageSequence",
    ),
}
# fmt: on


def _by_tag() -> Mapping[int, str]:
    table = {}
    for action, keywords in BASIC_PROFILE.items():
        for keyword in keywords:
            tag = tag_for_keyword(keyword)
            if tag is None:  # pragma: no cover - guarded by tests/io/test_deidentify.py
                raise ValueError(f"unknown DICOM keyword {keyword!r} in the Annex E table")
            table[tag] = action
    return MappingProxyType(table)


PROFILE_BY_TAG = _by_tag()


def resolve(code: str, keyword: str, is_sequence: bool) -> Action:
    """One action for a Table E.1-1 code.

    Without the IOD at hand, a combined action takes the choice that keeps the object valid in
    most IODs: a dummy for the attributes in ``NEEDS_VALUE`` (Type 1), removal for ``X/D`` and for
    sequences (an empty Type 3 sequence is invalid; the few Type 2 ones are put back empty by
    ``deidentify``), an empty value otherwise (``X/Z``, ``Z/D``, ``X/Z/D``). A ``D`` on a
    sequence (Content Sequence, Verifying Observer Sequence) de-identifies each of its items
    instead: a dummy sequence would break the object, and the cleaned items hold nothing
    identifying.
    """
    if code == "X/Z/U*" or (code == "D" and is_sequence):
        return Action.CLEAN
    if code in ("D", "Z", "X", "U"):
        return Action(code)
    if keyword in NEEDS_VALUE:
        return Action.DUMMY
    return Action.REMOVE if code == "X/D" or is_sequence else Action.EMPTY
