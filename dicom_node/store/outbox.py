"""The delivery outbox: one row per object x destination, with the retry state machine."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from config.settings import DeliverySettings
from dicom_node.store.db import Database
from dicom_node.store.records import (
    NewDelivery,
    OutboxItem,
    OutboxKind,
    OutboxState,
    ResultRow,
    StudyState,
    columns,
    from_row,
)

__all__ = ["Outbox", "backoff_delay_s"]

_RESULT_COLUMNS = columns(ResultRow)


def backoff_delay_s(attempts: int, policy: DeliverySettings) -> float:
    """Delay before the next attempt after *attempts* failed ones: exponential with a cap.

    ``backoff_initial_s * 2 ** (attempts - 1)``, at most ``backoff_max_s``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    exponent = min(attempts - 1, 62)  # avoid float overflow for absurd counts
    return float(min(policy.backoff_initial_s * (2.0**exponent), policy.backoff_max_s))


def _insert(
    conn: sqlite3.Connection, d: NewDelivery, study_id: int | None, uid: str | None, t: float
) -> int:
    if d.dedup_key is not None:
        row = conn.execute(
            "SELECT id FROM outbox WHERE kind = ? AND destination = ? AND dedup_key = ?",
            (d.kind.value, d.destination, d.dedup_key),
        ).fetchone()
        if row is not None:
            return int(row[0])
    state = OutboxState.PENDING if d.dead_error is None else OutboxState.DEAD
    cur = conn.execute(
        "INSERT INTO outbox (study_id, study_instance_uid, kind, destination,"
        " payload_path, payload_ref, dedup_key, state, attempts, next_attempt_at,"
        " created_at, updated_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
        (
            study_id,
            uid,
            d.kind.value,
            d.destination,
            d.payload_path,
            d.payload_ref,
            d.dedup_key,
            state.value,
            t,
            t,
            t,
            d.dead_error,
        ),
    )
    return int(cur.lastrowid or 0)


class Outbox(Database):
    """The ``outbox`` table and the atomic hand-off of a result set to it."""

    delivery: DeliverySettings

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
        """Add one delivery; due at once. With *dedup_key*, enqueueing twice returns the same id.

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
        d = NewDelivery(OutboxKind(kind), destination, payload_path, payload_ref, dedup_key)
        t = time.time() if now is None else now
        with self._write() as conn:
            return _insert(conn, d, study_id, study_instance_uid, t)

    def hand_off(
        self,
        job_id: int,
        expected_version: int,
        deliveries: Sequence[NewDelivery],
        results: Sequence[ResultRow],
        result_path: str,
    ) -> bool:
        """Hand a result set over in ONE transaction: index, outbox rows, ``encoded``.

        The study must still be ``analysing`` at *expected_version*; otherwise (a late
        instance re-opened it) nothing is written and ``False`` is returned. A crash before
        the commit leaves none of it; after, all of it (DICOM rows and notices together).
        """
        t = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT study_instance_uid FROM studies WHERE id = ? AND state = ? AND version = ?",
                (job_id, StudyState.ANALYSING.value, expected_version),
            ).fetchone()
            if row is None:
                return False
            uid = str(row[0])
            conn.executemany(
                f"INSERT INTO results (study_id, created_at, {', '.join(_RESULT_COLUMNS)}) "  # noqa: S608
                f"VALUES (?, ?, {', '.join('?' for _ in _RESULT_COLUMNS)})"
                " ON CONFLICT (result_set, source_sop_instance_uid, region, key) DO NOTHING",
                [(job_id, t, *(getattr(r, f) for f in _RESULT_COLUMNS)) for r in results],
            )
            for d in deliveries:
                _insert(conn, d, job_id, uid, t)
            conn.execute(
                "UPDATE studies SET state = 'encoded', version = version + 1, updated_at = ?,"
                " error = NULL, failure_kind = NULL, interrupted_runs = 0, result_path = ?"
                " WHERE id = ?",
                (t, result_path, job_id),
            )
        return True

    def get_outbox(self, item_id: int) -> OutboxItem | None:
        """One outbox row, or ``None``."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM outbox WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else from_row(OutboxItem, row)

    def due_deliveries(self, now: float | None = None) -> list[OutboxItem]:
        """Every pending delivery whose next attempt time has come, oldest first (no cap).

        Notices waiting for their study's objects keep their early due time: after a long
        PACS outage a cap would let them hide the DICOM rows they wait for.
        """
        t = time.time() if now is None else now
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id",
                (t,),
            ).fetchall()
        return [from_row(OutboxItem, r) for r in rows]

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
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [from_row(OutboxItem, r) for r in rows]

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
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1,"
                " delivered_at = ?, updated_at = ?, last_status = ?, last_error = NULL,"
                " first_failed_at = NULL WHERE id = ? AND state = 'pending'",
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
        max_age_s: float | None = None,
        now: float | None = None,
    ) -> OutboxState:
        """A delivery attempt failed: schedule the next one with backoff, or make it dead.

        The row becomes ``dead`` when the failure is not retryable, or when it has been
        failing for *max_age_s* (default ``delivery.max_age_h``) since its first failure in a
        row; otherwise it stays ``pending`` with ``next_attempt_at = now +
        backoff_delay_s(attempts)``. A long outage therefore pauses a delivery instead of
        killing it, whatever the number of attempts.

        Returns
        -------
        OutboxState
            The new state.

        Raises
        ------
        KeyError
            No pending row has this ``item_id``.
        """
        limit = self.delivery.max_age_s if max_age_s is None else max_age_s
        if limit <= 0:
            raise ValueError(f"max_age_s must be > 0, got {limit}")
        t = time.time() if now is None else now
        with self._write() as conn:
            row = conn.execute(
                "SELECT attempts, first_failed_at FROM outbox WHERE id = ? AND state = 'pending'",
                (item_id,),
            ).fetchone()
            if row is None:
                raise KeyError(f"item_id {item_id}: no pending outbox row")
            attempts = int(row[0]) + 1
            first = t if row[1] is None else float(row[1])
            dead = (not retryable) or t - first >= limit
            new_state = OutboxState.DEAD if dead else OutboxState.PENDING
            next_at = t if dead else t + backoff_delay_s(attempts, self.delivery)
            conn.execute(
                "UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, updated_at = ?,"
                " last_error = ?, last_status = ?, first_failed_at = ? WHERE id = ?",
                (new_state.value, attempts, next_at, t, error, status, first, item_id),
            )
        return new_state

    def wake(self, kind: OutboxKind, destination: str, *, now: float | None = None) -> int:
        """Make every pending delivery to *destination* due now (it answered again).

        After an outage each row waits out its own backoff; once one delivery succeeds the
        others need not. Returns the rows woken.
        """
        t = time.time() if now is None else now
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND kind = ?"
                " AND destination = ? AND next_attempt_at > ?",
                (t, OutboxKind(kind).value, destination, t),
            )
        return int(cur.rowcount)

    def retry(self, item_id: int, *, now: float | None = None) -> None:
        """Re-queue a dead delivery (``dead`` -> ``pending``, attempts reset, due now).

        Raises
        ------
        KeyError
            No dead row has this ``item_id``.
        """
        t = time.time() if now is None else now
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " updated_at = ?, first_failed_at = NULL WHERE id = ? AND state = 'dead'",
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
        t = time.time() if now is None else now
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM studies WHERE id = ?", (job_id,)).fetchone() is None:
                raise KeyError(f"job_id {job_id}: no such job")
            n = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " updated_at = ?, first_failed_at = NULL WHERE study_id = ? AND state = 'dead'",
                (t, t, job_id),
            ).rowcount
            s = conn.execute(
                "UPDATE studies SET state = 'ready', version = version + 1, updated_at = ?,"
                " error = NULL, failure_kind = NULL, interrupted_runs = 0"
                " WHERE id = ? AND state = 'failed'",
                (t, job_id),
            ).rowcount
        return n, s == 1

    def outbox_state_counts(self) -> dict[tuple[OutboxKind, OutboxState], int]:
        """Number of outbox rows per kind and state (zeros included); one SQL query."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT kind, state, COUNT(*) FROM outbox GROUP BY kind, state"
            ).fetchall()
        counts = {(k, s): 0 for k in OutboxKind for s in OutboxState}
        for kind, state, n in rows:
            counts[(OutboxKind(kind), OutboxState(state))] = int(n)
        return counts

    def outbox_counts(self, study_id: int, kind: OutboxKind | None = None) -> dict[str, int]:
        """Number of outbox rows of a job (optionally of one kind) per state."""
        sql = "SELECT state, COUNT(*) FROM outbox WHERE study_id = ?"
        params: list[Any] = [study_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(OutboxKind(kind).value)
        with self._read() as conn:
            rows = conn.execute(sql + " GROUP BY state", params).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}
