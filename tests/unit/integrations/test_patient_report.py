"""The patient report: Korean and English text (pdftotext), embedded fonts (pdffonts), pages,
its own Encapsulated PDF, and the message catalogues."""

from __future__ import annotations

import gettext
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from babel.messages.pofile import read_po
from pydicom import dcmread
from reportlab import rl_config

from analysis.keys import CONCERNS, NOT_ASSESSED
from analysis.treatment import zone_scores
from integrations.outputs import write_outputs
from integrations.progress_view import PriorView
from integrations.report import render_patient_report
from integrations.report.messages import DOMAIN, LOCALE_DIR, Language, Messages
from integrations.report.patient import main_image
from integrations.study import StudyInfo
from tests.peers import require_binary
from tests.unit.integrations import fakes
from tests.unit.integrations import progress_fakes as P


@pytest.fixture(autouse=True)
def _binary_streams() -> Iterator[None]:
    # the flag dicom_node.setup.apply sets in production (only speed and size differ)
    before = rl_config.useA85
    rl_config.useA85 = 0
    yield
    rl_config.useA85 = before


def _run(tool: str, path: Path, *args: str) -> str:
    exe = require_binary(tool)
    return subprocess.run(
        [exe, *args, str(path), "-"] if tool == "pdftotext" else [exe, *args, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _photo() -> np.ndarray:
    return fakes.photo_pixels(0)


def _prior(photo: np.ndarray) -> PriorView:
    return PriorView(P.comparison(), np.roll(photo, (3, 4), axis=(0, 1)), fakes.image_result(0))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    rl_config.useA85 = 0
    out = tmp_path_factory.mktemp("patient")
    study = StudyInfo.from_dataset(fakes.sources()[0])
    photo = _photo()
    paths: dict[str, Path] = {}
    for lang in ("en", "ko"):
        pdf = render_patient_report(
            fakes.analysis_result(),
            study,
            [photo, None],
            progress=[_prior(photo), None],
            language=lang,
        )
        paths[lang] = out / f"patient-{lang}.pdf"
        paths[lang].write_bytes(pdf)
    return paths


def test_korean_text_is_extractable(reports: dict[str, Path]) -> None:
    text = _run("pdftotext", reports["ko"], "-layout")
    for words in ("피부 분석 결과", "항목별로 보이는 정도", "평가하지 않은 항목과 이유"):
        assert words in text
    assert "지난 방문 이후의 변화" in text  # the progress page
    assert "진단이나 치료 권고가 아닙니다" in text  # the disclaimer
    assert "홍길동" in text  # the patient's name, from the DICOM PN
    # the Korean report speaks Korean: no English sentence of the catalogue leaks in
    assert "Your skin analysis" not in text and "What was not assessed" not in text


def test_english_text_is_extractable(reports: dict[str, Path]) -> None:
    text = _run("pdftotext", reports["en"], "-layout")
    for words in ("Your skin analysis", "How visible each concern is", "Since your last visit"):
        assert words in text
    assert "not a diagnosis" in text
    assert "피부" not in text


def test_fonts_are_embedded(reports: dict[str, Path]) -> None:
    for path in reports.values():
        rows = _run("pdffonts", path).splitlines()[2:]
        assert rows, "no fonts listed"
        for row in rows:
            assert "NanumGothic" in row, row
            # columns: name type encoding emb sub uni
            assert re.search(r"\byes\s+yes\s+yes\b", row), row


def test_one_page_plus_one_for_progress(reports: dict[str, Path], tmp_path: Path) -> None:
    assert re.search(r"^Pages:\s+2$", _run("pdfinfo", reports["ko"]), re.M)
    study = StudyInfo.from_dataset(fakes.sources()[0])
    alone = tmp_path / "alone.pdf"
    alone.write_bytes(render_patient_report(fakes.analysis_result(), study, [_photo(), None]))
    assert re.search(r"^Pages:\s+1$", _run("pdfinfo", alone), re.M)


def test_report_is_deterministic() -> None:
    study = StudyInfo.from_dataset(fakes.sources()[0])
    a = render_patient_report(fakes.analysis_result(), study, None, language="ko")
    b = render_patient_report(fakes.analysis_result(), study, None, language="ko")
    assert a == b


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        render_patient_report(fakes.analysis_result(), None, None, language="fr")


def test_main_image_is_the_usable_frontal_photo() -> None:
    result = fakes.analysis_result()
    assert main_image(result) == 0
    assert not result.images[1].quality.usable


def test_zone_scores_use_each_zones_own_values() -> None:
    image = fakes.image_result(0)
    per_zone = zone_scores(image)
    assert per_zone and "face" not in per_zone
    for scores in per_zone.values():
        assert all(0.0 <= v <= 100.0 for v in scores.values())
    # zones with different raw values get different scores
    assert len({round(s.get("pigmentation", -1), 6) for s in per_zone.values()}) > 1


def test_patient_report_in_the_study(tmp_path: Path) -> None:
    out = write_outputs(
        fakes.analysis_result(),
        fakes.sources(),
        tmp_path,
        patient_languages=("ko", "en"),
    )
    assert Path(out["patient_pdf"]).name == "patient-report.pdf"
    assert Path(out["patient"]["en"]["pdf"]).name == "patient-report-en.pdf"
    clinician = dcmread(out["report_dcm"])
    ko, en = dcmread(out["patient"]["ko"]["dcm"]), dcmread(out["patient"]["en"]["dcm"])
    for ds in (ko, en):
        assert ds.SeriesDescription == "DermNode patient report"
        assert ds.SeriesNumber == 9007
        assert ds.SeriesInstanceUID != clinician.SeriesInstanceUID
        assert ds.StudyInstanceUID == clinician.StudyInstanceUID
        assert ds.ConceptNameCodeSequence[0].CodeValue == "PROC-SKIN-PT"
    assert ko.SeriesInstanceUID == en.SeriesInstanceUID
    assert len({ko.SOPInstanceUID, en.SOPInstanceUID, clinician.SOPInstanceUID}) == 3
    assert ko.DocumentTitle.endswith("(ko)") and "patient" in ko.DocumentTitle
    pdf = Path(out["patient_pdf"]).read_bytes()
    assert bytes(ko.EncapsulatedDocument)[: len(pdf)] == pdf
    # without languages, no patient report (the library default)
    plain = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path / "plain")
    assert "patient" not in plain and not (tmp_path / "plain" / "patient-report.pdf").exists()


# --------------------------------------------------------------------------- catalogues


def _po(lang: str) -> dict[str, str]:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
        cat = read_po(fh)
    return {str(m.id): str(m.string) for m in cat if m.id}


def test_catalogues_have_the_same_messages() -> None:
    en, ko = _po("en"), _po("ko")
    assert set(en) == set(ko)
    assert all(en.values()) and all(ko.values())
    for msgid in en:  # the same placeholders in both languages
        assert set(re.findall(r"\{(\w+)\}", en[msgid])) == set(
            re.findall(r"\{(\w+)\}", ko[msgid])
        ), msgid


@pytest.mark.parametrize("lang", [lang.value for lang in Language])
def test_compiled_catalogue_matches_its_po(lang: str) -> None:
    """The committed .mo is what `make messages` makes of the .po (no stale translation)."""
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    po = _po(lang)
    assert {k: mo.gettext(k) for k in po} == po


def test_every_concern_and_not_assessed_key_is_worded() -> None:
    for lang in Language:
        msg = Messages(lang)
        for concern in (*CONCERNS, *NOT_ASSESSED):
            assert msg.has(f"concern.{concern}"), (lang, concern)
        for key in NOT_ASSESSED:
            assert msg.has(f"na.{key}"), (lang, key)


def test_every_message_id_in_the_code_exists() -> None:
    code = (LOCALE_DIR.parent / "patient.py").read_text(encoding="utf-8")
    used = set(re.findall(r'msg\(\s*"([a-z_.]+)"', code)) | set(
        re.findall(r'w\.msg\(\s*"([a-z_.]+)"', code)
    )
    assert len(used) > 20
    for lang in Language:
        msg = Messages(lang)
        missing = [m for m in used if not msg.has(m)]
        assert not missing, (lang, missing)
    with pytest.raises(KeyError, match="missing"):
        Messages("en")("no.such.message")


def test_every_verdict_is_worded_for_changes_and_courses() -> None:
    from analysis.progress import ChangeLabel

    for lang in Language:
        msg = Messages(lang)
        for label in ChangeLabel:
            assert msg.has(f"change.{label}") and msg.has(f"course.{label}"), (lang, label)


def test_course_section_on_the_progress_page(tmp_path: Path) -> None:
    import datetime as dt

    from analysis.treatment import Course, course_response

    photo = _photo()
    prior = _prior(photo)
    response = course_response(Course("Laser toning", "", dt.date(2024, 3, 1)), prior.comparison)
    study = StudyInfo.from_dataset(fakes.sources()[0])
    path = tmp_path / "c.pdf"
    path.write_bytes(
        render_patient_report(
            fakes.analysis_result(),
            study,
            [photo, None],
            progress=[prior, None],
            course=[response, None],
            language="ko",
        )
    )
    text = _run("pdftotext", path, "-layout")
    assert "치료 시작 이후: Laser toning (2024-03-01)" in text
    assert "치료 시작 전과 거의 같습니다" in text  # ITA +0.2 is inside the MDC: stable


def test_both_reports_share_one_registration() -> None:
    from integrations.progress_view import before_after

    photo = _photo()
    prior = _prior(photo)
    image = fakes.image_result(0)
    first = before_after(photo, image, prior)
    assert first is not None and before_after(photo, image, prior) is first
    # another PriorView (another study) is registered anew
    assert before_after(photo, image, _prior(photo)) is not first
