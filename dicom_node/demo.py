"""``dermnode demo``: the node on one machine with embedded defaults, fed by a DICOM client.

This stage of the demo starts DermNode on a temporary storage folder and a free loopback port,
sends the bundled sample photos to it with a pynetdicom C-STORE SCU (as a PACS would), and
prints what the node received and recorded. Later stages extend it to analysis and results.
"""

from __future__ import annotations

import io
import socket
import sys
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, JPEGBaseline8Bit
from pydicom.uid import generate_uid as _generate_uid

from config.settings import Settings, load_settings
from dicom_node.app import start_node
from dicom_node.logging_setup import configure_logging
from dicom_node.scp import SUPPORTED_SOP_CLASSES
from dicom_node.scu import store_files

__all__ = ["DEMO_SOURCE_AE", "demo_command", "make_sample_files", "sample_photo_path"]

DEMO_SOURCE_AE = "DEMO_PACS"
VL_PHOTOGRAPHIC = UID("1.2.840.10008.5.1.4.1.1.77.1.4")
_UID_PREFIX = "1.2.826.0.1.3680043.8.498."  # pydicom's prefix, for generated demo UIDs


def sample_photo_path(name: str = "astronaut.jpg") -> Path:
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
    texture = rng.normal(0, 4, (size, size, 1)).astype(np.float32)
    img = base + texture
    for _ in range(6):
        cy, cx, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.02, 0.05)
        spot = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))[..., None]
        img = img - spot * np.array([60, 55, 45], dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_sample_files(out_dir: Path) -> list[Path]:
    """Write the demo study: the bundled face photo and a synthetic close-up, as DICOM.

    The face is the bundled JPEG encapsulated as is (JPEG Baseline, PS3.5 §8.2.1, no
    re-encode); the close-up is uncompressed RGB (Explicit VR Little Endian). Both are
    VL Photographic Image objects (PS3.3 A.33.4) of one study.
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
    close = synthetic_closeup()
    closeup = _base(study, series, 2, close.shape[0], close.shape[1])
    closeup.PhotometricInterpretation = "RGB"
    closeup.PixelData = close.tobytes()
    return [
        _save(face, JPEGBaseline8Bit, out_dir / "face_frontal.dcm"),
        _save(closeup, ExplicitVRLittleEndian, out_dir / "closeup.dcm"),
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_settings(port: int, storage_dir: Path) -> Settings:
    """The embedded default settings, on loopback, with the demo PACS as a source."""
    base = load_settings().model_dump(mode="json")
    base["node"].update(
        host="127.0.0.1", port=port, storage_dir=str(storage_dir), min_free_disk_mb=0
    )
    base["sources"] = [*base["sources"], {"ae_title": DEMO_SOURCE_AE, "host": "127.0.0.1"}]
    return Settings(**base)


def demo_command(out: str) -> int:
    """Run the demo; return 0 when every sample was stored and recorded."""
    configure_logging("WARNING")
    out_dir = Path(out)
    files = make_sample_files(out_dir / "sent")
    with tempfile.TemporaryDirectory(prefix="dermnode-demo-") as tmp:
        settings = demo_settings(_free_port(), Path(tmp))
        node = start_node(settings, Path(tmp))
        try:
            print(f"DermNode listening as {settings.node.ae_title} on 127.0.0.1:{node.port}")
            print(f"sending {len(files)} sample photo(s) from {DEMO_SOURCE_AE} ...")
            statuses = store_files(
                "127.0.0.1", node.port, settings.node.ae_title, DEMO_SOURCE_AE, files
            )
            ok = True
            for f, st in zip(files, statuses, strict=True):
                text = "no response" if st is None else f"0x{st:04X}"
                print(f"  C-STORE {f.name}: {text}")
                ok = ok and st == 0
            print("received:")
            for study in node.store.list_studies():
                print(
                    f"  job {study.id}: study with {study.instance_count} instance(s), "
                    f"state {study.state.value}, from {study.calling_ae}"
                )
                for inst in node.store.instances_of(study.study_instance_uid):
                    name = SUPPORTED_SOP_CLASSES.get(inst.sop_class_uid, inst.sop_class_uid)
                    print(f"    {name}, {UID(inst.transfer_syntax_uid).name}, {inst.size} bytes")
            received = node.store.count_instances()
        finally:
            node.stop(grace_s=2.0)
    if not ok or received != len(files):
        print(f"demo FAILED: {received} of {len(files)} received", file=sys.stderr)
        return 1
    print(f"demo OK: {received} of {len(files)} photo(s) received and recorded")
    return 0
