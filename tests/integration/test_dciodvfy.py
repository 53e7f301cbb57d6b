"""Every output object passes dciodvfy with zero errors; dsrdump prints the SR tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from analysis.treatment import Condition, Priority, Rule, evaluate
from integrations.outputs import write_outputs
from integrations.progress_view import PriorView
from tests.peers import require_binary
from tests.unit.integrations import fakes, progress_fakes

pytestmark = pytest.mark.integration

#: The only warnings allowed, each justified in docs/dicom-conformance.md.
ALLOWED_WARNINGS = (
    re.compile(
        r"Unrecognized defined term <99DRMN> for value 1 of attribute <Coding Scheme Designator>"
    ),
    re.compile(r"is only permitted to be empty when actually unknown.*attribute <Laterality>"),
)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out_dir = tmp_path_factory.mktemp("vfy")
    out = write_outputs(fakes.analysis_result(), fakes.sources(), out_dir, secondary_capture=True)
    utf8 = write_outputs(
        fakes.analysis_result(), fakes.sources(charset="ISO_IR 192"), out_dir / "utf8"
    )
    progress = write_outputs(
        fakes.analysis_result(),
        fakes.sources(),
        out_dir / "progress",
        progress=[PriorView(progress_fakes.comparison()), None],
        # consult: the patient report's own Encapsulated PDF, and the SR's treatment items
        patient_languages=("ko",),
        treatment=evaluate(
            (Rule("r1", "oil", "t", Priority.HIGH, (Condition(score="oil", above=1),)),),
            fakes.analysis_result(),
        ),
    )
    not_compared = write_outputs(
        fakes.analysis_result(),
        fakes.sources(),
        out_dir / "not-compared",
        progress=[PriorView(progress_fakes.not_comparable()), None],
    )
    # issue 13: a 3-view study with study-level groups (one per zone, from the best view)
    study = write_outputs(
        fakes.three_view_result(),
        [fakes.source_dataset(i, view=v) for i, v in enumerate(("frontal", "left", "right"))],
        out_dir / "study",
    )
    out["progress_sr"] = progress["sr"]
    out["study_sr"] = study["sr"]
    out["all"] = sorted(str(p) for p in out_dir.rglob("*.dcm"))
    assert utf8["sr"] in out["all"] and progress["sr"] in out["all"]
    assert not_compared["sr"] in out["all"]
    return out


def _dciodvfy(path: str) -> list[str]:
    exe = require_binary("dciodvfy")
    proc = subprocess.run([exe, path], capture_output=True, text=True, check=False)
    return (proc.stdout + proc.stderr).splitlines()


def test_all_objects_written(outputs: dict[str, object]) -> None:
    names = sorted(Path(p).name for p in outputs["all"])  # type: ignore[attr-defined]
    assert names.count("sr.dcm") == 5 and "sc-1.dcm" in names and "report.dcm" in names
    assert "patient-report.dcm" in names


def test_zero_errors_and_only_justified_warnings(outputs: dict[str, object]) -> None:
    for path in outputs["all"]:  # type: ignore[attr-defined]
        lines = _dciodvfy(path)
        errors = [line for line in lines if line.startswith("Error")]
        assert errors == [], f"{Path(path).name}: {errors}"
        warnings = [line for line in lines if line.startswith("Warning")]
        unexpected = [w for w in warnings if not any(p.search(w) for p in ALLOWED_WARNINGS)]
        assert unexpected == [], f"{Path(path).name}: {unexpected}"


def _dsrdump(path: object) -> str:
    exe = require_binary("dsrdump")
    proc = subprocess.run(
        [exe, str(path)], capture_output=True, check=True, encoding="utf-8", errors="replace"
    )
    return proc.stdout


def test_dsrdump_prints_the_tree(outputs: dict[str, object]) -> None:
    tree = _dsrdump(outputs["sr"])
    assert 'CONTAINER:(,,"Imaging Measurement Report")' in tree
    assert '"Tracking Identifier")="frontal/cheek_left"' in tree
    assert '"Finding Site")=(36141000,SCT,"Skin of cheek")' in tree
    assert '"Laterality")=(7771000,SCT,"Left")' in tree
    assert 'NUM:(,,"Pore count")="62.0" ({count},UCUM,"count")' in tree
    assert '(NOT-ASSESSED,99DRMN,"Not assessed")' in tree
    assert '"Referenced Segmentation Frame")' in tree
    # every tracked region (two groups: values + SEG reference, outline) has its outline
    outlines = tree.count('SCOORD:(,,"Image Region")=(POLYLINE,')
    assert outlines > 0 and 2 * outlines == tree.count('"Tracking Identifier")=')
    assert '<selected from IMAGE:(,,"Source")=(VLp image,)>' in tree


def test_dsrdump_prints_the_progress_content(outputs: dict[str, object]) -> None:
    tree = _dsrdump(outputs["progress_sr"])
    assert '"Compared with earlier visits")=(373066001,SCT,"Yes")' in tree
    assert 'has properties NUM:(,,"Change since previous visit")="-8.0" ({count}' in tree
    assert '"Change since previous visit verdict")=(CHG-IMPROVED,99DRMN,"Improved")' in tree
    assert 'UIDREF:(,,"Previous visit SR SOP Instance UID")' in tree


def test_dsrdump_prints_the_study_level_groups(outputs: dict[str, object]) -> None:
    tree = _dsrdump(outputs["study_sr"])
    assert '"Tracking Identifier")="study/cheek_left"' in tree
    assert '(FIND-STUDY,99DRMN,"Study-level zone values (best view)")' in tree
    assert '"View the study-level values come from")=(VIEW-LEFT,99DRMN,' in tree
    assert '"The views disagree about")=(PIG-SPOT-N,99DRMN,"Brown spot count")' in tree
    assert 'NUM:(,,"Brown spot count")="21.0" ({count},UCUM,"count")' in tree
