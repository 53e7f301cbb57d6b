"""Earlier visits from the PACS: DermNode's own SRs found, retrieved and read back.

Used when the local results index knows nothing of a patient (a new installation, results
made by another node) and ``progress.pacs_priors`` is on (off by default). One association
to the destination, as Query/Retrieve SCU (PS3.4 Annex C):

1. **C-FIND**, Study Root, ``STUDY`` level: the patient's studies (Patient ID; Issuer of
   Patient ID checked on the answers when the PACS returns it), without the current study;
   the ``max_studies`` latest by Study Date are kept.
2. **C-FIND**, Study Root, ``SERIES`` level, per study: the series of Modality ``SR`` whose
   Manufacturer is DermNode's (or not returned by the PACS).
3. **C-GET**, Study Root, ``SERIES`` level: the PACS sends the SR instances back on the same
   association (C-STORE sub-operations). The SR storage SOP classes are proposed with SCP/SCU
   Role Selection (PS3.7 D.3.3.4) so the PACS may act as their SCU. No C-MOVE: that would need
   DermNode to be reachable as a Storage SCP from the PACS with its AE registered there.

Every retrieved object is checked again before its values are used: SOP Class an SR,
Manufacturer DermNode's, Patient ID and Issuer equal to the patient asked for, not the
current study. :func:`read_visit_values` then reads the TID 1500 content written by
:mod:`integrations.dicom_sr` back into one :class:`analysis.progress.VisitValues` per view.

What the SR gives back: study date (Study Date, else Content Date), Study Instance UID, the
algorithm version of each measurement group (TID 4019 Algorithm Version), the view and region
(from the group's Tracking Identifier ``<view>/<region>``), every key measured (its 99DRMN
concept, reversed through :func:`integrations.codes.key_code`; concern scores and quality keys
are not returned) with its value and UCUM unit, and the SR's SOP Instance UID.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    EnhancedSRStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from analysis.keys import KEYS
from analysis.progress import VisitValues
from config.settings import DestinationSettings
from integrations.codes import DRMN, key_code
from integrations.dicom_common import EQUIPMENT_MANUFACTURER
from integrations.errors import PacsQueryError
from integrations.pacs_export import ssl_context

__all__ = ["SR_STORAGE_CLASSES", "fetch_pacs_priors", "is_dermnode_sr", "read_visit_values"]

logger = logging.getLogger(__name__)

#: SR storage SOP classes accepted back from the PACS (DermNode writes Comprehensive 3D SR).
SR_STORAGE_CLASSES: tuple[str, ...] = (
    str(Comprehensive3DSRStorage),
    str(ComprehensiveSRStorage),
    str(EnhancedSRStorage),
)

_IMAGING_MEASUREMENTS = ("126010", "DCM")
_MEASUREMENT_GROUP = ("125007", "DCM")
_TRACKING_IDENTIFIER = ("112039", "DCM")
_ALGORITHM_VERSION = ("111003", "DCM")
_PENDING = (0xFF00, 0xFF01)

#: 99DRMN code value -> measurement key (every key of analysis.keys, quality keys left out).
_KEY_BY_CODE: dict[str, str] = {
    key_code(k.key).value: k.key for k in KEYS if not k.key.startswith("quality.")
}


# --------------------------------------------------------------------------- SR reading


def is_dermnode_sr(ds: Dataset) -> bool:
    """Whether *ds* is an SR written by DermNode (SR SOP class and DermNode's Manufacturer)."""
    return (
        str(ds.get("SOPClassUID", "")) in SR_STORAGE_CLASSES
        and str(ds.get("Manufacturer", "")) == EQUIPMENT_MANUFACTURER
    )


def _concept(item: Dataset) -> tuple[str, str]:
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return ("", "")
    code = seq[0]
    return (str(code.get("CodeValue", "")), str(code.get("CodingSchemeDesignator", "")))


def _children(item: Dataset) -> list[Dataset]:
    return list(item.get("ContentSequence", []) or [])


def _date(value: Any) -> dt.date | None:
    text = str(value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


@dataclass
class _ViewValues:
    version: str
    values: dict[tuple[str, str], float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def _groups(sr: Dataset) -> Iterator[Dataset]:
    for item in _children(sr):
        if _concept(item) == _IMAGING_MEASUREMENTS:
            for group in _children(item):
                if group.get("ValueType") == "CONTAINER" and _concept(group) == _MEASUREMENT_GROUP:
                    yield group


def read_visit_values(sr: Dataset) -> list[VisitValues]:
    """The measurements of a DermNode SR, one :class:`VisitValues` per view (and version).

    Parameters
    ----------
    sr
        A TID 1500 SR as :func:`integrations.dicom_sr.build_sr` writes it.

    Returns
    -------
    list[VisitValues]
        Sorted by view; empty when *sr* is not a DermNode SR, has no usable study date or no
        measurement other than quality keys and scores (an unusable photo).
    """
    if not is_dermnode_sr(sr):
        logger.debug("not a DermNode SR: skipped")
        return []
    study_date = _date(sr.get("StudyDate")) or _date(sr.get("ContentDate"))
    if study_date is None:
        logger.warning("DermNode SR without a valid Study Date or Content Date: skipped")
        return []
    fallback_version = str(sr.get("SoftwareVersions", "") or "")
    views: dict[tuple[str, str], _ViewValues] = {}
    for group in _groups(sr):
        items = _children(group)
        identifier = next(
            (str(i.get("TextValue", "")) for i in items if _concept(i) == _TRACKING_IDENTIFIER),
            "",
        )
        if "/" not in identifier:
            continue
        view, region = identifier.split("/", 1)
        version = next(
            (str(i.get("TextValue", "")) for i in items if _concept(i) == _ALGORITHM_VERSION),
            fallback_version,
        )
        if not version:
            continue
        bucket = views.setdefault((view, version), _ViewValues(version))
        for item in items:
            if item.get("ValueType") != "NUM":
                continue
            code, scheme = _concept(item)
            key = _KEY_BY_CODE.get(code) if scheme == DRMN else None
            measured = item.get("MeasuredValueSequence")
            if key is None or not measured:
                continue
            value = float(measured[0].NumericValue)
            units = measured[0].get("MeasurementUnitsCodeSequence")
            bucket.values[(region, key)] = value
            if units:
                bucket.units[key] = str(units[0].CodeValue)
    out = [
        VisitValues(
            study_date=study_date,
            study_uid=str(sr.StudyInstanceUID),
            algorithm_version=bucket.version,
            view=view,
            values=bucket.values,
            units=bucket.units,
            sr_instance_uid=str(sr.SOPInstanceUID),
        )
        for (view, _), bucket in sorted(views.items())
        if bucket.values
    ]
    logger.debug("read %d view(s) from a DermNode SR", len(out))
    return out


# --------------------------------------------------------------------------- Query/Retrieve


def _find(assoc: Any, query: Dataset) -> list[Dataset]:
    answers: list[Dataset] = []
    final: int | None = None
    for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
        if status is None or "Status" not in status:
            raise PacsQueryError("C-FIND: no response (timeout or aborted association)")
        code = int(status.Status)
        if code in _PENDING:
            if identifier is not None:
                answers.append(identifier)
        else:
            final = code
    if final not in (0x0000, None):
        raise PacsQueryError(f"C-FIND failed: status 0x{final:04X}")
    return answers


def _same_patient(ds: Dataset, patient_id: str, issuer: str) -> bool:
    if str(ds.get("PatientID", "") or "") != patient_id:
        return False
    theirs = str(ds.get("IssuerOfPatientID", "") or "")
    return not (issuer and theirs and theirs != issuer)


def fetch_pacs_priors(
    dest: DestinationSettings,
    calling_ae: str,
    patient_id: str,
    issuer_of_patient_id: str,
    *,
    exclude_study_uid: str | None,
    max_studies: int = 20,
    acse_timeout_s: float = 30.0,
    dimse_timeout_s: float = 60.0,
    network_timeout_s: float = 60.0,
) -> list[VisitValues]:
    """The patient's earlier visits as read back from the SRs DermNode stored in the PACS.

    Parameters
    ----------
    dest
        The PACS (a ``dicom`` destination; ``progress.pacs_destination``).
    calling_ae
        DermNode's AE title (the PACS must allow it Query/Retrieve).
    patient_id, issuer_of_patient_id
        The patient (PHI: never logged). An empty issuer matches any.
    exclude_study_uid
        The current study, left out.
    max_studies
        At most this many studies (the latest by Study Date) are searched for SRs.
    acse_timeout_s, dimse_timeout_s, network_timeout_s
        pynetdicom timeouts.

    Returns
    -------
    list[VisitValues]
        One per (study, SR, view), sorted by study date; empty when the patient has no
        DermNode SR in the PACS.

    Raises
    ------
    ValueError
        *dest* is not a dicom destination, *patient_id* is empty or *max_studies* < 1.
    PacsQueryError
        The association failed or a C-FIND / C-GET was refused.
    """
    if dest.kind != "dicom":
        raise ValueError(f"dest: {dest.name} must be a dicom destination, not {dest.kind}")
    if not patient_id.strip():
        raise ValueError("patient_id: must not be empty")
    if max_studies < 1:
        raise ValueError(f"max_studies must be >= 1, got {max_studies}")
    assert dest.host is not None and dest.port is not None and dest.ae_title is not None
    received: list[Dataset] = []

    def on_store(event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        received.append(ds)
        return 0x0000

    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = acse_timeout_s
    ae.dimse_timeout = dimse_timeout_s
    ae.network_timeout = network_timeout_s
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    for sop in SR_STORAGE_CLASSES:
        ae.add_requested_context(sop, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    roles: list[Any] = [build_role(sop, scp_role=True) for sop in SR_STORAGE_CLASSES]
    tls_args = (ssl_context(dest.tls), dest.host) if dest.tls.enabled else None
    try:
        assoc = ae.associate(
            dest.host,
            dest.port,
            ae_title=dest.ae_title,
            ext_neg=roles,
            evt_handlers=[(evt.EVT_C_STORE, on_store)],
            tls_args=tls_args,
        )
    except (OSError, ssl.SSLError) as exc:
        raise PacsQueryError(f"priors: cannot connect to {dest.name}: {exc}") from exc
    if not assoc.is_established:
        raise PacsQueryError(
            f"priors: {dest.name} ({dest.ae_title}) rejected or aborted the association"
        )
    try:
        studies = _find_studies(assoc, patient_id, issuer_of_patient_id, exclude_study_uid)
        studies = studies[:max_studies]
        series: list[tuple[str, str]] = []
        for study_uid in studies:
            series += [(study_uid, s) for s in _find_sr_series(assoc, study_uid)]
        for study_uid, series_uid in series:
            _get_series(assoc, study_uid, series_uid)
    finally:
        if assoc.is_established:
            assoc.release()
    visits: list[VisitValues] = []
    kept = 0
    for ds in received:
        if not is_dermnode_sr(ds):
            continue
        if not _same_patient(ds, patient_id, issuer_of_patient_id):
            logger.warning("priors: %s returned an SR of another patient: ignored", dest.name)
            continue
        if exclude_study_uid and str(ds.get("StudyInstanceUID", "")) == exclude_study_uid:
            continue
        kept += 1
        visits.extend(read_visit_values(ds))
    visits.sort(key=lambda v: (v.study_date, v.study_uid, v.view))
    logger.info(
        "priors from %s (%s): %d study(ies), %d SR series, %d DermNode SR(s), %d visit view(s)",
        dest.name,
        dest.ae_title,
        len(studies),
        len(series),
        kept,
        len(visits),
    )
    return visits


def _find_studies(
    assoc: Any, patient_id: str, issuer: str, exclude_study_uid: str | None
) -> list[str]:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = patient_id
    query.IssuerOfPatientID = ""
    query.StudyInstanceUID = ""
    query.StudyDate = ""
    answers = _find(assoc, query)
    found: list[tuple[str, str]] = []
    for a in answers:
        uid = str(a.get("StudyInstanceUID", "") or "")
        if not uid or uid == exclude_study_uid or not _same_patient(a, patient_id, issuer):
            continue
        found.append((str(a.get("StudyDate", "") or ""), uid))
    found.sort(reverse=True)
    return [uid for _, uid in found]


def _find_sr_series(assoc: Any, study_uid: str) -> list[str]:
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = ""
    query.Modality = "SR"
    query.Manufacturer = ""
    out: list[str] = []
    for a in _find(assoc, query):
        uid = str(a.get("SeriesInstanceUID", "") or "")
        modality = str(a.get("Modality", "SR") or "SR")
        manufacturer = str(a.get("Manufacturer", "") or "")
        if uid and modality == "SR" and manufacturer in ("", EQUIPMENT_MANUFACTURER):
            out.append(uid)
    return out


def _get_series(assoc: Any, study_uid: str, series_uid: str) -> None:
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = series_uid
    final: int | None = None
    for status, _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet):
        if status is None or "Status" not in status:
            raise PacsQueryError("C-GET: no response (timeout or aborted association)")
        code = int(status.Status)
        if code not in _PENDING:
            final = code
    if final is not None and final not in (0x0000, 0xB000):
        raise PacsQueryError(f"C-GET failed: status 0x{final:04X}")
    if final == 0xB000:
        logger.warning("C-GET: some SR instances of a series could not be retrieved")
