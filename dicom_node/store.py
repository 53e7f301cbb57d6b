"""The persistent job store: received instances, studies (jobs) and the delivery outbox.

One SQLite database in WAL mode (``<storage_dir>/dermnode.sqlite3``) records every stage of the
data path (DESIGN.md §2), so a restart resumes where it stopped:

``instances``
    One row per received SOP Instance (unique SOP Instance UID), written with
    ``synchronous=FULL`` *before* the C-STORE Success is returned. Patient attributes
    (ID, issuer, decoded name, birth date ...) live here and only here: they are never logged
    and never printed by ``dermnode jobs``.
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
           │ └──── mark_failed(retryable) while attempts < max_attempts (backoff)
           └──mark_failed(not retryable, or attempts exhausted)──► dead ──retry──► pending

Thread safety: each thread gets its own connection (``threading.local``); SQLite serialises
writers (``BEGIN IMMEDIATE`` with a busy timeout).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from config.settings import DeliverySettings

__all__ = [
    "DB_FILENAME",
    "InstanceRecord",
    "JobStore",
    "OutboxItem",
    "OutboxKind",
    "OutboxState",
    "ResultRow",
    "StudyRecord",
    "StudyState",
    "backoff_delay_s",
]

logger = logging.getLogger(__name__)

DB_FILENAME = "dermnode.sqlite3"
SCHEMA_VERSION = 2


class StudyState(StrEnum):
    """States of a study (job); see the module docstring for the transitions."""

    RECEIVED = "received"
    READY = "ready"
    ANALYSING = "analysing"
    ENCODED = "encoded"
    DELIVERED = "delivered"
    NOTIFIED = "notified"
    FAILED = "failed"


class OutboxState(StrEnum):
    """States of an outbox row."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class OutboxKind(StrEnum):
    """What an outbox row delivers: a DICOM object by C-STORE or an HL7 message over MLLP."""

    DICOM = "dicom"
    HL7 = "hl7"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    study_instance_uid  TEXT NOT NULL UNIQUE,
    state               TEXT NOT NULL DEFAULT 'received' CHECK (state IN
                        ('received','ready','analysing','encoded','delivered','notified','failed')),
    version             INTEGER NOT NULL DEFAULT 1,
    calling_ae          TEXT,
    called_ae           TEXT,
    created_at          REAL NOT NULL,
    updated_at          REAL NOT NULL,
    last_instance_at    REAL NOT NULL,
    result_path         TEXT,
    error               TEXT
);
CREATE INDEX IF NOT EXISTS studies_state ON studies (state, last_instance_at);

CREATE TABLE IF NOT EXISTS instances (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    sop_instance_uid     TEXT NOT NULL UNIQUE,
    study_instance_uid   TEXT NOT NULL REFERENCES studies (study_instance_uid),
    series_instance_uid  TEXT NOT NULL,
    sop_class_uid        TEXT NOT NULL,
    transfer_syntax_uid  TEXT NOT NULL,
    calling_ae           TEXT,
    called_ae            TEXT,
    peer_host            TEXT,
    received_at          REAL NOT NULL,
    path                 TEXT NOT NULL,
    size                 INTEGER NOT NULL,
    modality             TEXT,
    series_number        INTEGER,
    instance_number      INTEGER,
    patient_id           TEXT,
    issuer_of_patient_id TEXT,
    patient_name         TEXT,
    patient_birth_date   TEXT,
    patient_sex          TEXT,
    accession_number     TEXT,
    study_date           TEXT,
    specific_character_set TEXT,
    spool_removed_at     REAL
);
CREATE INDEX IF NOT EXISTS instances_study ON instances (study_instance_uid);
CREATE INDEX IF NOT EXISTS instances_patient ON instances (patient_id, issuer_of_patient_id);

CREATE TABLE IF NOT EXISTS outbox (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id            INTEGER REFERENCES studies (id),
    study_instance_uid  TEXT,
    kind                TEXT NOT NULL CHECK (kind IN ('dicom','hl7')),
    destination         TEXT NOT NULL,
    payload_path        TEXT,
    payload_ref         TEXT,
    dedup_key           TEXT,
    state               TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending','delivered','dead')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     REAL NOT NULL,
    created_at          REAL NOT NULL,
    updated_at          REAL NOT NULL,
    delivered_at        REAL,
    last_error          TEXT,
    last_status         TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_study ON outbox (study_id);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_dedup ON outbox (kind, destination, dedup_key)
    WHERE dedup_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS results (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id                INTEGER NOT NULL REFERENCES studies (id),
    study_instance_uid      TEXT NOT NULL,
    result_set              TEXT NOT NULL,
    patient_id              TEXT NOT NULL,
    issuer_of_patient_id    TEXT NOT NULL DEFAULT '',
    study_date              TEXT NOT NULL DEFAULT '',
    view                    TEXT NOT NULL,
    source_sop_instance_uid TEXT NOT NULL,
    region                  TEXT NOT NULL,
    key                     TEXT NOT NULL,
    value                   REAL NOT NULL,
    unit                    TEXT NOT NULL,
    algorithm_version       TEXT NOT NULL,
    sr_instance_uid         TEXT,
    created_at              REAL NOT NULL,
    UNIQUE (result_set, source_sop_instance_uid, region, key)
);
CREATE INDEX IF NOT EXISTS results_patient
    ON results (patient_id, issuer_of_patient_id, view, study_date);
"""


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """What the C-STORE handler records for one received instance.

    The patient fields hold protected health information: they are stored, never logged.
    ``patient_name`` is the decoded Unicode string (Specific Character Set applied).
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
    patient_name: str | None = None
    patient_birth_date: str | None = None
    patient_sex: str | None = None
    accession_number: str | None = None
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


def backoff_delay_s(attempts: int, policy: DeliverySettings) -> float:
    """Delay before the next attempt after *attempts* failed ones: exponential with a cap.

    ``backoff_initial_s * 2 ** (attempts - 1)``, at most ``backoff_max_s``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    exponent = min(attempts - 1, 62)  # avoid float overflow for absurd counts
    return float(min(policy.backoff_initial_s * (2.0**exponent), policy.backoff_max_s))


def _instance(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(**{f: row[f] for f in InstanceRecord.__slots__})


def _study(row: sqlite3.Row) -> StudyRecord:
    return StudyRecord(
        id=row["id"],
        study_instance_uid=row["study_instance_uid"],
        state=StudyState(row["state"]),
        version=row["version"],
        calling_ae=row["calling_ae"],
        called_ae=row["called_ae"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_instance_at=row["last_instance_at"],
        instance_count=row["instance_count"],
        result_path=row["result_path"],
        error=row["error"],
    )


def _outbox(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        study_id=row["study_id"],
        study_instance_uid=row["study_instance_uid"],
        kind=OutboxKind(row["kind"]),
        destination=row["destination"],
        payload_path=row["payload_path"],
        payload_ref=row["payload_ref"],
        state=OutboxState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        delivered_at=row["delivered_at"],
        last_error=row["last_error"],
        last_status=row["last_status"],
    )


_STUDY_SELECT = (
    "SELECT s.*, (SELECT COUNT(*) FROM instances i "
    "WHERE i.study_instance_uid = s.study_instance_uid) AS instance_count FROM studies s"
)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a job store written by an earlier version up to :data:`SCHEMA_VERSION`.

    Version 2 added ``instances.spool_removed_at`` (spool retention).
    """
    columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(instances)")}
    if "spool_removed_at" not in columns:
        conn.execute("ALTER TABLE instances ADD COLUMN spool_removed_at REAL")
        logger.info("job store schema upgraded to version %d", SCHEMA_VERSION)


class JobStore:
    """The SQLite job store (WAL, one connection per thread).

    Parameters
    ----------
    path
        The database file; its folder is created when missing.
    delivery
        The retry policy used by :meth:`mark_failed`.
    """

    def __init__(self, path: str | Path, delivery: DeliverySettings | None = None) -> None:
        self.path = Path(path)
        self.delivery = delivery if delivery is not None else DeliverySettings()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        conn = self._conn()
        conn.executescript(_SCHEMA)
        _migrate(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- connections ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("the job store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed transaction survives power loss (PS: Success means durable).
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection opened by any thread."""
        with self._lock:
            conns, self._connections = self._connections, []
            self._closed = True
        for c in conns:
            try:
                c.close()
            except sqlite3.ProgrammingError:  # opened in a thread that is gone; harmless
                pass

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        """The SQLite journal mode in use (``wal``)."""
        return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0])

    # -- instances and studies -------------------------------------------------------------

    def has_instance(self, sop_instance_uid: str) -> bool:
        """Whether an instance with this SOP Instance UID is already stored."""
        row = (
            self._conn()
            .execute("SELECT 1 FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,))
            .fetchone()
        )
        return row is not None

    def add_instance(self, rec: InstanceRecord) -> bool:
        """Record a received instance and touch its study; durable when this returns.

        A new study starts in ``received``. A new instance of a study that is past
        ``received`` puts it back to ``received`` (it will be analysed again) and bumps its
        version. An already known SOP Instance UID changes nothing.

        Returns
        -------
        bool
            ``True`` when the instance was new, ``False`` for a duplicate.
        """
        conn = self._conn()
        fields = [f for f in InstanceRecord.__slots__]
        values = [getattr(rec, f) for f in fields]
        with self._write(conn):
            conn.execute(
                "INSERT INTO studies (study_instance_uid, calling_ae, called_ae, created_at,"
                " updated_at, last_instance_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (study_instance_uid) DO NOTHING",
                (
                    rec.study_instance_uid,
                    rec.calling_ae,
                    rec.called_ae,
                    rec.received_at,
                    rec.received_at,
                    rec.received_at,
                ),
            )
            cur = conn.execute(
                f"INSERT INTO instances ({', '.join(fields)}) "  # noqa: S608 (fixed names)
                f"VALUES ({', '.join('?' for _ in fields)})"
                " ON CONFLICT (sop_instance_uid) DO NOTHING",
                values,
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                "UPDATE studies SET last_instance_at = MAX(last_instance_at, ?), updated_at = ?,"
                " calling_ae = COALESCE(?, calling_ae),"
                " version = version + CASE WHEN state = 'received' THEN 0 ELSE 1 END,"
                " state = 'received', error = NULL WHERE study_instance_uid = ?",
                (rec.received_at, rec.received_at, rec.calling_ae, rec.study_instance_uid),
            )
        return True

    def instance_paths(self) -> set[str]:
        """Paths of every recorded instance (for the startup reconciliation)."""
        rows = self._conn().execute("SELECT path FROM instances").fetchall()
        return {str(r[0]) for r in rows}

    def instances_of(self, study_instance_uid: str) -> list[InstanceRecord]:
        """Every recorded instance of a study, in order of arrival (holds patient data)."""
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM instances WHERE study_instance_uid = ? ORDER BY id",
                (study_instance_uid,),
            )
            .fetchall()
        )
        return [_instance(r) for r in rows]

    def get_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        """The instance with this SOP Instance UID, or ``None``."""
        r = (
            self._conn()
            .execute("SELECT * FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,))
            .fetchone()
        )
        if r is None:
            return None
        return _instance(r)

    def spool_expired(
        self, cutoff: float, states: Sequence[StudyState], limit: int = 10_000
    ) -> list[InstanceRecord]:
        """Instances still in the spool whose study is in one of *states* since *cutoff*.

        Selected in SQL, oldest studies first, however many studies the store holds.
        """
        sql = (
            "SELECT i.* FROM instances i JOIN studies s"
            " ON s.study_instance_uid = i.study_instance_uid"
            " WHERE s.state IN (SELECT value FROM json_each(?)) AND s.updated_at <= ?"
            " AND i.spool_removed_at IS NULL ORDER BY s.id, i.id LIMIT ?"
        )
        params = [json.dumps([StudyState(st).value for st in states]), cutoff, limit]
        rows = self._conn().execute(sql, params).fetchall()
        return [_instance(r) for r in rows]

    def mark_spool_removed(self, sop_instance_uids: Sequence[str], now: float) -> None:
        """Record that retention removed these instances' spooled files."""
        conn = self._conn()
        with self._write(conn):
            conn.executemany(
                "UPDATE instances SET spool_removed_at = ? WHERE sop_instance_uid = ?",
                [(now, uid) for uid in sop_instance_uids],
            )

    def count_instances(self) -> int:
        """Number of recorded instances."""
        return int(self._conn().execute("SELECT COUNT(*) FROM instances").fetchone()[0])

    def get_study(self, key: int | str) -> StudyRecord | None:
        """A study by job id (``int``) or Study Instance UID (``str``)."""
        col = "s.id" if isinstance(key, int) else "s.study_instance_uid"
        row = self._conn().execute(f"{_STUDY_SELECT} WHERE {col} = ?", (key,)).fetchone()
        return None if row is None else _study(row)

    def list_studies(
        self, state: StudyState | str | None = None, limit: int = 1000
    ) -> list[StudyRecord]:
        """Studies, newest first, optionally only those in *state*."""
        if state is None:
            rows = (
                self._conn()
                .execute(f"{_STUDY_SELECT} ORDER BY s.id DESC LIMIT ?", (limit,))
                .fetchall()
            )
        else:
            rows = (
                self._conn()
                .execute(
                    f"{_STUDY_SELECT} WHERE s.state = ? ORDER BY s.id DESC LIMIT ?",
                    (StudyState(state).value, limit),
                )
                .fetchall()
            )
        return [_study(r) for r in rows]

    def received_before(self, cutoff: float) -> list[StudyRecord]:
        """Studies still ``received`` whose last instance arrived at or before *cutoff*."""
        rows = (
            self._conn()
            .execute(
                f"{_STUDY_SELECT} WHERE s.state = 'received' AND s.last_instance_at <= ?"
                " ORDER BY s.last_instance_at",
                (cutoff,),
            )
            .fetchall()
        )
        return [_study(r) for r in rows]

    def transition(
        self,
        job_id: int,
        to_state: StudyState | str,
        *,
        from_states: Sequence[StudyState | str] | None = None,
        expected_version: int | None = None,
        error: str | None = None,
        result_path: str | None = None,
    ) -> bool:
        """Move a study to *to_state* if it is in one of *from_states* (and at the version).

        Returns ``False`` (and changes nothing) when the study is missing, in another state
        or at another version: a compare-and-set for workers.
        """
        target = StudyState(to_state).value
        sql = (
            "UPDATE studies SET state = ?, version = version + 1, updated_at = ?, error = ?,"
            " result_path = COALESCE(?, result_path) WHERE id = ?"
        )
        params: list[Any] = [target, time.time(), error, result_path, job_id]
        if from_states is not None:
            states = [StudyState(s).value for s in from_states]
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            params.extend(states)
        if expected_version is not None:
            sql += " AND version = ?"
            params.append(expected_version)
        conn = self._conn()
        with self._write(conn):
            cur = conn.execute(sql, params)
        return cur.rowcount == 1

    # -- outbox ---------------------------------------------------------------------------

    def enqueue(
        self,
        kind: OutboxKind | str,
        destination: str,
        *,
        study_id: int | None = None,
        study_instance_uid: str | None = None,
        payload_path: str | None = None,
        payload_ref: str | None = None,
        dedup_key: str | None = None,
        now: float | None = None,
    ) -> int:
        """Add a delivery; due at once. With *dedup_key*, enqueueing twice returns the same id.

        Parameters
        ----------
        kind
            ``dicom`` or ``hl7``.
        destination
            The configured destination or HL7 endpoint name.
        payload_path, payload_ref
            The file to send and/or a reference to it (e.g. the SOP Instance UID).
        dedup_key
            Identity of the delivery (e.g. the deterministic SOP Instance UID of a result).
        """
        k = OutboxKind(kind).value
        if not destination:
            raise ValueError("destination must not be empty")
        t = time.time() if now is None else now
        conn = self._conn()
        with self._write(conn):
            if dedup_key is not None:
                row = conn.execute(
                    "SELECT id FROM outbox WHERE kind = ? AND destination = ? AND dedup_key = ?",
                    (k, destination, dedup_key),
                ).fetchone()
                if row is not None:
                    return int(row[0])
            cur = conn.execute(
                "INSERT INTO outbox (study_id, study_instance_uid, kind, destination,"
                " payload_path, payload_ref, dedup_key, state, attempts, next_attempt_at,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                (
                    study_id,
                    study_instance_uid,
                    k,
                    destination,
                    payload_path,
                    payload_ref,
                    dedup_key,
                    t,
                    t,
                    t,
                ),
            )
        return int(cur.lastrowid or 0)

    def get_outbox(self, item_id: int) -> OutboxItem | None:
        """One outbox row, or ``None``."""
        row = self._conn().execute("SELECT * FROM outbox WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else _outbox(row)

    def due(self, now: float | None = None, limit: int = 100) -> list[OutboxItem]:
        """Pending deliveries whose next attempt time has come, oldest first."""
        t = time.time() if now is None else now
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT ?",
                (t, limit),
            )
            .fetchall()
        )
        return [_outbox(r) for r in rows]

    def list_outbox(
        self, *, study_id: int | None = None, state: OutboxState | str | None = None
    ) -> list[OutboxItem]:
        """Outbox rows, optionally of one job and/or in one state."""
        sql = "SELECT * FROM outbox WHERE 1 = 1"
        params: list[Any] = []
        if study_id is not None:
            sql += " AND study_id = ?"
            params.append(study_id)
        if state is not None:
            sql += " AND state = ?"
            params.append(OutboxState(state).value)
        rows = self._conn().execute(sql + " ORDER BY id", params).fetchall()
        return [_outbox(r) for r in rows]

    def mark_delivered(
        self, item_id: int, *, status: str | None = None, now: float | None = None
    ) -> None:
        """A pending delivery succeeded.

        Raises
        ------
        KeyError
            No pending row has this ``item_id``.
        """
        t = time.time() if now is None else now
        conn = self._conn()
        with self._write(conn):
            cur = conn.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1,"
                " delivered_at = ?, updated_at = ?, last_status = ?, last_error = NULL"
                " WHERE id = ? AND state = 'pending'",
                (t, t, status, item_id),
            )
        if cur.rowcount != 1:
            raise KeyError(f"item_id {item_id}: no pending outbox row")

    def mark_failed(
        self,
        item_id: int,
        *,
        retryable: bool,
        error: str,
        status: str | None = None,
        max_attempts: int | None = None,
        now: float | None = None,
    ) -> OutboxState:
        """A delivery attempt failed: schedule the next one with backoff, or make it dead.

        The row becomes ``dead`` when the failure is not retryable or when this was attempt
        number *max_attempts* (default: ``delivery.max_attempts``); otherwise it stays
        ``pending`` with ``next_attempt_at = now + backoff_delay_s(attempts)``.

        Returns
        -------
        OutboxState
            The new state.

        Raises
        ------
        KeyError
            No pending row has this ``item_id``.
        """
        limit = self.delivery.max_attempts if max_attempts is None else max_attempts
        if limit < 1:
            raise ValueError(f"max_attempts must be >= 1, got {limit}")
        t = time.time() if now is None else now
        conn = self._conn()
        with self._write(conn):
            row = conn.execute(
                "SELECT attempts FROM outbox WHERE id = ? AND state = 'pending'", (item_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"item_id {item_id}: no pending outbox row")
            attempts = int(row[0]) + 1
            dead = (not retryable) or attempts >= limit
            new_state = OutboxState.DEAD if dead else OutboxState.PENDING
            next_at = t if dead else t + backoff_delay_s(attempts, self.delivery)
            conn.execute(
                "UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, updated_at = ?,"
                " last_error = ?, last_status = ? WHERE id = ?",
                (new_state.value, attempts, next_at, t, error, status, item_id),
            )
        return new_state

    def retry(self, item_id: int, *, now: float | None = None) -> None:
        """Re-queue a dead delivery (``dead`` -> ``pending``, attempts reset, due now).

        Raises
        ------
        KeyError
            No dead row has this ``item_id``.
        """
        t = time.time() if now is None else now
        conn = self._conn()
        with self._write(conn):
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " updated_at = ? WHERE id = ? AND state = 'dead'",
                (t, t, item_id),
            )
        if cur.rowcount != 1:
            raise KeyError(f"item_id {item_id}: no dead outbox row")

    def retry_job(self, job_id: int, *, now: float | None = None) -> tuple[int, bool]:
        """Re-queue everything of a job: its dead deliveries, and the study when ``failed``.

        A failed study goes back to ``ready`` (analysed again). Returns ``(number of
        deliveries re-queued, whether the study was re-queued)``.

        Raises
        ------
        KeyError
            No study has this ``job_id``.
        """
        if self.get_study(job_id) is None:
            raise KeyError(f"job_id {job_id}: no such job")
        t = time.time() if now is None else now
        conn = self._conn()
        with self._write(conn):
            n = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " updated_at = ? WHERE study_id = ? AND state = 'dead'",
                (t, t, job_id),
            ).rowcount
            s = conn.execute(
                "UPDATE studies SET state = 'ready', version = version + 1, updated_at = ?,"
                " error = NULL WHERE id = ? AND state = 'failed'",
                (t, job_id),
            ).rowcount
        return n, s == 1

    # -- results index ----------------------------------------------------------------------

    def record_results(self, study_id: int, rows: Sequence[ResultRow]) -> int:
        """Index the values of one result set (idempotent); return the rows added."""
        t = time.time()
        fields = [f for f in ResultRow.__slots__]
        conn = self._conn()
        with self._write(conn):
            cur = conn.executemany(
                f"INSERT INTO results (study_id, created_at, {', '.join(fields)}) "  # noqa: S608
                f"VALUES (?, ?, {', '.join('?' for _ in fields)})"
                " ON CONFLICT (result_set, source_sop_instance_uid, region, key) DO NOTHING",
                [(study_id, t, *(getattr(r, f) for f in fields)) for r in rows],
            )
        return int(cur.rowcount)

    def patient_results(
        self,
        patient_id: str,
        issuer_of_patient_id: str = "",
        *,
        delivered_only: bool = True,
        exclude_study_uid: str | None = None,
    ) -> list[ResultRow]:
        """The indexed values of one patient (only this patient's), oldest study first.

        Per study only its newest result set counts (a study re-opened by a late instance
        has several). With *delivered_only*, only studies whose results reached the PACS.
        """
        state_filter = " AND s.state IN ('delivered', 'notified')" if delivered_only else ""
        sql = (
            "SELECT r.* FROM results r JOIN studies s ON s.id = r.study_id"  # noqa: S608
            " WHERE r.patient_id = ? AND r.issuer_of_patient_id = ?"
            + state_filter
            + " AND r.study_instance_uid != ?"
            " AND r.result_set = (SELECT r2.result_set FROM results r2"
            "   WHERE r2.study_id = r.study_id ORDER BY r2.created_at DESC, r2.id DESC"
            "   LIMIT 1)"
            " ORDER BY r.study_date, r.study_instance_uid, r.id"
        )
        params = (patient_id, issuer_of_patient_id, exclude_study_uid or "")
        rows = self._conn().execute(sql, params).fetchall()
        fields = ResultRow.__slots__
        return [ResultRow(**{f: r[f] for f in fields}) for r in rows]

    def study_state_counts(self) -> dict[StudyState, int]:
        """Number of studies per job state (every state, zeros included); one SQL query."""
        rows = self._conn().execute("SELECT state, COUNT(*) FROM studies GROUP BY state").fetchall()
        counts = dict.fromkeys(StudyState, 0)
        for state, n in rows:
            counts[StudyState(state)] = int(n)
        return counts

    def outbox_state_counts(self) -> dict[tuple[OutboxKind, OutboxState], int]:
        """Number of outbox rows per kind and state (zeros included); one SQL query."""
        rows = (
            self._conn()
            .execute("SELECT kind, state, COUNT(*) FROM outbox GROUP BY kind, state")
            .fetchall()
        )
        counts = {(k, s): 0 for k in OutboxKind for s in OutboxState}
        for kind, state, n in rows:
            counts[(OutboxKind(kind), OutboxState(state))] = int(n)
        return counts

    def outbox_counts(self, study_id: int) -> dict[str, int]:
        """Number of outbox rows of a job per state."""
        rows = (
            self._conn()
            .execute(
                "SELECT state, COUNT(*) FROM outbox WHERE study_id = ? GROUP BY state", (study_id,)
            )
            .fetchall()
        )
        return {str(r[0]): int(r[1]) for r in rows}
