"""Clinic norms: percentiles among the clinic's own earlier patients of the same sex and age
band, only with at least 30 of them (results index, pure percentile, age bands)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analysis.scores import compute_scores
from analysis.treatment import NORMS_MINIMUM, clinic_norms
from analysis.types import Measurement
from dicom_node.progress_link import age_band
from dicom_node.store import DB_FILENAME, JobStore, ResultRow, StudyState
from tests.unit.dicom_node.test_progress_index import _study


def test_age_band() -> None:
    on = dt.date(2025, 1, 2)
    assert age_band("19850412", on) == "30-39"
    assert age_band("19850102", on) == "40-49"  # the birthday counts
    assert age_band("", on) == "" and age_band("1985", on) == "" and age_band("20300101", on) == ""


def test_not_enough_patients_gives_no_percentile() -> None:
    cohort = [{"pores": float(i)} for i in range(NORMS_MINIMUM - 1)]
    norms = clinic_norms({"pores": 10.0}, cohort, patient_sex="F", age_band="30-39")
    assert norms.percentiles == {} and norms.patients == 29
    assert "not enough" in norms.reason and "29 < 30" in norms.reason
    unknown = clinic_norms({"pores": 10.0}, cohort * 2, patient_sex="", age_band="30-39")
    assert unknown.percentiles == {} and "unknown" in unknown.reason


def test_percentile_is_the_mid_rank() -> None:
    cohort = [{"pores": float(i), "oil": 50.0} for i in range(30)]  # 0..29
    norms = clinic_norms(
        {"pores": 15.0, "oil": 50.0, "redness": 3.0}, cohort, patient_sex="F", age_band="30-39"
    )
    assert norms.percentiles["pores"] == pytest.approx(100 * 15.5 / 30)
    assert norms.percentiles["oil"] == pytest.approx(50.0)  # all equal: the middle
    assert "redness" not in norms.percentiles  # nobody else has it
    doc = norms.to_json()
    assert doc["patients"] == 30 and "this clinic's own" in doc["population"]


def _row(uid: str, patient: str, sex: str, band: str, value: float, view: str = "frontal"):
    return ResultRow(
        study_instance_uid=uid,
        result_set="a",
        patient_id=patient,
        issuer_of_patient_id="",
        study_date="20240101",
        view=view,
        source_sop_instance_uid=f"{uid}.1",
        region="face",
        key="oil.shine_area_pct",
        value=value,
        unit="%",
        algorithm_version="0.1.0",
        patient_sex=sex,
        age_band=band,
    )


def test_cohort_from_the_results_index(tmp_path: Path) -> None:
    with JobStore(tmp_path / DB_FILENAME) as store:
        for i in range(32):
            uid = f"1.2.{i}"
            sid = _study(store, uid, StudyState.DELIVERED)
            store.record_results(sid, [_row(uid, f"P{i}", "F", "30-39", float(i))])
        # others that must not count: another sex, band, view, an undelivered study, the patient
        for uid, patient, sex, band, view, state in (
            ("1.3.1", "M1", "M", "30-39", "frontal", StudyState.DELIVERED),
            ("1.3.2", "O1", "F", "40-49", "frontal", StudyState.DELIVERED),
            ("1.3.3", "L1", "F", "30-39", "left", StudyState.DELIVERED),
            ("1.3.4", "U1", "F", "30-39", "frontal", StudyState.FAILED),
        ):
            sid = _study(store, uid, state)
            store.record_results(sid, [_row(uid, patient, sex, band, 99.0, view)])
        cohort = store.cohort_results("F", "30-39", "frontal", exclude_patient=("P0", ""))
        assert set(cohort) == {(f"P{i}", "") for i in range(1, 32)}
        scores = [
            compute_scores([Measurement(r.key, r.region, r.value, r.unit) for r in rows])
            for rows in cohort.values()
        ]
        median = sorted(s["oil"] for s in scores)[15]  # 15 below, itself equal: mid-rank
        norms = clinic_norms({"oil": median}, scores, patient_sex="F", age_band="30-39")
        assert norms.patients == 31
        assert norms.percentiles["oil"] == pytest.approx(100 * 15.5 / 31)
        assert store.cohort_results("", "30-39", "frontal", exclude_patient=("P0", "")) == {}
