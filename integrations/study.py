"""Patient and study attributes of a source study, as the outputs need them.

Built once from the first source dataset (pydicom decodes the Specific Character Set, so the
names here are proper Unicode: Korean names from ``ISO 2022 IR 149`` or ``ISO_IR 192`` alike).
These values are PHI: they go into DICOM objects, the PDF and HL7 messages, never into logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

__all__ = ["StudyInfo"]


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class StudyInfo:
    """The patient/study header fields shared by SR, SEG, PDF and HL7.

    ``patient_name`` is the DICOM PN as a string (``Family^Given^Middle^Prefix^Suffix``; for
    Korean names possibly with ``=`` ideographic/phonetic groups).
    """

    patient_id: str
    issuer_of_patient_id: str
    patient_name: str
    patient_birth_date: str  # YYYYMMDD or ""
    patient_sex: str  # M | F | O | ""
    study_instance_uid: str
    study_id: str
    study_date: str  # YYYYMMDD or ""
    study_time: str
    accession_number: str
    referring_physician_name: str
    study_description: str
    placer_order_number: str
    filler_order_number: str
    specific_character_set: tuple[str, ...]

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyInfo:
        """Take the header fields from a source image dataset."""
        charset = ds.get("SpecificCharacterSet", "")
        charsets = (charset,) if isinstance(charset, str) else tuple(charset)
        placer = filler = ""
        for item in ds.get("RequestAttributesSequence", []) or []:
            placer = placer or str(item.get("PlacerOrderNumberImagingServiceRequest", "") or "")
            filler = filler or str(item.get("FillerOrderNumberImagingServiceRequest", "") or "")
        return cls(
            patient_id=_text(ds, "PatientID"),
            issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
            patient_name=_text(ds, "PatientName"),
            patient_birth_date=_text(ds, "PatientBirthDate"),
            patient_sex=_text(ds, "PatientSex"),
            study_instance_uid=_text(ds, "StudyInstanceUID"),
            study_id=_text(ds, "StudyID"),
            study_date=_text(ds, "StudyDate"),
            study_time=_text(ds, "StudyTime"),
            accession_number=_text(ds, "AccessionNumber"),
            referring_physician_name=_text(ds, "ReferringPhysicianName"),
            study_description=_text(ds, "StudyDescription"),
            placer_order_number=placer,
            filler_order_number=filler,
            specific_character_set=tuple(c for c in charsets if c),
        )
