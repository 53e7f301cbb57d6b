"""Priors from a real PACS (Orthanc): C-FIND + C-GET of DermNode's SRs, values read back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from analysis.types import ALGORITHM_VERSION
from config.settings import DestinationSettings
from integrations.outputs import write_outputs
from integrations.priors import fetch_pacs_priors
from tests.orthanc import Orthanc, start_orthanc
from tests.peers import free_port
from tests.unit.integrations import fakes

pytestmark = pytest.mark.integration

DERMNODE_AE = "DERMNODE"
EARLIER_STUDY = "1.2.826.0.1.3680043.10.1410.7.1"
OTHER_PATIENT_STUDY = "1.2.826.0.1.3680043.10.1410.8.1"


def _source(study_uid: str, date: str, *, patient_id: str = "DRMN-0001") -> Dataset:
    ds = fakes.source_dataset(0)
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = study_uid + ".1"
    ds.SOPInstanceUID = study_uid + ".1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyDate = date
    ds.PatientID = patient_id
    return ds


def _store_visit(pacs: Orthanc, folder: Path, src: Dataset, *, with_sr: bool) -> str | None:
    folder.mkdir(parents=True)
    photo = folder / "photo.dcm"
    src.save_as(photo, enforce_file_format=True)
    pacs.upload(photo)
    if not with_sr:
        return None
    result = fakes.analysis_result(with_unusable=False)
    out = write_outputs(result, [src], folder / "out")
    pacs.upload(Path(out["sr"]))
    pacs.upload(Path(out["seg"][0]))
    return str(out["sr"])


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    folder = tmp_path_factory.mktemp("pacs")
    modalities = {"dermnode": (DERMNODE_AE, "127.0.0.1", free_port())}
    with start_orthanc(folder / "orthanc", modalities=modalities) as server:
        # the earlier visit (photo + DermNode SR + SEG), the current visit (photo + SR,
        # must be excluded) and another patient's study with photos only
        _store_visit(server, folder / "earlier", _source(EARLIER_STUDY, "20240601"), with_sr=True)
        _store_visit(server, folder / "current", _source(fakes.STUDY_UID, "20250102"), with_sr=True)
        _store_visit(
            server,
            folder / "other",
            _source(OTHER_PATIENT_STUDY, "20240301", patient_id="DRMN-0002"),
            with_sr=False,
        )
        yield server


def _dest(pacs: Orthanc) -> DestinationSettings:
    return DestinationSettings(
        name="pacs", ae_title=pacs.aet, host="127.0.0.1", port=pacs.dicom_port
    )


def test_values_read_back_from_orthanc_equal_those_written(pacs: Orthanc) -> None:
    visits = fetch_pacs_priors(
        _dest(pacs), DERMNODE_AE, "DRMN-0001", "TESTHOSP", exclude_study_uid=fakes.STUDY_UID
    )
    assert [v.study_uid for v in visits] == [EARLIER_STUDY]  # the current study is left out
    (visit,) = visits
    assert visit.study_date == dt.date(2024, 6, 1)
    assert visit.view == "frontal"
    assert visit.algorithm_version == ALGORITHM_VERSION
    expected = {
        (m.region, m.key): m.value
        for m in fakes.image_result(0).measurements
        if not m.key.startswith("quality.")
    }
    assert dict(visit.values) == pytest.approx(expected)
    assert visit.sr_instance_uid


def test_without_exclusion_both_visits_come_back_in_date_order(pacs: Orthanc) -> None:
    visits = fetch_pacs_priors(
        _dest(pacs), DERMNODE_AE, "DRMN-0001", "TESTHOSP", exclude_study_uid=None
    )
    assert [v.study_uid for v in visits] == [EARLIER_STUDY, fakes.STUDY_UID]


def test_a_patient_without_dermnode_srs_gives_nothing(pacs: Orthanc) -> None:
    assert (
        fetch_pacs_priors(_dest(pacs), DERMNODE_AE, "DRMN-0002", "", exclude_study_uid=None) == []
    )


def test_another_issuer_gives_nothing(pacs: Orthanc) -> None:
    visits = fetch_pacs_priors(
        _dest(pacs), DERMNODE_AE, "DRMN-0001", "OTHERHOSP", exclude_study_uid=None
    )
    assert visits == []
