"""The results index, priors per patient and ``dermnode history`` (issue 7)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from config.settings import load_settings
from dicom_node.history_cmd import format_history, history_command
from dicom_node.progress_link import visits_from_rows
from dicom_node.store import DB_FILENAME, InstanceRecord, JobStore, ResultRow, StudyState


def _study(store: JobStore, study_uid: str, state: StudyState) -> int:
    store.add_instance(
        InstanceRecord(
            sop_instance_uid=f"{study_uid}.1",
            study_instance_uid=study_uid,
            series_instance_uid=f"{study_uid}.9",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.77.1.4",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            path=f"/nonexistent/{study_uid}.dcm",
            size=1,
            received_at=1.0,
        )
    )
    rec = store.get_study(study_uid)
    assert rec is not None
    assert store.transition(rec.id, state)
    return rec.id


def _rows(
    study_uid: str, patient: str, date: str, spots: float, result_set: str = "a", version="0.1.0"
) -> list[ResultRow]:
    common = dict(
        study_instance_uid=study_uid,
        result_set=result_set,
        patient_id=patient,
        issuer_of_patient_id="HOSP",
        study_date=date,
        view="frontal",
        source_sop_instance_uid=f"{study_uid}.1",
        algorithm_version=version,
        sr_instance_uid=f"{study_uid}.77",
    )
    return [
        ResultRow(
            region="face", key="pigmentation.spots.count", value=spots, unit="{count}", **common
        ),
        ResultRow(region="face", key="pigmentation.ita_deg", value=40.0, unit="deg", **common),
    ]


@pytest.fixture
def store(tmp_path: Path):
    s = JobStore(tmp_path / DB_FILENAME)
    yield s
    s.close()


def test_priors_are_the_patients_delivered_newest_result_sets(store: JobStore) -> None:
    a = _study(store, "1.1", StudyState.NOTIFIED)
    b = _study(store, "1.2", StudyState.DELIVERED)
    c = _study(store, "1.3", StudyState.ANALYSING)  # not delivered: not a prior
    other = _study(store, "2.1", StudyState.NOTIFIED)
    store.record_results(a, _rows("1.1", "P1", "20260101", 20))
    store.record_results(b, _rows("1.2", "P1", "20260301", 15, result_set="old"))
    store.record_results(b, _rows("1.2", "P1", "20260301", 12, result_set="new"))  # re-opened
    store.record_results(c, _rows("1.3", "P1", "20260501", 5))
    store.record_results(other, _rows("2.1", "P2", "20260101", 99))
    assert store.record_results(a, _rows("1.1", "P1", "20260101", 20)) == 0  # idempotent

    rows = store.patient_results("P1", "HOSP", exclude_study_uid="1.9")
    assert {r.study_instance_uid for r in rows} == {"1.1", "1.2"}
    assert all(r.patient_id == "P1" for r in rows)
    assert store.patient_results("P1", "OTHER-ISSUER") == []
    visits = visits_from_rows(rows)
    assert [v.study_date for v in visits] == [dt.date(2026, 1, 1), dt.date(2026, 3, 1)]
    assert visits[1].values[("face", "pigmentation.spots.count")] == 12  # newest set only
    assert (
        store.patient_results("P1", "HOSP", exclude_study_uid="1.2")[0].study_instance_uid == "1.1"
    )


def test_history_prints_only_the_patients_trend(
    store: JobStore, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    a = _study(store, "1.1", StudyState.NOTIFIED)
    b = _study(store, "1.2", StudyState.NOTIFIED)
    other = _study(store, "2.1", StudyState.NOTIFIED)
    store.record_results(a, _rows("1.1", "P1", "20260101", 20))
    store.record_results(b, _rows("1.2", "P1", "20260301", 12))
    store.record_results(other, _rows("2.1", "P2", "20260201", 77))
    cfg = tmp_path / "node.yaml"
    cfg.write_text(f"node:\n  storage_dir: {tmp_path}\n")
    assert load_settings(cfg).node.storage_dir == tmp_path
    assert history_command("P1", "HOSP", str(cfg)) == 0
    out = capsys.readouterr().out
    assert "2026-01-01" in out and "2026-03-01" in out and "2026-02-01" not in out
    assert "77" not in out  # the other patient's value
    line = next(x for x in out.splitlines() if "pigmentation.spots.count" in x)
    assert line.split()[2:4] == ["20", "12"]
    assert history_command("NOBODY", "HOSP", str(cfg)) == 1


def test_history_says_when_versions_differ(store: JobStore) -> None:
    a = _study(store, "1.1", StudyState.NOTIFIED)
    b = _study(store, "1.2", StudyState.NOTIFIED)
    store.record_results(a, _rows("1.1", "P1", "20260101", 20, version="0.0.9"))
    store.record_results(b, _rows("1.2", "P1", "20260301", 12))
    text = format_history(visits_from_rows(store.patient_results("P1", "HOSP")))
    assert "not compared" in text and "0.0.9" in text
