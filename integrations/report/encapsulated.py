"""The Encapsulated PDF Storage object (PS3.3 A.45.1) that carries a report into the study."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from integrations.dicom_common import SERIES_NUMBERS, Equipment, copy_patient_study
from integrations.uids import OutputUids

__all__ = [
    "ENCAPSULATED_PDF",
    "encapsulated_pdf",
]


ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"


@dataclass(frozen=True, slots=True)
class _Audience:
    role: str  # the UID role and series-number key
    series_description: str
    document_title: str
    code: tuple[str, str]  # 99DRMN code value, meaning


_AUDIENCES = {
    "clinician": _Audience(
        "pdf",
        "DermNode report",
        "DermNode skin analysis report",
        ("PROC-SKIN", "Photographic skin analysis"),
    ),
    "patient": _Audience(
        "patient_pdf",
        "DermNode patient report",
        "DermNode skin analysis: report for the patient",
        ("PROC-SKIN-PT", "Photographic skin analysis, report for the patient"),
    ),
}


def encapsulated_pdf(
    pdf: bytes,
    source: Dataset,
    uids: OutputUids,
    equipment: Equipment,
    *,
    instance_number: int = 1,
    when: datetime | None = None,
    audience: str = "clinician",
    language: str = "",
) -> Dataset:
    """Wrap *pdf* in an Encapsulated PDF Storage object for the study of *source*.

    Parameters
    ----------
    pdf
        The PDF bytes.
    source
        A source photo of the study (patient and study attributes are copied from it).
    uids
        The result's UID factory (series and instance role ``pdf``; ``patient_pdf`` for the
        patient report).
    equipment
        The producing software.
    instance_number
        Instance Number.
    when
        Content date and time (default now).
    audience
        ``clinician`` (the report of record) or ``patient`` (the plain-language report, in its
        own series, titled for the patient so a PACS user can tell the two apart).
    language
        The report's language (``en``, ``ko``), for a patient report: each language is its own
        instance (SOP Instance UID role ``patient_pdf.<language>``) and says so in its title.

    Raises
    ------
    ValueError
        When *pdf* is not a PDF or *audience* is unknown.
    """
    try:
        who = _AUDIENCES[audience]
    except KeyError:
        raise ValueError(f"audience: {audience!r} is not clinician or patient") from None
    if not pdf.startswith(b"%PDF"):
        raise ValueError("pdf: not a PDF document")
    now = when or datetime.now()
    ds = Dataset()
    copy_patient_study(ds, source)
    # Encapsulated Document Series (C.24.1)
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = uids.series(who.role)
    ds.SeriesNumber = SERIES_NUMBERS[who.role]
    ds.SeriesDescription = who.series_description
    # General Equipment + SC Equipment
    ds.Manufacturer = equipment.manufacturer
    ds.ManufacturerModelName = equipment.model_name
    ds.SoftwareVersions = equipment.software_version
    ds.DeviceSerialNumber = equipment.device_serial_number
    ds.ConversionType = "WSD"
    # Encapsulated Document (C.24.2)
    ds.InstanceNumber = instance_number
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"
    ds.RecognizableVisualFeatures = "YES"
    ds.DocumentTitle = f"{who.document_title} ({language})" if language else who.document_title
    concept = Dataset()
    concept.CodeValue = who.code[0]
    concept.CodingSchemeDesignator = "99DRMN"
    concept.CodeMeaning = who.code[1]
    ds.ConceptNameCodeSequence = [concept]
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.SOPClassUID
    ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
    ds.SourceInstanceSequence = [ref]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    data = pdf if len(pdf) % 2 == 0 else pdf + b"\x00"
    ds.EncapsulatedDocument = data
    ds.EncapsulatedDocumentLength = len(pdf)
    # SOP Common
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = uids.instance(f"{who.role}.{language}" if language else who.role)
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds
