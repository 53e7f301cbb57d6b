"""The job store's SQLite schema and its in-place upgrades.

Version history:

1. studies, instances, outbox, results.
2. ``instances.spool_removed_at`` (spool retention).
3. ``studies.interrupted_runs`` and ``studies.failure_kind`` (crash and disk-full recovery kept
   in the store, not in side files); ``outbox.first_failed_at`` (a maximum age for transient
   delivery errors); the patient columns nothing read (``patient_name``,
   ``patient_birth_date``, ``patient_sex``, ``accession_number``) dropped.
4. ``courses`` (treatment courses per patient, :mod:`dicom_node.store.courses`);
   ``results.patient_sex`` and ``results.age_band`` (clinic norms: percentiles among the
   clinic's earlier patients of the same sex and age band).
"""

from __future__ import annotations

import logging
import sqlite3

__all__ = ["SCHEMA", "SCHEMA_VERSION", "migrate"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 4

SCHEMA = """
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
    error               TEXT,
    interrupted_runs    INTEGER NOT NULL DEFAULT 0,
    failure_kind        TEXT
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
    last_status         TEXT,
    first_failed_at     REAL
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

CREATE TABLE IF NOT EXISTS courses (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id           TEXT NOT NULL,
    issuer_of_patient_id TEXT NOT NULL DEFAULT '',
    name                 TEXT NOT NULL,
    protocol             TEXT NOT NULL DEFAULT '',
    start_date           TEXT NOT NULL,
    sessions             INTEGER,
    created_at           REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS courses_patient
    ON courses (patient_id, issuer_of_patient_id, start_date);
"""

#: Columns of earlier versions that no code reads; removed by :func:`migrate`.
_DROPPED_INSTANCE_COLUMNS = (
    "patient_name",
    "patient_birth_date",
    "patient_sex",
    "accession_number",
)
_ADDED: tuple[tuple[str, str, str], ...] = (
    ("instances", "spool_removed_at", "REAL"),
    ("studies", "interrupted_runs", "INTEGER NOT NULL DEFAULT 0"),
    ("studies", "failure_kind", "TEXT"),
    ("outbox", "first_failed_at", "REAL"),
    ("results", "patient_sex", "TEXT NOT NULL DEFAULT ''"),
    ("results", "age_band", "TEXT NOT NULL DEFAULT ''"),
)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}


def migrate(conn: sqlite3.Connection) -> None:
    """Create the tables, or bring a store of an earlier version up to :data:`SCHEMA_VERSION`.

    Runs in one transaction: a crash mid-upgrade leaves the old version intact.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        before = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        changed = False
        for table, column, decl in _ADDED:
            if column not in _columns(conn, table):
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                changed = True
        present = _columns(conn, "instances")
        for column in _DROPPED_INSTANCE_COLUMNS:
            if column in present:
                conn.execute(f"ALTER TABLE instances DROP COLUMN {column}")
                changed = True
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if changed and before:
        logger.info("job store schema upgraded from version %d to %d", before, SCHEMA_VERSION)
