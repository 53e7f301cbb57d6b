"""Received instances: one row per SOP Instance, written before the C-STORE Success."""

from __future__ import annotations

import json
from collections.abc import Sequence

from dicom_node.store.db import Database
from dicom_node.store.records import InstanceRecord, StudyState, columns, from_row

__all__ = ["Instances"]

_COLUMNS = columns(InstanceRecord)


class Instances(Database):
    """The ``instances`` table (and the study row each new instance touches)."""

    def has_instance(self, sop_instance_uid: str) -> bool:
        """Whether an instance with this SOP Instance UID is already stored."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,)
            ).fetchone()
        return row is not None

    def add_instance(self, rec: InstanceRecord) -> bool:
        """Record a received instance and touch its study; durable when this returns.

        A new study starts in ``received``. Every new instance bumps the study's version, so
        a compare-and-set on the version (the grouper's ``received -> ready``, the worker's
        hand-off) fails when an instance arrived after the study was read; a study past
        ``received`` also goes back to ``received`` (it will be analysed again). An already
        known SOP Instance UID changes nothing.

        Returns
        -------
        bool
            ``True`` when the instance was new, ``False`` for a duplicate.
        """
        values = [getattr(rec, f) for f in _COLUMNS]
        with self._write() as conn:
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
                f"INSERT INTO instances ({', '.join(_COLUMNS)}) "  # noqa: S608 (fixed names)
                f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
                " ON CONFLICT (sop_instance_uid) DO NOTHING",
                values,
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                "UPDATE studies SET last_instance_at = MAX(last_instance_at, ?), updated_at = ?,"
                " calling_ae = COALESCE(?, calling_ae),"
                " version = version + 1,"
                " state = 'received', error = NULL, failure_kind = NULL"
                " WHERE study_instance_uid = ?",
                (rec.received_at, rec.received_at, rec.calling_ae, rec.study_instance_uid),
            )
        return True

    def count_instances(self) -> int:
        """Number of recorded instances."""
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0])

    def instance_paths(self) -> set[str]:
        """Paths of every recorded instance (for the startup reconciliation)."""
        with self._read() as conn:
            rows = conn.execute("SELECT path FROM instances").fetchall()
        return {str(r[0]) for r in rows}

    def instances_of(self, study_instance_uid: str) -> list[InstanceRecord]:
        """Every recorded instance of a study, in order of arrival (holds patient IDs)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM instances WHERE study_instance_uid = ? ORDER BY id",
                (study_instance_uid,),
            ).fetchall()
        return [from_row(InstanceRecord, r) for r in rows]

    def get_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        """The instance with this SOP Instance UID, or ``None``."""
        with self._read() as conn:
            r = conn.execute(
                "SELECT * FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,)
            ).fetchone()
        return None if r is None else from_row(InstanceRecord, r)

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
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [from_row(InstanceRecord, r) for r in rows]

    def mark_spool_removed(self, sop_instance_uids: Sequence[str], now: float) -> None:
        """Record that retention removed these instances' spooled files."""
        with self._write() as conn:
            conn.executemany(
                "UPDATE instances SET spool_removed_at = ? WHERE sop_instance_uid = ?",
                [(now, uid) for uid in sop_instance_uids],
            )
