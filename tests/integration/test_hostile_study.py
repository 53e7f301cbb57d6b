"""One study, several hostile photos: each bad photo is reported, the others get results.

The study holds a good face photo and photos with a malformed birth date, a Patient's Name
sent as a sequence, a 70 000-character name, invalid IS/DS values and a 20000 x 20000
JPEG bomb. The worker (real engine, CPU) must finish the study (``encoded``), report the bomb
as not usable with the limit as reason, analyse the rest, and write SR, SEG and PDF; no
sentinel value may reach the log at DEBUG.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from analysis.pipeline import Analyzer
from config.settings import Settings
from dicom_node import setup
from dicom_node.store import InstanceRecord, JobStore, StudyState
from dicom_node.worker import AnalysisWorker
from tests import hostile as H

pytestmark = pytest.mark.integration

STUDY = "1.2.826.0.1.3680043.8.498.1414"


def _settings(tmp: Path) -> Settings:
    return Settings(
        node={"storage_dir": str(tmp / "var"), "min_free_disk_mb": 0},  # type: ignore[arg-type]
        sources=[{"ae_title": "PACS"}],  # type: ignore[list-item]
        destinations=[{"name": "archive", "kind": "folder", "folder": str(tmp / "pacs")}],  # type: ignore[list-item]
        hl7=[{"name": "emr", "kind": "folder", "folder": str(tmp / "emr")}],  # type: ignore[list-item]
        analysis={"device": "cpu", "workers": 1},  # type: ignore[arg-type]
    )


def _photos() -> dict[str, bytes]:
    rgb = H.photo(256)

    def one() -> Dataset:
        ds = H.jpeg(rgb)
        ds.StudyInstanceUID = STUDY
        return ds

    good = one()
    birth = one()
    birth.PatientBirthDate = H.SENTINEL_BIRTH
    name_sq = one()
    name_sq.add_new(0x00100010, "SQ", Sequence([Dataset()]))
    long_name = one()
    long_name.PatientName = ("PHI^SENTINEL" * 6000)[:70_000]
    out = {
        "good": H.quiet(H.to_bytes)(good),
        "birth": H.quiet(H.to_bytes)(birth),
        "name_sq": H.quiet(H.to_bytes)(name_sq),
        "long_name": H.quiet(H.to_bytes)(long_name),
    }
    values = pydicom.dcmread(io.BytesIO(H.invalid_ds_is(rgb)))
    raw = H.invalid_ds_is(rgb).replace(
        str(values.StudyInstanceUID).encode(),
        STUDY.encode().ljust(len(str(values.StudyInstanceUID)), b"\0"),
    )
    out["invalid_is_ds"] = raw
    bomb = pydicom.dcmread(io.BytesIO(H.jpeg_bomb()))
    bomb.StudyInstanceUID = STUDY
    out["bomb"] = H.quiet(H.to_bytes)(bomb)
    return out


def _record(store: JobStore, name: str, data: bytes, folder: Path, n: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.dcm"
    path.write_bytes(data)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    uid = str(ds.SOPInstanceUID)
    store.add_instance(
        InstanceRecord(
            sop_instance_uid=uid,
            study_instance_uid=STUDY,
            series_instance_uid=str(ds.SeriesInstanceUID),
            sop_class_uid=H.VL_PHOTO,
            transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
            path=str(path),
            size=len(data),
            received_at=time.time(),
            calling_ae="PACS",
            called_ae="DERMNODE",
            series_number=1,
            instance_number=n,
            patient_id="HOSTILE-1",
        )
    )
    return uid


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "var" / "dermnode.sqlite3", _settings(tmp_path).delivery) as s:
        yield s


def test_bad_photos_are_reported_and_the_rest_of_the_study_gets_results(
    tmp_path: Path, store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    setup.apply()
    cfg = _settings(tmp_path)
    uids = {
        name: _record(store, name, data, tmp_path / "spool", i + 1)
        for i, (name, data) in enumerate(_photos().items())
    }
    study = store.get_study(STUDY)
    assert study is not None
    assert store.transition(study.id, StudyState.READY, from_states=[StudyState.RECEIVED])
    with caplog.at_level(logging.DEBUG):
        outcome = AnalysisWorker(store, cfg, tmp_path / "var", Analyzer("cpu")).run(study.id)
    assert outcome.state is StudyState.ENCODED
    assert outcome.images == len(uids)
    done = store.get_study(study.id)
    assert done is not None and done.result_path is not None
    doc = json.loads((Path(done.result_path) / "result.json").read_text())
    by_source = {img["source"]: img for img in doc["images"]}
    bomb = by_source[uids["bomb"]]["quality"]
    assert bomb["usable"] is False and "max_image_pixels" in bomb["issues"][0]["message"]
    for name in ("good", "birth", "name_sq", "long_name", "invalid_is_ds"):
        issues = by_source[uids[name]]["quality"]["issues"]
        assert all(i["code"] != "undecodable" for i in issues), (name, issues)
    assert Path(doc["outputs"]["sr"]).exists() and Path(doc["outputs"]["pdf"]).exists()
    births = {str(pydicom.dcmread(p).get("PatientBirthDate", "")) for p in doc["outputs"]["seg"]}
    assert H.SENTINEL_BIRTH not in births
    assert "SENTINEL" not in caplog.text and H.SENTINEL_BIRTH not in caplog.text
