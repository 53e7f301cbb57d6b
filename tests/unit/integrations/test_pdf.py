"""The PDF report: text extracted by poppler, page count, determinism, DICOM wrapper."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread

from integrations.dicom_common import Equipment
from integrations.outputs import write_outputs
from integrations.report import (
    DISCLAIMER,
    encapsulated_pdf,
    format_person_name,
    render_report,
)
from integrations.study import StudyInfo
from integrations.uids import OutputUids
from tests.peers import require_binary
from tests.unit.integrations import fakes


def pdf_text(path: Path) -> str:
    exe = require_binary("pdftotext")
    return subprocess.run(
        [exe, "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdf_pages(path: Path) -> int:
    exe = require_binary("pdfinfo")
    out = subprocess.run([exe, str(path)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))


@pytest.mark.parametrize(
    ("pn", "shown"),
    [
        ("Hong^Gildong=洪^吉洞=홍^길동", "Hong Gildong / 洪吉洞 / 홍길동"),
        ("Kim^Minji=김^민지", "Kim Minji / 김민지"),
        ("Doe^Jane", "Doe Jane"),
        ("", ""),
    ],
)
def test_person_name_display(pn: str, shown: str) -> None:
    assert format_person_name(pn) == shown


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "r.pdf"
    src = fakes.sources()
    pdf = render_report(
        fakes.analysis_result(), StudyInfo.from_dataset(src[0]), [fakes.photo_pixels(0), None]
    )
    path.write_bytes(pdf)
    return path


def test_one_page_per_photo(report: Path) -> None:
    assert pdf_pages(report) == 2


def test_report_text(report: Path) -> None:
    text = pdf_text(report)
    flat = " ".join(text.split())
    assert "Hong Gildong / 洪吉洞 / 홍길동" in flat
    assert "Decision support, not diagnosis" in flat
    assert " ".join(DISCLAIMER.split()[:8]) in flat
    assert "Skin hydration has no valid measure" in flat
    assert "FAILED: blur: image is out of focus" in flat
    assert "warning: colour_cast" in flat
    assert "Limits of the method" in flat
    # zone table: cheek left = zone index 5 -> melanin 41.25 + 2.5, pores 57 + 5
    assert any(
        line.split()[:2] == ["cheek", "left"] and "43.75" in line and "62" in line.split()
        for line in text.splitlines()
        if line.strip()
    )
    for concern in ("pigmentation", "redness", "pores", "wrinkles", "texture", "oil"):
        assert concern in flat
    assert "NOT USABLE" in flat
    assert "No scores: the photo did not pass the quality gate." in flat


def test_report_is_deterministic() -> None:
    src = fakes.sources()
    args = (fakes.analysis_result(), StudyInfo.from_dataset(src[0]), [fakes.photo_pixels(0), None])
    assert render_report(*args) == render_report(*args)


def test_encapsulated_pdf_carries_the_same_bytes(tmp_path: Path) -> None:
    src = fakes.sources()
    result = fakes.analysis_result()
    pdf = render_report(result, StudyInfo.from_dataset(src[0]))
    uids = OutputUids.of([s.SOPInstanceUID for s in src], "dermnode", "0.1.0")
    ds = encapsulated_pdf(pdf, src[0], uids, Equipment.of(result))
    ds.save_as(tmp_path / "r.dcm", enforce_file_format=True)
    back = dcmread(tmp_path / "r.dcm")
    assert back.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert back.Modality == "DOC"
    assert back.MIMETypeOfEncapsulatedDocument == "application/pdf"
    n = int(back.EncapsulatedDocumentLength)
    assert bytes(back.EncapsulatedDocument)[:n] == pdf
    assert back.StudyInstanceUID == fakes.STUDY_UID
    assert str(back.PatientName) == fakes.KOREAN_ISO2022
    assert back.SourceInstanceSequence[0].ReferencedSOPInstanceUID == src[0].SOPInstanceUID
    with pytest.raises(ValueError, match="pdf"):
        encapsulated_pdf(b"not a pdf", src[0], uids, Equipment.of(result))


def test_plain_image_input_gets_only_the_pdf(tmp_path: Path) -> None:
    result = fakes.analysis_result(with_unusable=False)
    out = write_outputs(result, [None], tmp_path, photos=[fakes.photo_pixels(0)])
    assert out == {"sr": None, "seg": [], "pdf": str(tmp_path / "report.pdf"), "report_dcm": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]
    text = " ".join(pdf_text(tmp_path / "report.pdf").split())
    assert "not a DICOM study" in text


def test_write_outputs_lists_every_file(tmp_path: Path) -> None:
    out = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path, secondary_capture=True)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "report.dcm",
        "report.pdf",
        "sc-1.dcm",
        "seg-1-levels.dcm",
        "seg-1-maps.dcm",
        "seg-1.dcm",
        "sr.dcm",
    ]
    assert out["seg"] == [
        str(tmp_path / "seg-1.dcm"),
        str(tmp_path / "seg-1-maps.dcm"),
        str(tmp_path / "seg-1-levels.dcm"),
    ]
    assert out["sc"] == [str(tmp_path / "sc-1.dcm")]
    sc = dcmread(out["sc"][0])
    assert sc.BurnedInAnnotation == "YES" and sc.Rows == fakes.ROWS


def test_sources_must_match_images(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sources"):
        write_outputs(fakes.analysis_result(), [None], tmp_path)
