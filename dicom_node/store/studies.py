"""Studies (jobs): one row per Study Instance UID, its state and version."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from dicom_node.store.db import Database
from dicom_node.store.records import FailureKind, StudyRecord, StudyState, from_row

__all__ = ["Studies"]

_STUDY_SELECT = (
    "SELECT s.*, (SELECT COUNT(*) FROM instances i "
    "WHERE i.study_instance_uid = s.study_instance_uid) AS instance_count FROM studies s"
)


class Studies(Database):
    """The ``studies`` table: the job state machine."""

    def get_study(self, key: int | str) -> StudyRecord | None:
        """A study by job id (``int``) or Study Instance UID (``str``)."""
        col = "s.id" if isinstance(key, int) else "s.study_instance_uid"
        with self._read() as conn:
            row = conn.execute(f"{_STUDY_SELECT} WHERE {col} = ?", (key,)).fetchone()
        return None if row is None else from_row(StudyRecord, row)

    def list_studies(
        self, state: StudyState | str | None = None, limit: int | None = None
    ) -> list[StudyRecord]:
        """Studies, newest first, optionally only those in *state*; all of them by default."""
        sql = _STUDY_SELECT
        params: list[Any] = []
        if state is not None:
            sql += " WHERE s.state = ?"
            params.append(StudyState(state).value)
        sql += " ORDER BY s.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [from_row(StudyRecord, r) for r in rows]

    def study_ids(self, state: StudyState | str) -> list[int]:
        """The job ids of every study in *state*, oldest first (no row loading, no cap)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id FROM studies WHERE state = ? ORDER BY id", (StudyState(state).value,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def received_before(self, cutoff: float) -> list[StudyRecord]:
        """Studies still ``received`` whose last instance arrived at or before *cutoff*."""
        with self._read() as conn:
            rows = conn.execute(
                f"{_STUDY_SELECT} WHERE s.state = 'received' AND s.last_instance_at <= ?"
                " ORDER BY s.last_instance_at",
                (cutoff,),
            ).fetchall()
        return [from_row(StudyRecord, r) for r in rows]

    def transition(
        self,
        job_id: int,
        to_state: StudyState | str,
        *,
        from_states: Sequence[StudyState | str] | None = None,
        expected_version: int | None = None,
        error: str | None = None,
        result_path: str | None = None,
        failure_kind: FailureKind | None = None,
    ) -> bool:
        """Move a study to *to_state* if it is in one of *from_states* (and at the version).

        Returns ``False`` (and changes nothing) when the study is missing, in another state
        or at another version: a compare-and-set for workers.
        """
        target = StudyState(to_state).value
        sql = (
            "UPDATE studies SET state = ?, version = version + 1, updated_at = ?, error = ?,"
            " failure_kind = ?, result_path = COALESCE(?, result_path) WHERE id = ?"
        )
        kind = None if failure_kind is None else failure_kind.value
        params: list[Any] = [target, time.time(), error, kind, result_path, job_id]
        if from_states is not None:
            states = [StudyState(s).value for s in from_states]
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            params.extend(states)
        if expected_version is not None:
            sql += " AND version = ?"
            params.append(expected_version)
        with self._write() as conn:
            cur = conn.execute(sql, params)
        return cur.rowcount == 1

    def recover_interrupted(self, max_runs: int, error: str) -> tuple[list[int], list[int]]:
        """After a crash: studies left ``analysing`` were being analysed when it happened.

        Each gets one more interrupted run counted; those at *max_runs* go to ``failed``
        (with *error*), the others back to ``ready``. Studies in other states are not
        counted: a crash during another study's analysis or a delivery is not theirs.

        Returns
        -------
        tuple[list[int], list[int]]
            The job ids re-queued and the job ids failed.
        """
        t = time.time()
        with self._write() as conn:
            conn.execute(
                "UPDATE studies SET interrupted_runs = interrupted_runs + 1 WHERE state = ?",
                (StudyState.ANALYSING.value,),
            )
            failed = [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM studies WHERE state = ? AND interrupted_runs >= ?",
                    (StudyState.ANALYSING.value, max_runs),
                )
            ]
            conn.execute(
                "UPDATE studies SET state = 'failed', version = version + 1, updated_at = ?,"
                " error = ? WHERE state = 'analysing' AND interrupted_runs >= ?",
                (t, error, max_runs),
            )
            ready = [
                int(r[0]) for r in conn.execute("SELECT id FROM studies WHERE state = 'analysing'")
            ]
            conn.execute(
                "UPDATE studies SET state = 'ready', version = version + 1, updated_at = ?"
                " WHERE state = 'analysing'",
                (t,),
            )
        return ready, failed

    def requeue_failed(self, kind: FailureKind) -> list[int]:
        """Put the ``failed`` studies of *kind* back to ``ready``; return their job ids."""
        t = time.time()
        with self._write() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM studies WHERE state = 'failed' AND failure_kind = ?",
                    (kind.value,),
                )
            ]
            conn.execute(
                "UPDATE studies SET state = 'ready', version = version + 1, updated_at = ?,"
                " error = NULL, failure_kind = NULL WHERE state = 'failed' AND failure_kind = ?",
                (t, kind.value),
            )
        return ids

    def study_state_counts(self) -> dict[StudyState, int]:
        """Number of studies per job state (every state, zeros included); one SQL query."""
        with self._read() as conn:
            rows = conn.execute("SELECT state, COUNT(*) FROM studies GROUP BY state").fetchall()
        counts = dict.fromkeys(StudyState, 0)
        for state, n in rows:
            counts[StudyState(state)] = int(n)
        return counts
