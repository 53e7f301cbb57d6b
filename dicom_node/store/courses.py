"""Treatment courses: one row per course recorded for a patient (``dermnode course add``).

A course (name, protocol, start date, planned sessions) lets the progress pages and the ORU
show each concern's response since the course began (:func:`analysis.treatment.course_response`).
Keyed by Patient ID + Issuer like the results index; nothing else about the patient is kept.
"""

from __future__ import annotations

import datetime as dt
import time

from analysis.treatment import Course
from dicom_node.store.db import Database

__all__ = ["Courses"]


class Courses(Database):
    """The ``courses`` table."""

    def add_course(
        self,
        patient_id: str,
        issuer_of_patient_id: str,
        course: Course,
        *,
        now: float | None = None,
    ) -> int:
        """Record *course* for the patient; return its id.

        Raises
        ------
        ValueError
            When *patient_id* is empty.
        """
        if not patient_id.strip():
            raise ValueError("patient_id: must not be empty")
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO courses (patient_id, issuer_of_patient_id, name, protocol,"
                " start_date, sessions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    patient_id,
                    issuer_of_patient_id,
                    course.name,
                    course.protocol,
                    course.start_date.isoformat(),
                    course.sessions,
                    time.time() if now is None else now,
                ),
            )
        return int(cur.lastrowid or 0)

    def patient_courses(self, patient_id: str, issuer_of_patient_id: str = "") -> list[Course]:
        """The patient's courses, oldest start first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name, protocol, start_date, sessions FROM courses"
                " WHERE patient_id = ? AND issuer_of_patient_id = ?"
                " ORDER BY start_date, id",
                (patient_id, issuer_of_patient_id),
            ).fetchall()
        return [Course(str(r[0]), str(r[1]), dt.date.fromisoformat(str(r[2])), r[3]) for r in rows]

    def active_course(
        self, patient_id: str, issuer_of_patient_id: str, on: dt.date
    ) -> Course | None:
        """The patient's latest course that had begun by *on* (None without one)."""
        begun = [
            c for c in self.patient_courses(patient_id, issuer_of_patient_id) if c.start_date <= on
        ]
        return begun[-1] if begun else None
