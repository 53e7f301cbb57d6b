"""Orthanc, as the hospital PACS, sends a study to DermNode (C-STORE) and C-ECHOes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import JPEGBaseline8Bit

from tests.dicomdata import DERMOSCOPIC, VL_PHOTOGRAPHIC, make_image, save, write_all_syntaxes
from tests.orthanc import Orthanc, OrthancError
from tests.scp_helpers import running_node

pytestmark = pytest.mark.integration


def test_orthanc_sends_a_study_to_dermnode(tmp_path: Path, orthanc_server: Orthanc) -> None:
    study = "1.2.826.0.1.3680043.8.498.77"
    files = [
        save(
            make_image(VL_PHOTOGRAPHIC, study_uid=study, rows=48, cols=64, seed=1),
            tmp_path / "a.dcm",
        ),
        save(
            make_image(DERMOSCOPIC, study_uid=study, rows=32, cols=32, seed=2), tmp_path / "b.dcm"
        ),
    ]
    files += write_all_syntaxes(
        lambda: make_image(VL_PHOTOGRAPHIC, study_uid=study), tmp_path / "jpeg", [JPEGBaseline8Bit]
    ).values()
    uids = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files}
    sources = [{"ae_title": orthanc_server.aet, "host": "127.0.0.1"}]
    with running_node(tmp_path / "node", sources=sources) as node:
        orthanc_server.add_modality("dermnode", "DERMNODE", "127.0.0.1", node.port)
        ids = [orthanc_server.upload(f)["ParentStudy"] for f in files]
        assert len(set(ids)) == 1
        echo = orthanc_server.rest("POST", "/modalities/dermnode/echo", {})
        assert echo in ({}, b"")  # Orthanc answers an empty object on Success
        job = orthanc_server.rest(
            "POST", "/modalities/dermnode/store", {"Resources": [ids[0]], "Synchronous": True}
        )
        assert job["FailedInstancesCount"] == 0
        assert job["InstancesCount"] == len(files)
        got = {r.sop_instance_uid: r for r in node.store.instances_of(study)}
        assert set(got) == uids
        assert {r.calling_ae for r in got.values()} == {"ORTHANC"}
        jpeg = [r for r in got.values() if r.transfer_syntax_uid == JPEGBaseline8Bit]
        assert len(jpeg) == 1  # Orthanc sent the JPEG as stored; DermNode kept it so
        study_row = node.store.get_study(study)
        assert study_row is not None and study_row.instance_count == len(files)


def test_dermnode_rejects_orthanc_when_not_a_source(
    tmp_path: Path, orthanc_server: Orthanc
) -> None:
    with running_node(tmp_path / "node") as node:  # only TESTSCU is a source
        orthanc_server.add_modality("dermnode", "DERMNODE", "127.0.0.1", node.port)
        with pytest.raises(OrthancError) as err:
            orthanc_server.rest("POST", "/modalities/dermnode/echo", {})
        assert err.value.status >= 400
        assert node.store.count_instances() == 0
