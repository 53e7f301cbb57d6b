"""Reading DermNode's SR back into visit values (the PACS priors path), against what it wrote."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydicom import dcmread

from analysis.types import ALGORITHM_VERSION
from config.settings import DestinationSettings
from integrations.outputs import write_outputs
from integrations.priors import fetch_pacs_priors, is_dermnode_sr, read_visit_values
from integrations.progress_view import PriorView
from tests.unit.integrations import fakes
from tests.unit.integrations import progress_fakes as P


def _expected() -> dict[tuple[str, str], float]:
    """Every non-quality measurement of the usable frontal photo (the truth written)."""
    return {
        (m.region, m.key): m.value
        for m in fakes.image_result(0).measurements
        if not m.key.startswith("quality.")
    }


@pytest.fixture(scope="module")
def sr_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path_factory.mktemp("p"))
    return str(out["sr"])


def test_round_trip_values_equal_those_written(sr_path: str) -> None:
    ds = dcmread(sr_path)
    assert is_dermnode_sr(ds)
    (visit,) = read_visit_values(ds)  # the blurred left photo has quality keys only
    assert visit.view == "frontal"
    assert visit.study_date == dt.date(2025, 1, 2)
    assert visit.study_uid == fakes.STUDY_UID
    assert visit.algorithm_version == ALGORITHM_VERSION
    assert visit.sr_instance_uid == str(ds.SOPInstanceUID)
    assert dict(visit.values) == pytest.approx(_expected())
    assert visit.units["wrinkles.length_mm"] == "mm"
    assert visit.units["pores.density_per_cm2"] == "/cm2"
    assert visit.units["pigmentation.spots.count"] == "{count}"


def test_values_read_from_a_progress_sr_are_the_measurements_not_the_changes(
    tmp_path: Path,
) -> None:
    out = write_outputs(
        fakes.analysis_result(),
        fakes.sources(),
        tmp_path,
        progress=[PriorView(P.comparison()), None],
    )
    (visit,) = read_visit_values(dcmread(out["sr"]))
    assert dict(visit.values) == pytest.approx(_expected())


def test_sr_of_another_manufacturer_gives_nothing(sr_path: str) -> None:
    ds = dcmread(sr_path)
    ds.Manufacturer = "Other Vendor"
    assert not is_dermnode_sr(ds)
    assert read_visit_values(ds) == []


def test_sr_without_a_date_gives_nothing(sr_path: str) -> None:
    ds = dcmread(sr_path)
    ds.StudyDate = ""
    ds.ContentDate = ""
    assert read_visit_values(ds) == []


def test_fetch_refuses_a_folder_destination_and_empty_patient(tmp_path: Path) -> None:
    folder = DestinationSettings(name="f", kind="folder", folder=tmp_path)
    with pytest.raises(ValueError, match="dest"):
        fetch_pacs_priors(folder, "DERMNODE", "P1", "", exclude_study_uid=None)
    pacs = DestinationSettings(name="p", ae_title="PACS", host="127.0.0.1", port=104)
    with pytest.raises(ValueError, match="patient_id"):
        fetch_pacs_priors(pacs, "DERMNODE", " ", "", exclude_study_uid=None)
