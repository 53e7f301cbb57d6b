"""The persistent job store: received instances, studies (jobs) and the delivery outbox.

One SQLite database in WAL mode (``<storage_dir>/dermnode.sqlite3``) records every stage of the
data path (DESIGN.md §2), so a restart resumes where it stopped:

``instances``
    One row per received SOP Instance (unique SOP Instance UID), written with
    ``synchronous=FULL`` *before* the C-STORE Success is returned. Patient attributes
    (Patient ID and issuer, for the results index) live here and only here: they are never
    logged and never printed by ``dermnode jobs``; no names, birth dates, sex or accession
    numbers are kept.
``studies``
    One row per Study Instance UID; its integer ``id`` is the *job id* shown to
    administrators. ``state`` follows::

        received ──► ready ──► analysing ──► encoded ──► delivered ──► notified
            ▲                      │              │            │
            └── new instance ──────┴──────────────┴────────────┘    (any) ──► failed

    ``version`` is incremented on every state change and whenever a new instance arrives,
    so a worker can finish with a compare-and-set (:meth:`JobStore.transition`) and notice
    that the study changed under it.
``results``
    The results index for progress tracking: one row per value (image x region x key) of
    every analysed result set, keyed by patient (Patient ID + Issuer), study date and view,
    with the algorithm version. Priors are read from the result sets of *delivered* studies.
``outbox``
    One row per object x destination to deliver (``kind`` ``dicom`` or ``hl7``), with the
    retry state machine::

        pending ──mark_delivered──► delivered
           │ ▲
           │ └──── mark_failed(retryable) until failing for max_age_s (backoff)
           └──mark_failed(not retryable, or failing for max_age_s)──► dead ──retry──► pending

Modules: :mod:`~dicom_node.store.schema` (tables, in-place upgrades),
:mod:`~dicom_node.store.records` (row types, one row mapper), :mod:`~dicom_node.store.db`
(pooled connections: a connection is borrowed per statement or transaction, so descriptors stay
bounded however many association threads come and go), and one module per table:
:mod:`~dicom_node.store.studies`, :mod:`~dicom_node.store.instances`,
:mod:`~dicom_node.store.outbox` (with :meth:`JobStore.hand_off`, a result set's index rows,
outbox rows and the ``encoded`` state in ONE transaction), :mod:`~dicom_node.store.results`,
:mod:`~dicom_node.store.courses` (treatment courses per patient).
Files are created 0600 in a 0700 folder.
"""

from __future__ import annotations

from pathlib import Path

from config.settings import DeliverySettings
from dicom_node.store.courses import Courses
from dicom_node.store.instances import Instances
from dicom_node.store.outbox import Outbox, backoff_delay_s
from dicom_node.store.records import (
    FailureKind,
    InstanceRecord,
    NewDelivery,
    OutboxItem,
    OutboxKind,
    OutboxState,
    ResultRow,
    StudyRecord,
    StudyState,
)
from dicom_node.store.results import Results
from dicom_node.store.schema import SCHEMA_VERSION
from dicom_node.store.studies import Studies

__all__ = [
    "DB_FILENAME",
    "SCHEMA_VERSION",
    "FailureKind",
    "InstanceRecord",
    "JobStore",
    "NewDelivery",
    "OutboxItem",
    "OutboxKind",
    "OutboxState",
    "ResultRow",
    "StudyRecord",
    "StudyState",
    "backoff_delay_s",
]

DB_FILENAME = "dermnode.sqlite3"


class JobStore(Studies, Instances, Outbox, Results, Courses):
    """The SQLite job store (WAL, pooled connections).

    Parameters
    ----------
    path
        The database file; its folder is created (0700) when missing, the file 0600.
    delivery
        The retry policy used by :meth:`mark_failed`.
    """

    def __init__(self, path: str | Path, delivery: DeliverySettings | None = None) -> None:
        self.delivery = delivery if delivery is not None else DeliverySettings()
        super().__init__(path)

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
