"""Treatment course: each concern's response since the course began, MDC-gated; the course
table in the job store; ``dermnode course add|list``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analysis.progress import ChangeLabel, VisitValues, compare
from analysis.treatment import Course, course_response
from dicom_node.cli import main
from dicom_node.store import JobStore
from tests.unit.integrations import progress_fakes as P

COURSE = Course("Laser toning", "1064 nm every 2 weeks", dt.date(2024, 3, 1), 10)


def test_response_is_measured_from_the_last_visit_before_the_start() -> None:
    r = course_response(COURSE, P.comparison())
    assert r.baseline_date == P.BASELINE_DATE  # 2024-01-10 <= 2024-03-01 < 2024-06-01
    by = {c.concern: c for c in r.changes}
    ita = by["pigmentation"]
    assert (ita.key, ita.region) == ("pigmentation.ita_deg", "face")
    assert ita.start_value == pytest.approx(38.0) and ita.delta == pytest.approx(0.2)
    assert ita.mdc is not None and ita.mdc > 0.2
    assert ita.label is ChangeLabel.STABLE  # inside the noise: never an improvement
    assert r.to_json()["changes"][0]["label"] in {"stable", "improved", "worsened", "no_mdc"}


def test_a_change_beyond_the_mdc_is_a_response() -> None:
    cur = P.current_visit()
    before = dict(cur.values)
    before[("face", "pigmentation.ita_deg")] = 20.0  # ITA: higher is lighter (better)
    prior = VisitValues(
        dt.date(2024, 2, 1), "1.2.3.9", cur.algorithm_version, "frontal", before, cur.units
    )
    r = course_response(COURSE, compare(cur, [prior]))
    ita = next(c for c in r.changes if c.key == "pigmentation.ita_deg")
    assert ita.delta == pytest.approx(18.2) and ita.label is ChangeLabel.IMPROVED


def test_no_response_without_a_visit_before_the_start_or_a_comparison() -> None:
    early = Course("Peel", "", dt.date(2020, 1, 1))
    r = course_response(early, P.comparison())
    assert r.changes == () and "on or before" in r.reason
    r = course_response(COURSE, P.not_comparable())
    assert r.changes == () and r.reason


def test_course_checks_itself() -> None:
    with pytest.raises(ValueError, match="name"):
        Course(" ", "", dt.date(2024, 1, 1))
    with pytest.raises(ValueError, match="sessions"):
        Course("x", "", dt.date(2024, 1, 1), 0)


def test_store_keeps_courses_per_patient(tmp_path: Path) -> None:
    with JobStore(tmp_path / "db.sqlite3") as store:
        store.add_course("ID7", "", COURSE)
        store.add_course("ID7", "", Course("Peel", "", dt.date(2024, 9, 1)))
        store.add_course("OTHER", "", Course("Other", "", dt.date(2024, 1, 1)))
        assert [c.name for c in store.patient_courses("ID7")] == ["Laser toning", "Peel"]
        assert store.active_course("ID7", "", dt.date(2024, 6, 1)) == COURSE
        assert store.active_course("ID7", "", dt.date(2024, 10, 1)).name == "Peel"  # type: ignore[union-attr]
        assert store.active_course("ID7", "", dt.date(2023, 1, 1)) is None
        assert store.active_course("ID7", "ISSUER", dt.date(2024, 6, 1)) is None
        with pytest.raises(ValueError, match="patient_id"):
            store.add_course(" ", "", COURSE)


def test_course_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"node:\n  storage_dir: {tmp_path / 'var'}\n", encoding="utf-8")
    args = ["course", "add", "ID7", "--name", "Laser toning", "--start", "2024-03-01"]
    assert main([*args, "--sessions", "10", "--config", str(cfg)]) == 0
    assert "recorded" in capsys.readouterr().out
    assert main(["course", "list", "ID7", "--config", str(cfg)]) == 0
    assert "2024-03-01  Laser toning" in capsys.readouterr().out
    assert main(["course", "list", "NOBODY", "--config", str(cfg)]) == 1
    bad = ["course", "add", "ID7", "--name", "x", "--start", "March", "--config", str(cfg)]
    assert main(bad) == 2
