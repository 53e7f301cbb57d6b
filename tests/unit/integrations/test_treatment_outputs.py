"""Treatment-planning support in the outputs: the ORU rows (strictly validated, parsed back by
python-hl7), the SR items with the rule ids, and the clinician report's page (pdftotext)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hl7apy.validation import Validator
from pydicom import Dataset, dcmread

from analysis.treatment import NOTE, Condition, Priority, Rule, TreatmentSupport, evaluate
from integrations.hl7.oru import build_oru
from integrations.outputs import write_outputs
from tests.peers import require_binary
from tests.unit.integrations import fakes, hl7_fakes

_RULES = (
    Rule(
        "clinic.oil",
        "oil",
        "Shine: discuss oil-control care",
        Priority.LOW,
        (Condition(score="oil", above=5),),
    ),
    Rule(
        "clinic.red-cheek",
        "redness",
        "Redness: discuss anti-redness options",
        Priority.HIGH,
        (Condition(measurement="redness.erythema_index", zones=("cheek_left",), above=14.9),),
    ),
    Rule(
        "clinic.never",
        "pores",
        "never raised",
        Priority.HIGH,
        (Condition(score="pores", above=1000),),
    ),
)


def _obx(text: str) -> list[list[str]]:
    """Per OBX: [OBX-2, OBX-3.1, OBX-4, OBX-5 first component, OBX-5 second component]."""
    out = []
    for seg in hl7.parse(text):
        if str(seg[0]) == "OBX":
            value = str(seg[5]).split("^")
            out.append(
                [
                    str(seg[2]),
                    str(seg[3]).split("^")[0],
                    str(seg[4]),
                    value[0],
                    value[1:2][0] if len(value) > 1 else "",
                ]
            )
    return out


def test_oru_rows_carry_the_topics_ranked_with_rule_ids() -> None:
    result = hl7_fakes.result(hl7_fakes.image())
    support = evaluate(
        (
            Rule(
                "clinic.oil",
                "oil",
                "Shine: discuss oil-control care",
                Priority.LOW,
                (Condition(score="oil", above=0),),
            ),
            Rule(
                "clinic.red",
                "redness",
                "Redness: discuss options",
                Priority.HIGH,
                (Condition(score="redness", above=0),),
            ),
        ),
        result,
    )
    msg = build_oru(
        result,
        hl7_fakes.study(),
        hl7_fakes.endpoint(),
        control_id="CTRL0003",
        sr_uid=None,
        seg_uids=(),
        pdf=None,
        observed_at=hl7_fakes.OBSERVED_AT,
        treatment=support,
    )
    reparsed = parse_message(msg.text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert Validator.validate(reparsed) is True
    rows = [r for r in _obx(msg.text) if r[1].startswith("treatment.")]
    assert rows[0][1:4] == ["treatment.note", "", NOTE]
    by = {(r[1], r[2]): r for r in rows}
    # rank: the high-priority redness topic first
    assert by[("treatment.topic", "tx.1")][3] == "Redness: discuss options"
    assert by[("treatment.rule", "tx.1")][3] == "clinic.red"
    assert by[("treatment.priority", "tx.1")][0] == "CE"
    assert by[("treatment.priority", "tx.1")][3:] == ["high", "High priority topic"]
    assert by[("treatment.concern", "tx.1")][3] == "redness"
    assert "score redness > 0" in by[("treatment.trigger", "tx.1")][3]
    assert by[("treatment.rule", "tx.2")][3] == "clinic.oil"
    # without support: no treatment rows at all
    plain = build_oru(
        result,
        hl7_fakes.study(),
        hl7_fakes.endpoint(),
        control_id="CTRL0004",
        sr_uid=None,
        seg_uids=(),
        pdf=None,
        observed_at=hl7_fakes.OBSERVED_AT,
    )
    assert "treatment." not in plain.text


def _items(ds: Dataset) -> Iterator[Dataset]:
    for item in getattr(ds, "ContentSequence", []):
        yield item
        yield from _items(item)


def _name(item: Dataset) -> str:
    return (
        str(item.ConceptNameCodeSequence[0].CodeValue) if "ConceptNameCodeSequence" in item else ""
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict:
    support = evaluate(_RULES, fakes.analysis_result(), rule_set="Clinic test rules")
    out = tmp_path_factory.mktemp("tx")
    return write_outputs(fakes.analysis_result(), fakes.sources(), out, treatment=support)


def test_sr_items_name_the_rules(written: dict) -> None:
    sr = dcmread(written["sr"])
    topics = [i for i in _items(sr) if _name(i) == "TX-TOPIC"]
    assert len(topics) == 2  # the rule that did not fire is absent
    first = {_name(c): c for c in topics[0].ContentSequence}
    assert first["TX-RULE"].TextValue == "clinic.red-cheek"
    assert first["TX-CONCERN"].TextValue == "redness"
    assert topics[0].ConceptCodeSequence[0].CodeValue == "TX-PRI-HIGH"
    assert "cheek_left" in first["TX-TRIGGER"].TextValue and "= 15" in first["TX-TRIGGER"].TextValue
    assert {_name(c) for c in topics[1].ContentSequence} >= {"TX-RULE", "TX-CONCERN"}
    support = [i for i in _items(sr) if _name(i) == "TX-SUPPORT"]
    assert len(support) == 1
    texts = [c.TextValue for c in support[0].ContentSequence]
    assert texts[0] == NOTE and "Clinic test rules" in texts[1]


def test_sr_without_rules_has_no_topics(tmp_path: Path) -> None:
    out = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path)
    assert not [i for i in _items(dcmread(out["sr"])) if _name(i).startswith("TX-")]


def test_clinician_report_page(written: dict) -> None:
    exe = require_binary("pdftotext")
    text = subprocess.run(
        [exe, "-layout", written["pdf"], "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Topics for the consultation" in text
    assert "not a diagnosis and not a prescription" in text
    assert "clinic.red-cheek" in text and "Redness: discuss anti-redness options" in text
    assert "never raised" not in text


def test_support_type() -> None:
    assert isinstance(evaluate((), fakes.analysis_result()), TreatmentSupport)


# --------------------------------------------------------------------------- treatment course


def test_course_rows_in_the_oru() -> None:
    import datetime as dt

    from analysis.treatment import Course, course_response
    from tests.unit.integrations import progress_fakes as P

    response = course_response(
        Course("Laser toning", "1064 nm", dt.date(2024, 3, 1)), P.comparison()
    )
    msg = build_oru(
        hl7_fakes.result(hl7_fakes.image()),
        hl7_fakes.study(),
        hl7_fakes.endpoint(),
        control_id="CTRL0005",
        sr_uid=None,
        seg_uids=(),
        pdf=None,
        observed_at=hl7_fakes.OBSERVED_AT,
        course=[response],
    )
    reparsed = parse_message(msg.text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert Validator.validate(reparsed) is True
    rows = {(r[1], r[2]): r for r in _obx(msg.text)}
    assert rows[("course.name", "1")][3] == "Laser toning (1064 nm)"
    assert (
        rows[("course.start_date", "1")][:1] == ["DT"]
        and rows[("course.start_date", "1")][3] == "20240301"
    )
    assert rows[("course.baseline_date", "1")][3] == "20240110"
    change = rows[("pigmentation.ita_deg.course_change", "1.face")]
    assert change[0] == "NM" and float(change[3]) == pytest.approx(0.2)
    assert rows[("pigmentation.ita_deg.course_label", "1.face")][3] == "stable"


def test_course_page_in_the_clinician_report(tmp_path: Path) -> None:
    import datetime as dt

    from analysis.treatment import Course, course_response
    from integrations.progress_view import PriorView
    from integrations.report import render_report
    from integrations.study import StudyInfo
    from tests.unit.integrations import progress_fakes as P

    comparison = P.comparison()
    response = course_response(
        Course("Laser toning", "1064 nm", dt.date(2024, 3, 1), 8), comparison
    )
    pdf = render_report(
        fakes.analysis_result(),
        StudyInfo.from_dataset(fakes.sources()[0]),
        [fakes.photo_pixels(0), None],
        progress=[PriorView(comparison), None],
        course=[response, None],
    )
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    exe = require_binary("pdftotext")
    text = subprocess.run(
        [exe, "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Treatment course: Laser toning" in text
    assert "began 2024-03-01, 8 sessions planned" in text
    assert "visit of 2024-01-10" in text


def test_clinic_norms_beside_the_scores(tmp_path: Path) -> None:
    from analysis.treatment import clinic_norms
    from integrations.report import render_report

    cohort = [{c: float(i) for c in ("pigmentation", "oil")} for i in range(40)]
    scores = fakes.image_result(0).scores  # pigmentation 10, ..., oil 60
    enough = clinic_norms(scores, cohort, patient_sex="F", age_band="30-39")
    few = clinic_norms(scores, cohort[:5], patient_sex="F", age_band="30-39")
    exe = require_binary("pdftotext")
    texts = []
    for norms in (enough, few):
        path = tmp_path / "n.pdf"
        path.write_bytes(render_report(fakes.analysis_result(), None, None, norms=[norms, None]))
        texts.append(
            subprocess.run(
                [exe, "-layout", str(path), "-"], check=True, capture_output=True, text=True
            ).stdout
        )
    assert "P26" in texts[0]  # pigmentation 10 among 0..39: (10 + 0.5) / 40
    assert "this clinic's own earlier patients (F, age 30-39, n = 40)" in texts[0]
    assert "Clinic norms: not enough earlier patients" in texts[1] and "P26" not in texts[1]
