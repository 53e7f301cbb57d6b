from __future__ import annotations

import base64
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hl7apy.validation import Validator

from analysis.keys import CONCERNS, NOT_ASSESSED
from integrations.errors import EncodingError
from integrations.hl7 import (
    FolderSink,
    OruMessage,
    ResultStatus,
    build_oru,
    result_status_for,
)
from integrations.hl7.oru import codec_for_charset
from tests.unit.integrations import hl7_fakes as F

SR_UID = "1.2.826.0.1.3680043.8.498.200"
SEG_UIDS = ("1.2.826.0.1.3680043.8.498.301", "1.2.826.0.1.3680043.8.498.302")
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"  # ~100 kB, binary


def build(
    result: Any = None,
    study: Any = None,
    endpoint: Any = None,
    *,
    pdf: bytes | None = None,
    status: ResultStatus | str | None = None,
    control_id: str = "CTRL0001",
) -> OruMessage:
    return build_oru(
        result if result is not None else F.result(),
        study if study is not None else F.study(),
        endpoint if endpoint is not None else F.endpoint(),
        control_id=control_id,
        sr_uid=SR_UID,
        seg_uids=SEG_UIDS,
        pdf=pdf,
        observed_at=F.OBSERVED_AT,
        result_status=status,
    )


def parsed(msg: OruMessage) -> hl7.Message:
    """Parse with python-hl7, an independent implementation."""
    return hl7.parse(msg.encode().decode(codec_for_charset(msg.charset)))


def obx_rows(msg: hl7.Message) -> list[hl7.Segment]:
    return [s for s in msg if str(s[0]) == "OBX"]


def rows_by_code(msg: hl7.Message) -> dict[str, list[hl7.Segment]]:
    out: dict[str, list[hl7.Segment]] = {}
    for s in obx_rows(msg):
        out.setdefault(str(s(3)(1)(1)), []).append(s)
    return out


def field(msg: hl7.Message, segment: str, number: int) -> str:
    return msg.unescape(str(msg.segment(segment)(number)))


def comp(msg: hl7.Message, segment: str, number: int, rep: int, component: int) -> str:
    return msg.unescape(str(msg.segment(segment)(number)(rep)(component)))


CASES = {
    "clean": lambda: build(),
    "warnings": lambda: build(F.result(F.image(warnings=("glare",)))),
    "unusable": lambda: build(F.result(F.image(usable=False, blocking=("blur", "no_face")))),
    "mixed": lambda: build(
        F.result(F.image(), F.image("2.25.1", usable=False, blocking=("blur",)))
    ),
    "pdf": lambda: build(endpoint=F.endpoint(include_pdf=True), pdf=PDF),
    "latin1": lambda: build(
        study=F.study(patient_name="Müller^José"), endpoint=F.endpoint(charset="8859/1")
    ),
    "korean": lambda: build(study=F.study(patient_name="Hong^Gildong=洪^吉洞=홍^길동")),
    "nasty": lambda: build(
        study=F.study(
            patient_name="O'Neil|Smith^Ann&Bo~Jo\\F\\",
            patient_id="ID|^~\\&1",
            issuer_of_patient_id="IS&SUER",
            accession_number="A^1",
            placer_order_number="P&1",
            filler_order_number="F~1",
        )
    ),
    "empty_optional": lambda: build(
        study=F.study(
            patient_name="",
            patient_birth_date="",
            patient_sex="",
            issuer_of_patient_id="",
            accession_number="",
            placer_order_number="",
            filler_order_number="",
            study_date="",
            study_time="",
        )
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hl7apy_strict_validation_passes(case: str) -> None:
    msg = CASES[case]()
    level = VALIDATION_LEVEL.STRICT if case != "pdf" else VALIDATION_LEVEL.TOLERANT
    # hl7apy's strict *parser* caps TX at 65536 characters, which an ED PDF exceeds; the
    # validator itself (structure, cardinality, datatypes) is the same for both levels.
    reparsed = parse_message(msg.text, validation_level=level, find_groups=True)
    assert Validator.validate(reparsed) is True
    assert reparsed.to_er7() + "\r" == msg.text
    assert reparsed.msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert reparsed.msh.msh_12.to_er7() == "2.5.1"


def test_header_and_patient_fields_match_the_study() -> None:
    msg = build()
    p = parsed(msg)
    assert field(p, "MSH", 3) == "DERMNODE"
    assert field(p, "MSH", 4) == "DERMCLINIC"
    assert field(p, "MSH", 5) == "EMR"
    assert field(p, "MSH", 6) == "HOSPITAL"
    assert field(p, "MSH", 7) == "20240517143005+0900"
    assert field(p, "MSH", 10) == "CTRL0001" == msg.control_id
    assert field(p, "MSH", 11) == "P"
    assert field(p, "MSH", 18) == "UNICODE UTF-8"
    assert comp(p, "PID", 3, 1, 1) == "PAT-0001"
    assert comp(p, "PID", 3, 1, 4) == "HOSP"
    # DICOM Family^Given^Middle^Prefix^Suffix -> XPN Family^Given^Middle^Suffix^Prefix
    assert [comp(p, "PID", 5, 1, i) for i in range(1, 6)] == ["Doe", "Jane", "Q", "III", "Dr"]
    assert field(p, "PID", 7) == "19800229"
    assert field(p, "PID", 8) == "F"
    assert field(p, "PV1", 2) == "U"
    assert field(p, "ORC", 1) == "RE"
    assert field(p, "ORC", 2) == field(p, "OBR", 2) == "PL-7"
    assert field(p, "ORC", 3) == field(p, "OBR", 3) == "FI-9"
    assert field(p, "OBR", 18) == "ACC-42"
    assert field(p, "OBR", 7) == "20240517101530.1234"
    assert field(p, "OBR", 22) == "20240517143005+0900"
    assert field(p, "OBR", 25) == "F"


def test_scores_are_nm_with_units_and_reference_range() -> None:
    p = parsed(build())
    rows = rows_by_code(p)
    for concern in CONCERNS:
        (row,) = rows[f"{concern}.score"]
        assert str(row(2)) == "NM"
        assert float(str(row(5))) == pytest.approx(F.SCORES[concern])
        assert str(row(6)(1)(1)) == "{score}"
        assert str(row(6)(1)(3)) == "UCUM"
        assert str(row(7)) == "0-100"
        assert str(row(11)) == "F"
        assert str(row(4)) == "1"
        assert str(row(17)(1)(1)) == "dermnode-0.1.0"


def test_raw_values_come_from_face_region_only_without_exponents() -> None:
    p = parsed(build())
    rows = rows_by_code(p)
    (pores,) = rows["pores.count"]  # the cheek_left value stays in the SR
    assert str(pores(4)) == "1.face"
    assert str(pores(5)) == "1234"
    assert str(rows["pigmentation.ita_deg"][0](5)) == "-12.345678"
    assert str(rows["redness.erythema_index"][0](5)) == "0.000012"
    assert str(rows["wrinkles.length_mm"][0](6)(1)(1)) == "mm"
    # quality.* measurements are reported once, from the quality result
    assert len(rows["quality.sharpness"]) == 1


def test_not_assessed_study_uid_and_object_references() -> None:
    p = parsed(build(F.result(F.image(), F.image("2.25.9"))))
    rows = rows_by_code(p)
    for key, reason in NOT_ASSESSED.items():
        (row,) = rows[key]  # once per study, not once per image
        assert str(row(2)) == "ST"
        assert p.unescape(str(row(5))) == reason
    (study_row,) = rows["113014"]
    assert str(study_row(3)) == "113014^DICOM Study^DCM"
    assert str(study_row(5)) == "1.2.826.0.1.3680043.8.498.100"
    assert [str(r(5)) for r in rows["sr.sop_instance_uid"]] == [SR_UID]
    assert [str(r(5)) for r in rows["seg.sop_instance_uid"]] == list(SEG_UIDS)
    assert str(rows["quality.usable_images"][0](5)) == "2"
    assert [int(str(r(1))) for r in obx_rows(p)] == list(range(1, len(obx_rows(p)) + 1))


def test_pdf_is_sent_as_base64_ed_only_when_configured() -> None:
    with_pdf = parsed(build(endpoint=F.endpoint(include_pdf=True), pdf=PDF))
    (row,) = rows_by_code(with_pdf)["report.pdf"]
    assert str(row(2)) == "ED"
    value = row(5)
    assert [str(value(1)(i)) for i in range(1, 5)] == ["DERMNODE", "AP", "PDF", "Base64"]
    assert base64.b64decode(str(value(1)(5))) == PDF
    without = parsed(build(pdf=PDF))  # include_pdf is false by default
    assert "report.pdf" not in rows_by_code(without)


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        ((F.image(),), "F"),
        ((F.image(warnings=("glare",)),), "P"),
        ((F.image(usable=False, blocking=("blur",)),), "F"),
        ((F.image(), F.image("2.25.2", usable=False, blocking=("blur",))), "P"),
        ((F.image(), F.image("2.25.3")), "F"),
    ],
)
def test_result_status_rule(images: tuple[Any, ...], expected: str) -> None:
    result = F.result(*images)
    assert result_status_for(result).value == expected
    p = parsed(build(result))
    assert field(p, "OBR", 25) == expected
    assert {str(r(11)) for r in obx_rows(p)} == {expected}
    assert field(p, "ORC", 5) == ("A" if expected == "P" else "CM")


def test_no_usable_image_says_not_usable_and_sends_no_scores() -> None:
    p = parsed(build(F.result(F.image(usable=False, blocking=("blur", "no_face")))))
    rows = rows_by_code(p)
    assert str(rows["quality.usable"][0](5)) == "N^No^HL70136"
    issues = [p.unescape(str(r(5))) for r in rows["quality.issue"]]
    assert issues == ["blur (blocking): blur detected", "no_face (blocking): no_face detected"]
    assert str(rows["quality.usable_images"][0](5)) == "0"
    assert not any(code.endswith(".score") for code in rows)
    assert "pores.count" not in rows


def test_explicit_status_overrides_the_rule() -> None:
    p = parsed(build(status="C"))
    assert field(p, "OBR", 25) == "C"
    with pytest.raises(ValueError):
        build(status="X")


def test_delimiters_in_every_text_field_survive() -> None:
    msg = CASES["nasty"]()
    p = parsed(msg)
    assert comp(p, "PID", 3, 1, 1) == "ID|^~\\&1"
    assert p.unescape(str(p.segment("PID")(3)(1)(4))) == "IS&SUER"
    assert comp(p, "PID", 5, 1, 1) == "O'Neil|Smith"
    assert comp(p, "PID", 5, 1, 2) == "Ann&Bo~Jo\\F\\"
    assert field(p, "OBR", 18) == "A^1"
    assert field(p, "OBR", 2) == "P&1"
    assert field(p, "OBR", 3) == "F~1"
    assert len(p.segment("PID")) == len(parsed(build()).segment("PID"))


def test_korean_name_groups_become_pid5_repetitions() -> None:
    p = parsed(CASES["korean"]())
    reps = p.segment("PID")(5)
    got = [(str(r(1)), str(r(2)), str(r(8))) for r in reps]
    assert got == [("Hong", "Gildong", "A"), ("洪", "吉洞", "I"), ("홍", "길동", "P")]
    assert str(reps[2](1)) + str(reps[2](2)) == "홍길동"


def test_hangul_only_name_is_the_first_repetition() -> None:
    p = parsed(build(study=F.study(patient_name="홍^길동")))
    assert comp(p, "PID", 5, 1, 1) == "홍"
    assert comp(p, "PID", 5, 1, 2) == "길동"
    assert len(p.segment("PID")(5)) == 1


def test_latin1_endpoint_keeps_accents_and_drops_unencodable_alternative_groups() -> None:
    msg = build(
        study=F.study(patient_name="Müller^José=洪^吉洞=홍^길동"),
        endpoint=F.endpoint(charset="8859/1"),
    )
    raw = msg.encode()
    assert "Müller".encode("latin-1") in raw
    p = hl7.parse(raw.decode("latin-1"))
    assert len(p.segment("PID")(5)) == 1
    assert comp(p, "PID", 5, 1, 1) == "Müller"
    assert field(p, "MSH", 18) == "8859/1"


def test_unencodable_name_is_refused_naming_the_field_not_the_value() -> None:
    msg = build(study=F.study(patient_name="홍^길동"), endpoint=F.endpoint(charset="8859/1"))
    with pytest.raises(EncodingError) as info:
        msg.encode()
    text = str(info.value)
    assert "PID-5.1" in text and "8859/1" in text
    assert "홍" not in text and "길동" not in text


def test_ascii_endpoint_refuses_accents() -> None:
    msg = build(study=F.study(patient_name="Doe^José"), endpoint=F.endpoint(charset="ASCII"))
    with pytest.raises(EncodingError, match=r"PID-5\.2"):
        msg.encode()


def test_utf8_bytes_are_nfc() -> None:
    decomposed = "Mu\u0308ller^Jose\u0301"
    raw = build(study=F.study(patient_name=decomposed)).encode()
    assert "Müller".encode() in raw
    assert "José".encode() in raw


def test_missing_patient_id_and_bad_birth_date_are_refused() -> None:
    with pytest.raises(EncodingError, match="PID-3"):
        build(study=F.study(patient_id=""))
    with pytest.raises(EncodingError, match="PID-7") as info:
        build(study=F.study(patient_birth_date="1980-02-29"))
    assert "1980" not in str(info.value)


def test_order_number_fallback_to_accession() -> None:
    p = parsed(build(study=F.study(placer_order_number="", filler_order_number="")))
    assert field(p, "OBR", 3) == "ACC-42"
    assert field(p, "OBR", 2) == ""


@pytest.mark.parametrize("bad", ["", "x" * 21, "a|b", "with space"])
def test_control_id_is_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="control_id"):
        build(control_id=bad)


def test_naive_observed_at_has_no_offset() -> None:
    msg = build_oru(
        F.result(),
        F.study(),
        F.endpoint(),
        control_id="C1",
        sr_uid=None,
        seg_uids=(),
        pdf=None,
        observed_at=datetime(2024, 1, 2, 3, 4, 5),
    )
    p = parsed(msg)
    assert field(p, "MSH", 7) == "20240102030405"
    assert "sr.sop_instance_uid" not in rows_by_code(p)


def test_phi_never_reaches_the_log(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    study = F.study(
        patient_name="PHI^SENTINEL",
        patient_id="SENTINELID",
        accession_number="SENTINELACC",
        patient_birth_date="19010101",
    )
    endpoint = F.endpoint(kind="folder", folder=str(tmp_path), host=None, port=None)
    with caplog.at_level(logging.DEBUG):
        msg = build(study=study, endpoint=endpoint)
        ack = FolderSink(tmp_path).send(msg.encode(), msg.control_id)
    assert ack.ack_code == "AA"
    assert (tmp_path / "CTRL0001.hl7").read_bytes() == msg.encode()
    assert "CTRL0001" in caplog.text
    for secret in ("SENTINEL", "19010101", "PHI"):
        assert secret not in caplog.text


def test_profile_example_is_what_the_code_builds() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "hl7-profile.md").read_text(encoding="utf-8")
    example = doc.split("```hl7\n", 1)[1].split("```", 1)[0].strip("\n")
    msg = build_oru(
        F.result(F.image(warnings=("glare",))),
        F.study(patient_name="Hong^Gildong=洪^吉洞=홍^길동"),
        F.endpoint(),
        control_id="7f3a9c2e41b04d6e8a15",
        sr_uid="1.2.826.0.1.3680043.8.498.200",
        seg_uids=["1.2.826.0.1.3680043.8.498.301"],
        pdf=None,
        observed_at=F.OBSERVED_AT,
    )
    assert example.split("\n") == list(msg.segments)


def test_package_exports_resolve() -> None:
    import integrations.hl7 as pkg

    assert sorted(pkg.__all__) == pkg.__all__
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
