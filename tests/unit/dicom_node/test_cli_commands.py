"""``dermnode jobs`` and ``dermnode echo`` without a network peer; the package exports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import dicom_node
from dicom_node.cli import main
from dicom_node.store import DB_FILENAME, FailureKind, InstanceRecord, JobStore


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "node": {"storage_dir": "var"},
                "destinations": [
                    {"name": "pacs", "ae_title": "NOBODY", "host": "127.0.0.1", "port": 9}
                ],
            }
        )
    )
    return cfg


def test_jobs_list_show_retry_print_no_patient_data(tmp_path: Path, capsys) -> None:
    cfg = _config(tmp_path)
    with JobStore(tmp_path / "var" / DB_FILENAME) as store:
        store.add_instance(
            InstanceRecord(
                sop_instance_uid="1.2.3.4",
                study_instance_uid="1.2.3",
                series_instance_uid="1.2.3.1",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
                transfer_syntax_uid="1.2.840.10008.1.2.1",
                path="/x",
                size=1,
                received_at=0,
                calling_ae="PACS",
                called_ae="DERM_DERMO",
                patient_id="PHISENTINELID",
            )
        )
        job = store.get_study("1.2.3")
        assert job is not None
        item = store.enqueue("dicom", "pacs", study_id=job.id)
        store.mark_failed(item, retryable=False, error="association rejected")
    assert main(["jobs", "--config", str(cfg), "list"]) == 0
    assert main(["jobs", "--config", str(cfg), "show", str(job.id)]) == 0
    out = capsys.readouterr().out
    assert "received" in out and "dead=1" in out and "association rejected" in out
    assert "called AE:          DERM_DERMO" in out
    assert main(["jobs", "--config", str(cfg), "retry", str(job.id)]) == 0
    out += capsys.readouterr().out
    assert "1 delivery(ies) re-queued" in out
    assert "SENTINEL" not in out
    assert main(["jobs", "--config", str(cfg), "show", "999"]) == 1
    with JobStore(tmp_path / "var" / DB_FILENAME) as store:
        assert store.transition(job.id, "analysing")
        store.recover_interrupted(3, "x")  # one crash while it was being analysed
        assert store.transition(job.id, "failed", failure_kind=FailureKind.DISK_FULL)
    assert main(["jobs", "--config", str(cfg), "show", str(job.id)]) == 0
    out = capsys.readouterr().out
    assert "interrupted runs:   1" in out and "waiting for:        disk_full" in out


# pynetdicom drops the socket of a refused connection without closing it (its bug).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_echo_unknown_and_unreachable_destination(tmp_path: Path, capsys) -> None:
    cfg = _config(tmp_path)
    assert main(["echo", "nope", "--config", str(cfg)]) == 2
    assert "unknown destination 'nope'" in capsys.readouterr().err
    assert main(["echo", "pacs", "--config", str(cfg)]) == 1  # nothing listens on port 9
    assert "NOBODY@127.0.0.1:9" in capsys.readouterr().out


def test_exports() -> None:
    for name in dicom_node.__all__:
        assert getattr(dicom_node, name) is not None
    assert dicom_node.JobStore.__name__ == "JobStore"
