"""``dermnode course add|list``: record a patient's treatment course in the job store.

The progress pages and the ORU then show each concern's response since the course began. The
command prints no patient data: the course is listed by its own fields only.
"""

from __future__ import annotations

import datetime as dt
import sys

from analysis.treatment import Course
from config import load_settings
from dicom_node.node import storage_dir_for
from dicom_node.store import DB_FILENAME, JobStore

__all__ = ["course_add_command", "course_list_command"]


def course_add_command(
    patient_id: str,
    issuer: str,
    name: str,
    protocol: str,
    start: str,
    sessions: int | None,
    config_path: str | None,
) -> int:
    """Record a course; 2 when an argument is invalid."""
    try:
        course = Course(name, protocol, dt.date.fromisoformat(start), sessions)
    except ValueError as exc:
        print(f"dermnode course add: {exc}", file=sys.stderr)
        return 2
    settings = load_settings(config_path)
    storage = storage_dir_for(settings, config_path)
    storage.mkdir(parents=True, exist_ok=True)
    with JobStore(storage / DB_FILENAME, settings.delivery) as store:
        course_id = store.add_course(patient_id, issuer, course)
    print(f"course {course_id} recorded: {course.name}, from {course.start_date.isoformat()}")
    return 0


def course_list_command(patient_id: str, issuer: str, config_path: str | None) -> int:
    """List the patient's courses; 1 when there is none."""
    settings = load_settings(config_path)
    db = storage_dir_for(settings, config_path) / DB_FILENAME
    if not db.exists():
        print(f"no job store at {db}", file=sys.stderr)
        return 1
    with JobStore(db, settings.delivery) as store:
        courses = store.patient_courses(patient_id, issuer)
    if not courses:
        print("no course recorded for this patient", file=sys.stderr)
        return 1
    for c in courses:
        sessions = f", {c.sessions} sessions" if c.sessions else ""
        print(f"{c.start_date.isoformat()}  {c.name}  ({c.protocol or '-'}{sessions})")
    return 0
