"""The Encapsulated PDF Storage object (PS3.3 A.45.1) that carries a report into the study."""

from __future__ import annotations

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


def encapsulated_pdf(
    pdf: bytes,
    source: Dataset,
    uids: OutputUids,
    equipment: Equipment,
    *,
    instance_number: int = 1,
    when: datetime | None = None,
) -> Dataset:
    """Wrap *pdf* in an Encapsulated PDF Storage object for the study of *source*.

    Parameters
    ----------
    pdf
        The PDF bytes.
    source
        A source photo of the study (patient and study attributes are copied from it).
    uids
        The result's UID factory (series ``pdf``, instance ``pdf``).
    equipment
        The producing software.
    instance_number
        Instance Number.
    when
        Content date and time (default now).
    """
    if not pdf.startswith(b"%PDF"):
        raise ValueError("pdf: not a PDF document")
    now = when or datetime.now()
    ds = Dataset()
    copy_patient_study(ds, source)
    # Encapsulated Document Series (C.24.1)
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = uids.series("pdf")
    ds.SeriesNumber = SERIES_NUMBERS["pdf"]
    ds.SeriesDescription = "DermNode report"
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
    ds.DocumentTitle = "DermNode skin analysis report"
    concept = Dataset()
    concept.CodeValue = "PROC-SKIN"
    concept.CodingSchemeDesignator = "99DRMN"
    concept.CodeMeaning = "Photographic skin analysis"
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
    ds.SOPInstanceUID = uids.instance("pdf")
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds
