"""Golden files: SR/SEG/PDF of a fixed input compared with committed text dumps.

UIDs made by DermNode or highdicom, creation dates/times, versions and the PDF bytes are
masked; everything else (structure, codes, values, patient/study copy, SEG pixel hash) must
match. Regenerate with ``DERMNODE_UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from analysis.types import ALGORITHM_VERSION
from integrations.outputs import write_outputs
from tests.peers import require_binary
from tests.unit.integrations import fakes

DATA = Path(__file__).parent / "data"
UPDATE = os.environ.get("DERMNODE_UPDATE_GOLDEN") == "1"
KEEP_UIDS = {fakes.STUDY_UID, fakes.SERIES_UID, fakes.source_uid(0), fakes.source_uid(1)}
KEEP_DATES = {"StudyDate", "StudyTime", "PatientBirthDate"}
MASK_TEXT = {"SoftwareVersions", "ImplementationVersionName", "AlgorithmVersion"}
BULK = {"PixelData", "EncapsulatedDocument"}


def dump(ds: Dataset, indent: str = "") -> list[str]:
    lines: list[str] = []
    for elem in ds:
        name = elem.keyword or str(elem.tag)
        if elem.VR == "SQ":
            lines.append(f"{indent}{name} SQ[{len(elem.value)}]")
            for i, item in enumerate(elem.value):
                lines.append(f"{indent}  item {i}")
                lines.extend(dump(item, indent + "    "))
            continue
        value = elem.value
        if name in BULK:
            # Encoded bytes depend on the codec plugin (RLE by pydicom or gdcm); the golden
            # pins the decoded pixels instead (see _file_dump).
            text = "<pdf>" if name == "EncapsulatedDocument" else "<encoded>"
        elif elem.VR == "UI":
            keep = str(value) in KEEP_UIDS or str(value).startswith("1.2.840.10008.")
            text = str(value) if keep else "<uid>"
        elif elem.VR in ("DA", "TM", "DT") and name not in KEEP_DATES:
            text = "<datetime>"
        elif name in MASK_TEXT or (name == "TextValue" and str(value).startswith("dermnode ")):
            text = "<version>"
        elif str(value) == ALGORITHM_VERSION:
            text = "<version>"
        elif name in ("EncapsulatedDocumentLength", "FileMetaInformationGroupLength"):
            text = "<n>"
        else:
            text = str(value)
        lines.append(f"{indent}{name} {elem.VR} {text}")
    return lines


def _compare(name: str, text: str) -> None:
    path = DATA / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file (see module docstring)"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path_factory.mktemp("g"))


def _file_dump(path: str) -> str:
    ds = dcmread(path)
    lines = [*dump(ds.file_meta), "---", *dump(ds)]
    if "PixelData" in ds and ds.Modality == "SEG":
        pixels = ds.pixel_array
        digest = hashlib.sha256(pixels.tobytes()).hexdigest()[:16]
        lines.append(f"decoded pixels {pixels.dtype} {pixels.shape} sha256:{digest}")
    return "\n".join(lines) + "\n"


def test_sr_golden(outputs: dict[str, object]) -> None:
    _compare("sr.txt", _file_dump(str(outputs["sr"])))


def test_seg_golden(outputs: dict[str, object]) -> None:
    segs = outputs["seg"]
    assert isinstance(segs, list)
    _compare("seg-1.txt", _file_dump(segs[0]))
    _compare("seg-1-maps.txt", _file_dump(segs[1]))
    _compare("seg-1-levels.txt", _file_dump(segs[2]))


def test_report_dcm_golden(outputs: dict[str, object]) -> None:
    _compare("report-dcm.txt", _file_dump(str(outputs["report_dcm"])))


def test_pdf_golden(outputs: dict[str, object]) -> None:
    exe = require_binary("pdftotext")
    text = subprocess.run(
        [exe, "-layout", str(outputs["pdf"]), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = text.count("\f")
    text = text.replace(ALGORITHM_VERSION, "<version>")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    _compare("report-pdf.txt", f"pages: {pages}\n" + "\n".join(x for x in lines if x) + "\n")
