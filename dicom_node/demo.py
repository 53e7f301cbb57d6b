"""``dermnode demo``: the node on one machine with embedded defaults, fed by a DICOM client.

This stage of the demo starts DermNode on a temporary storage folder and a free loopback port,
sends the bundled sample photos to it with a pynetdicom C-STORE SCU (as a PACS would), and
prints what the node received and recorded. Later stages extend it to analysis and results.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, JPEGBaseline8Bit
from pydicom.uid import generate_uid as _generate_uid

from analysis.keys import CONCERNS
from config.settings import Settings, load_settings
from dicom_node.logging_setup import configure_logging
from dicom_node.scu import store_files
from dicom_node.service import Service
from dicom_node.store import StudyState

__all__ = ["DEMO_FACE", "DEMO_SOURCE_AE", "demo_command", "make_sample_files", "sample_photo_path"]

DEMO_SOURCE_AE = "DEMO_PACS"
VL_PHOTOGRAPHIC = UID("1.2.840.10008.5.1.4.1.1.77.1.4")
_UID_PREFIX = "1.2.826.0.1.3680043.8.498."  # pydicom's prefix, for generated demo UIDs


#: The demo's face: a real studio photo at its full resolution (CC BY 4.0, see samples/README.md).
DEMO_FACE = "london_136_03.jpg"


def sample_photo_path(name: str = DEMO_FACE) -> Path:
    """Path of a bundled sample photo (see ``dicom_node/samples/README.md``)."""
    return Path(str(resources.files("dicom_node").joinpath("samples", name)))


def _base(study_uid: str, series_uid: str, number: int, rows: int, cols: int) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = VL_PHOTOGRAPHIC
    ds.SOPInstanceUID = _generate_uid(_UID_PREFIX)
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = "DEMO^PATIENT"
    ds.PatientID = "DEMO-0001"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = "DEMO1"
    ds.ReferringPhysicianName = ""
    ds.Modality = "XC"
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.Manufacturer = "DermNode demo"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PatientOrientation = ""
    ds.ContentDate = "20240101"
    ds.ContentTime = "120000"
    ds.AcquisitionContextSequence = []
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = 3
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PlanarConfiguration = 0
    ds.LossyImageCompression = "00"
    return ds


def _save(ds: Dataset, ts: UID, path: Path) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.save_as(path, enforce_file_format=True)
    return path


def synthetic_closeup(size: int = 256, seed: int = 7) -> np.ndarray:
    """A seeded synthetic skin close-up: smooth skin tone, fine texture, darker spots."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([200 + 15 * xx, 150 + 10 * yy, 125 + 5 * xx * yy], axis=-1)
    # fine per-pixel texture; std 2.5 grey levels (1 % of full scale) stays below the quality
    # gate's noise warning (1.5 %) while keeping the close-up sharp
    texture = rng.normal(0, 2.5, (size, size, 1)).astype(np.float32)
    img = base + texture
    for _ in range(6):
        cy, cx, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.02, 0.05)
        spot = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))[..., None]
        img = img - spot * np.array([60, 55, 45], dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _closeup(study: str, series: str, number: int, seed: int, site: tuple[str, str]) -> Dataset:
    close = synthetic_closeup(seed=seed)
    ds = _base(study, series, number, close.shape[0], close.shape[1])
    ds.PhotometricInterpretation = "RGB"
    ds.PixelSpacing = ["0.05", "0.05"]  # a 12.8 mm field of view, as a close-up lens gives
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = (
        *site[:1],
        "SCT",
        site[1],
    )
    ds.AnatomicRegionSequence = [region]
    ds.PixelData = close.tobytes()
    return ds


def make_sample_files(out_dir: Path) -> list[Path]:
    """Write the demo study: the bundled face photo and two synthetic close-ups, as DICOM.

    The face is the bundled London face photo (:data:`DEMO_FACE`, 1350 x 1350, CC BY 4.0)
    encapsulated as is (JPEG Baseline, PS3.5 §8.2.1, no
    re-encode); the close-ups (forearm, upper arm: body sites away from the face, so they are
    analysed as region ``skin``) are uncompressed RGB (Explicit VR Little Endian) with a
    Pixel Spacing. All are VL Photographic Image objects (PS3.3 A.33.4) of one study.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    study, series = _generate_uid(_UID_PREFIX), _generate_uid(_UID_PREFIX)
    jpeg = sample_photo_path().read_bytes()
    with Image.open(io.BytesIO(jpeg)) as im:
        cols, rows = im.size
    face = _base(study, series, 1, rows, cols)
    face.PhotometricInterpretation = "YBR_FULL_422"
    face.LossyImageCompression = "01"
    face.LossyImageCompressionRatio = f"{rows * cols * 3 / len(jpeg):.2f}"[:16]
    face.LossyImageCompressionMethod = "ISO_10918_1"
    face.PixelData = encapsulate([jpeg])
    face["PixelData"].VR = "OB"
    forearm = _closeup(study, series, 2, 7, ("14975008", "Forearm"))
    upper_arm = _closeup(study, series, 3, 11, ("40983000", "Upper arm"))
    return [
        _save(face, JPEGBaseline8Bit, out_dir / "face_frontal.dcm"),
        _save(forearm, ExplicitVRLittleEndian, out_dir / "closeup_forearm.dcm"),
        _save(upper_arm, ExplicitVRLittleEndian, out_dir / "closeup_upper_arm.dcm"),
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_settings(port: int, storage_dir: Path, out_dir: Path | None = None) -> Settings:
    """The embedded default settings, on loopback, with the demo PACS as a source.

    With *out_dir*, results go to the folder destination ``out_dir/pacs`` and the HL7
    notice to the folder endpoint ``out_dir/emr`` (no external server needed).
    """
    base = load_settings().model_dump(mode="json")
    base["node"].update(
        host="127.0.0.1",
        port=port,
        storage_dir=str(storage_dir),
        min_free_disk_mb=0,
        stable_after_s=1,
    )
    base["sources"] = [*base["sources"], {"ae_title": DEMO_SOURCE_AE, "host": "127.0.0.1"}]
    if out_dir is not None:
        base["destinations"] = [{"name": "pacs", "kind": "folder", "folder": str(out_dir / "pacs")}]
        base["hl7"] = [{"name": "emr", "kind": "folder", "folder": str(out_dir / "emr")}]
    return Settings(**base)


def _summary(service: Service, study_uid: str, out_dir: Path) -> bool:
    assert service.node is not None
    store = service.node.store
    study = store.get_study(study_uid)
    if study is None or study.result_path is None:
        return False
    doc = json.loads((Path(study.result_path) / "result.json").read_text(encoding="utf-8"))
    print(f"\njob {study.id}: {study.state.value}")
    header = "".join(f"{c:>13}" for c in CONCERNS)
    print(f"  {'image':<28}{'usable':<8}{header}")
    for i, img in enumerate(doc["images"], 1):
        name = f"{i}. {img['view']}"
        usable = "yes" if img["quality"]["usable"] else "NO"
        scores = "".join(
            f"{img['scores'][c]:>13.0f}" if c in img["scores"] else f"{'-':>13}" for c in CONCERNS
        )
        print(f"  {name:<28}{usable:<8}{scores}")
        for issue in img["quality"]["issues"]:
            kind = "not usable" if issue["blocking"] else "warning"
            print(f"       {kind}: {issue['message']}")
    print("  scores: 0-100, higher = more of the concern (see docs/methods.md)")
    for item in doc["images"][0]["not_assessed"]:
        print(f"  not assessed: {item['key']}: {item['reason']}")
    delivered = sorted((out_dir / "pacs").glob("*.dcm"))
    kinds: dict[str, int] = {}
    for p in delivered:
        m = str(dcmread(p, stop_before_pixels=True).Modality)
        kinds[m] = kinds.get(m, 0) + 1
    print(f"\nresults in the study (folder destination {out_dir / 'pacs'}):")
    print("  " + ", ".join(f"{n} {_KIND_NAMES.get(k, k)}" for k, n in sorted(kinds.items())))
    print(f"report: {Path(study.result_path) / 'report.pdf'}")
    for msg in sorted((out_dir / "emr").glob("*")):
        print(f"HL7 ORU^R01: {msg}")
    return study.state is StudyState.NOTIFIED


_KIND_NAMES = {"SR": "TID 1500 SR", "SEG": "Segmentation(s)", "DOC": "Encapsulated PDF"}


def demo_command(out: str) -> int:
    """Run the whole path on one machine; return 0 when the EMR was notified."""
    configure_logging("WARNING")
    started = time.monotonic()
    out_dir = Path(out).resolve()
    for sub in ("sent", "pacs", "emr", "var"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    files = make_sample_files(out_dir / "sent")
    storage = out_dir / "var"
    settings = demo_settings(_free_port(), storage, out_dir)
    print("starting DermNode (embedded defaults, results to local folders) ...")
    service = Service(settings, storage, tick_s=0.25)
    service.start()
    try:
        assert service.node is not None
        print(f"DermNode listening as {settings.node.ae_title} on 127.0.0.1:{service.node.port}")
        print(f"sending a {len(files)}-photo study from {DEMO_SOURCE_AE} by C-STORE ...")
        statuses = store_files(
            "127.0.0.1", service.node.port, settings.node.ae_title, DEMO_SOURCE_AE, files
        )
        for f, st in zip(files, statuses, strict=True):
            print(f"  {f.name}: {'no response' if st is None else f'0x{st:04X}'}")
        if any(st != 0 for st in statuses):
            print("demo FAILED: not every photo was stored", file=sys.stderr)
            return 1
        study_uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        print(
            f"waiting for analysis and delivery (study is ready after "
            f"{settings.node.stable_after_s:g} s of quiet) ..."
        )
        service.wait_for(study_uid, (StudyState.NOTIFIED, StudyState.FAILED), 600)
        ok = _summary(service, study_uid, out_dir)
    finally:
        service.stop(grace_s=2.0)
    elapsed = time.monotonic() - started
    if not ok:
        print(
            "demo FAILED: the study did not reach 'notified' (see dermnode jobs)", file=sys.stderr
        )
        return 1
    print(f"\ndemo OK in {elapsed:.1f} s")
    return 0
