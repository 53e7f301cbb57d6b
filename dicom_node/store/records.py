"""The job store's row types, their states, and one row mapper per type."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, TypeVar

__all__ = [
    "FailureKind",
    "InstanceRecord",
    "NewDelivery",
    "OutboxItem",
    "OutboxKind",
    "OutboxState",
    "ResultRow",
    "StudyRecord",
    "StudyState",
    "from_row",
]


class StudyState(StrEnum):
    """States of a study (job); see :mod:`dicom_node.store` for the transitions."""

    RECEIVED = "received"
    READY = "ready"
    ANALYSING = "analysing"
    ENCODED = "encoded"
    DELIVERED = "delivered"
    NOTIFIED = "notified"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a study failed, where the service can act on it by itself."""

    #: The results could not be written for lack of disk space: re-queued when space returns.
    DISK_FULL = "disk_full"


class OutboxState(StrEnum):
    """States of an outbox row."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class OutboxKind(StrEnum):
    """What an outbox row delivers: a DICOM object by C-STORE or an HL7 message over MLLP."""

    DICOM = "dicom"
    HL7 = "hl7"


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """What the C-STORE handler records for one received instance.

    Only the patient identifiers the results index needs (Patient ID, Issuer) and the study
    date are kept; the job store holds no names, birth dates, sex or accession numbers.
    """

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    path: str
    size: int
    received_at: float
    calling_ae: str | None = None
    called_ae: str | None = None
    peer_host: str | None = None
    modality: str | None = None
    series_number: int | None = None
    instance_number: int | None = None
    patient_id: str | None = None
    issuer_of_patient_id: str | None = None
    study_date: str | None = None
    specific_character_set: str | None = None
    #: When retention removed the spooled file (None: it is in the spool).
    spool_removed_at: float | None = None

    def __post_init__(self) -> None:
        for name in ("sop_instance_uid", "study_instance_uid", "series_instance_uid"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        if self.size < 0:
            raise ValueError(f"size must be >= 0, got {self.size}")


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """A study (job) row, without patient data."""

    id: int
    study_instance_uid: str
    state: StudyState
    version: int
    calling_ae: str | None
    called_ae: str | None
    created_at: float
    updated_at: float
    last_instance_at: float
    instance_count: int
    result_path: str | None
    error: str | None
    #: Runs of this study cut short by a crash while it was being analysed.
    interrupted_runs: int = 0
    failure_kind: FailureKind | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An outbox row: one object (or message) for one destination."""

    id: int
    study_id: int | None
    study_instance_uid: str | None
    kind: OutboxKind
    destination: str
    payload_path: str | None
    payload_ref: str | None
    state: OutboxState
    attempts: int
    next_attempt_at: float
    created_at: float
    updated_at: float
    delivered_at: float | None
    last_error: str | None
    last_status: str | None
    #: When the current run of failures began (None after a success or a re-queue).
    first_failed_at: float | None = None


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One indexed value of a delivered (or being delivered) result. Holds the Patient ID."""

    study_instance_uid: str
    result_set: str
    patient_id: str
    issuer_of_patient_id: str
    study_date: str
    view: str
    source_sop_instance_uid: str
    region: str
    key: str
    value: float
    unit: str
    algorithm_version: str
    sr_instance_uid: str | None = None
    patient_sex: str = ""  # M | F | O | "" (for clinic norms; no other patient attribute)
    age_band: str = ""  # "30-39" at the study date, or ""


_T = TypeVar("_T", InstanceRecord, StudyRecord, OutboxItem, ResultRow)

#: Columns stored as text that come back as enums.
_ENUMS: dict[str, type[StrEnum]] = {
    "state": StudyState,  # replaced per type below
    "kind": OutboxKind,
    "failure_kind": FailureKind,
}
_STATE_ENUM: dict[type[Any], type[StrEnum]] = {StudyRecord: StudyState, OutboxItem: OutboxState}


def from_row(cls: type[_T], row: sqlite3.Row) -> _T:
    """The record of type *cls* from a row selected with its columns (the one mapper)."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        v = row[f.name]
        if v is not None and f.name in _ENUMS:
            enum = _STATE_ENUM[cls] if f.name == "state" else _ENUMS[f.name]
            v = enum(v)
        values[f.name] = v
    return cls(**values)


def columns(cls: type[Any]) -> list[str]:
    """The column names of a record type, in field order."""
    return [f.name for f in fields(cls)]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An outbox row to add: one object (or notice) for one destination.

    ``dedup_key`` is the delivery's identity (the deterministic SOP Instance UID of a result
    object, the result-set digest of a notice): adding it twice keeps one row. A row with
    ``dead_error`` is added ``dead`` at once (e.g. a notice that cannot be encoded).
    """

    kind: OutboxKind
    destination: str
    payload_path: str | None
    payload_ref: str | None
    dedup_key: str | None
    dead_error: str | None = None

    def __post_init__(self) -> None:
        if not self.destination:
            raise ValueError("destination must not be empty")
        object.__setattr__(self, "kind", OutboxKind(self.kind))
