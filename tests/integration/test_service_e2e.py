"""``dermnode serve`` end to end with real peers on loopback.

Orthanc (the PACS) is told over its REST API to send a 3-view study to DermNode; DermNode
analyses it and C-STOREs the SR, SEG and PDF back into the same study in Orthanc, then sends
the ORU^R01 to an independent MLLP implementation (python-hl7's server) acting as the EMR.
"""

from __future__ import annotations

import io
import json
import signal
import urllib.request
from pathlib import Path

import pydicom
import pytest

from dicom_node.demo import make_sample_files
from tests.integration.service_helpers import (
    db_outbox,
    db_study,
    emr_peer,
    orthanc_destination,
    orthanc_results,
    scores_of,
    send_from_orthanc,
    serve_config,
    study_uid_of,
    wait_until,
)
from tests.orthanc import Orthanc
from tests.peers import free_port
from tests.scp_helpers import serve_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_orthanc_study_comes_back_with_sr_seg_pdf_and_the_emr_gets_the_oru(
    tmp_path: Path, orthanc_server: Orthanc
) -> None:
    pacs = orthanc_server
    files = make_sample_files(tmp_path / "sent")
    sent = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    study_uid = str(sent[0].StudyInstanceUID)
    sent_uids = {str(ds.SOPInstanceUID) for ds in sent}
    storage = tmp_path / "var"
    port, http_port = free_port(), free_port()
    with emr_peer() as emr:
        cfg = serve_config(
            storage,
            port=port,
            http_port=http_port,
            sources=[{"ae_title": pacs.aet, "host": "127.0.0.1"}],
            destinations=[orthanc_destination(pacs)],
            hl7_port=emr.port,
        )
        proc = serve_process(cfg, tmp_path / "node.yaml", tmp_path / "node.log")
        try:
            pacs.add_modality("dermnode", "DERMNODE", "127.0.0.1", port)
            send_from_orthanc(pacs, files, "dermnode")
            wait_until(
                lambda: (db_study(storage, study_uid) or {}).get("state") == "notified",
                240,
                "the study to be notified",
                poll_s=0.2,
            )
            with urllib.request.urlopen(  # noqa: S310 (loopback)
                f"http://127.0.0.1:{http_port}/metrics", timeout=10
            ) as r:
                metrics = r.read().decode()
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=60)
        accepted = emr.accepted(study_uid)
        messages = emr.messages_for(study_uid)
    assert rc == 0

    # -- the PACS: the original photos plus new series with SR, SEG and the PDF ----------
    got = orthanc_results(pacs, study_uid)
    assert sorted(got.by_modality["XC"]) == sorted(sent_uids)
    assert len(got.by_modality["SR"]) == 1
    # the clinician report and the patient report (report.patient_report is on by default)
    assert len(got.by_modality["DOC"]) == 2
    (orthanc_study,) = pacs.rest(
        "POST", "/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": study_uid}}
    )
    docs = {
        s["MainDicomTags"].get("SeriesDescription", "")
        for s in pacs.rest("GET", f"/studies/{orthanc_study}/series")
        if s["MainDicomTags"].get("Modality") == "DOC"
    }
    assert docs == {"DermNode report", "DermNode patient report"}
    assert len(got.by_modality["SEG"]) >= len(files)  # one per photo (+ maps)
    result_series = {s for s, m in got.series.items() if m in ("SR", "SEG", "DOC")}
    assert result_series.isdisjoint({str(ds.SeriesInstanceUID) for ds in sent})
    outbox = db_outbox(storage, study_uid)
    dicom_refs = sorted(r["payload_ref"] for r in outbox if r["kind"] == "dicom")
    assert sorted(got.uids("SR", "SEG", "DOC")) == dicom_refs  # exactly what was queued
    assert all(r["state"] == "delivered" for r in outbox)

    sr_id = pacs.rest(
        "POST",
        "/tools/find",
        {"Level": "Instance", "Query": {"SOPInstanceUID": got.by_modality["SR"][0]}},
    )[0]
    sr = pydicom.dcmread(io.BytesIO(pacs.rest("GET", f"/instances/{sr_id}/file")))
    assert sr.StudyInstanceUID == study_uid
    evidence = {
        str(item.ReferencedSOPInstanceUID)
        for ev in sr.CurrentRequestedProcedureEvidenceSequence
        for series in ev.ReferencedSeriesSequence
        for item in series.ReferencedSOPSequence
    }
    # the photos and the segmentations made from them, nothing of another study
    assert sent_uids <= evidence
    assert evidence - sent_uids <= set(got.by_modality["SEG"])

    # -- the EMR: one accepted ORU with the study's UID, the SR UID and the scores -------
    assert len(set(accepted)) == 1 and len(messages) >= 1
    oru = messages[-1]
    assert str(oru.segment("MSH")(9)) == "ORU^R01^ORU_R01"
    assert study_uid_of(oru) == study_uid
    obx = {str(s(3)(1)(1)): str(s(5)) for s in oru if str(s[0]) == "OBX"}
    assert obx["sr.sop_instance_uid"] == got.by_modality["SR"][0]
    study = db_study(storage, study_uid)
    assert study is not None
    result = json.loads((Path(study["result_path"]) / "result.json").read_text())
    expected = {
        (str(n), concern): value
        for n, image in enumerate(result["images"], 1)
        if image["quality"]["usable"]
        for concern, value in image["scores"].items()
    }
    assert expected, "the demo study has usable photos with scores"
    scores = scores_of(oru)
    assert scores.keys() == expected.keys()
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=0.051), key

    assert 'dermnode_studies{state="notified"} 1' in metrics
    assert 'dermnode_outbox{kind="hl7",state="delivered"} 1' in metrics
    log = (tmp_path / "node.log").read_text(errors="replace")
    assert "DEMO^PATIENT" not in log and "DEMO-0001" not in log
