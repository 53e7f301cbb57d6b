"""``dermnode analyze``: images and DICOM in, the JSON of DESIGN.md §5 out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from skimage import data

from dicom_node.analyze_cmd import analyze_command, load_inputs
from dicom_node.cli import main

ROOT = Path(__file__).resolve().parents[3]


def _dicom(path: Path, rgb: np.ndarray) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.4"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = "PHI^SENTINEL"
    ds.PatientID = "P1"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "XC"
    ds.StudyDate = "20260101"
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PlanarConfiguration = 0
    ds.PixelSpacing = [0.3, 0.3]
    ds.PixelData = rgb.tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_images_and_dicom_analysed_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    astro = data.astronaut()
    jpg = tmp_path / "face.jpg"
    Image.fromarray(astro).save(jpg, quality=92)
    dcm = tmp_path / "face.dcm"
    _dicom(dcm, astro)
    out = tmp_path / "out"
    rc = main(
        [
            "analyze",
            str(jpg),
            str(dcm),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--language",
            "ko",
            "--rules",
            str(ROOT / "config" / "examples" / "rules.yaml"),
        ]
    )
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "dermnode.analysis/1"
    assert [i["source"] for i in doc["images"]] == [str(jpg), str(dcm)]
    assert doc["images"][0]["spacing_mm"]["source"] == "estimated"
    assert doc["images"][1]["spacing_mm"] == {"value": 0.3, "source": "PixelSpacing"}
    assert all(i["quality"]["usable"] for i in doc["images"])
    saved = json.loads((out / "result.json").read_text())
    assert saved == doc
    overlays = doc["outputs"]["overlays"]
    assert len(overlays) == 2
    with Image.open(overlays[0]) as im:
        assert im.size == (512, 512)
    # The DICOM input gets SR/SEG/Encapsulated PDF; the JPEG input only appears in the PDF.
    outputs = doc["outputs"]
    assert Path(outputs["sr"]).name == "sr.dcm" and Path(outputs["sr"]).is_file()
    assert outputs["seg"] and all(Path(s).is_file() for s in outputs["seg"])
    assert Path(outputs["pdf"]).read_bytes().startswith(b"%PDF")
    assert Path(outputs["report_dcm"]).is_file()
    # --language ko: the patient report beside it, in Korean, with its own Encapsulated PDF
    assert Path(outputs["patient_pdf"]).name == "patient-report.pdf"
    assert Path(outputs["patient_dcm"]).name == "patient-report.dcm"
    assert set(outputs["patient"]) == {"ko"}
    # --rules: the clinic rules' topics, worded as topics for the clinician
    support = doc["treatment_support"]
    assert support["rules_evaluated"] == 8 and "not a diagnosis" in support["note"]
    assert support["rule_set"].startswith("Example rules")
    assert "PHI" not in json.dumps(doc)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = 255
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    Image.fromarray(img).save(p, exif=exif)
    [inp] = load_inputs([p])
    assert inp.pixels.shape == (40, 20, 3)


def test_unreadable_input_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    assert analyze_command([str(bad)], device="cpu") == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "not a readable image" in err
    assert analyze_command([str(tmp_path / "missing.png")], device="cpu") == 2
    assert analyze_command([str(bad)], view="sideways", device="cpu") == 2
