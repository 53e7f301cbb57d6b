"""The results index for progress tracking: one row per value of every analysed result set."""

from __future__ import annotations

import time
from collections.abc import Sequence

from dicom_node.store.db import Database
from dicom_node.store.records import ResultRow, columns, from_row

__all__ = ["Results"]

_COLUMNS = columns(ResultRow)


class Results(Database):
    """The ``results`` table."""

    def record_results(self, study_id: int, rows: Sequence[ResultRow]) -> int:
        """Index the values of one result set (idempotent); return the rows added."""
        t = time.time()
        with self._write() as conn:
            cur = conn.executemany(
                f"INSERT INTO results (study_id, created_at, {', '.join(_COLUMNS)}) "  # noqa: S608
                f"VALUES (?, ?, {', '.join('?' for _ in _COLUMNS)})"
                " ON CONFLICT (result_set, source_sop_instance_uid, region, key) DO NOTHING",
                [(study_id, t, *(getattr(r, f) for f in _COLUMNS)) for r in rows],
            )
        return int(cur.rowcount)

    def cohort_results(
        self,
        patient_sex: str,
        age_band: str,
        view: str,
        *,
        exclude_patient: tuple[str, str],
        region: str = "face",
    ) -> dict[tuple[str, str], list[ResultRow]]:
        """Clinic norms: per other patient of this sex and age band, the *region* values of
        their latest delivered result set of *view*: ``{(patient_id, issuer): rows}``.

        Only rows with a known sex and age band take part; the patient *exclude_patient* is
        left out. The values feed a percentile; nothing of the other patients leaves here.
        """
        if not patient_sex or not age_band:
            return {}
        sql = (
            "SELECT r.* FROM results r JOIN studies s ON s.id = r.study_id"  # noqa: S608
            " WHERE r.patient_sex = ? AND r.age_band = ? AND r.view = ? AND r.region = ?"
            " AND s.state IN ('delivered', 'notified')"
            " AND NOT (r.patient_id = ? AND r.issuer_of_patient_id = ?)"
            " AND r.result_set = (SELECT r2.result_set FROM results r2"
            "   JOIN studies s2 ON s2.id = r2.study_id"
            "   WHERE r2.patient_id = r.patient_id"
            "   AND r2.issuer_of_patient_id = r.issuer_of_patient_id AND r2.view = r.view"
            "   AND s2.state IN ('delivered', 'notified')"
            "   ORDER BY r2.study_date DESC, r2.created_at DESC, r2.id DESC LIMIT 1)"
            " ORDER BY r.patient_id, r.id"
        )
        params = (patient_sex, age_band, view, region, *exclude_patient)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        out: dict[tuple[str, str], list[ResultRow]] = {}
        for r in rows:
            row = from_row(ResultRow, r)
            out.setdefault((row.patient_id, row.issuer_of_patient_id), []).append(row)
        return out

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
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [from_row(ResultRow, r) for r in rows]
