"""Synthetic DICOM test data for the receiving side (no real patient data).

Small RGB images of every accepted SOP Class, written in every accepted transfer syntax:
pydicom for the native, deflated and RLE encodings, DCMTK (``dcmcjpeg``, ``dcmcjpls``,
``dcmcrle``) for the JPEG family, python-gdcm for JPEG 2000.
"""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    generate_uid,
)

from tests.peers import require_binary

VL_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4"
DERMOSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.7"
VL_MICROSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
MULTIFRAME_TRUE_COLOR_SC = "1.2.840.10008.5.1.4.1.1.7.4"
ALL_SOP_CLASSES = (
    VL_PHOTOGRAPHIC,
    DERMOSCOPIC,
    VL_MICROSCOPIC,
    SECONDARY_CAPTURE,
    MULTIFRAME_TRUE_COLOR_SC,
)

#: transfer syntax -> (tool, arguments) producing it from Explicit VR Little Endian
DCMTK_ENCODERS: dict[str, tuple[str, tuple[str, ...]]] = {
    JPEGBaseline8Bit: ("dcmcjpeg", ("+eb",)),
    JPEGExtended12Bit: ("dcmcjpeg", ("+ee",)),
    JPEGLossless: ("dcmcjpeg", ("+el",)),
    JPEGLosslessSV1: ("dcmcjpeg", ("+e1",)),
    JPEGLSLossless: ("dcmcjpls", ("+el",)),
    JPEGLSNearLossless: ("dcmcjpls", ("+en",)),
}
PYDICOM_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
)
GDCM_SYNTAXES = (JPEG2000Lossless, JPEG2000)


def rgb_pixels(rows: int, cols: int, frames: int = 1, seed: int = 0) -> np.ndarray:
    """A smooth seeded RGB test pattern (compresses well, decodes verifiably)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    out = []
    for f in range(frames):
        img = np.stack([(xx * 7 + f * 20) % 256, (yy * 5) % 256, (xx + yy) * 3 % 256], -1)
        out.append(np.clip(img + rng.integers(0, 4, img.shape), 0, 255))
    arr = np.asarray(out, dtype=np.uint8)
    return arr[0] if frames == 1 else arr


def make_image(
    sop_class: str = VL_PHOTOGRAPHIC,
    *,
    rows: int = 16,
    cols: int = 16,
    frames: int = 1,
    patient_name: str = "TEST^PATIENT",
    charset: str | list[str] | None = "ISO_IR 192",
    study_uid: str | None = None,
    series_uid: str | None = None,
    seed: int = 0,
) -> Dataset:
    """An uncompressed RGB image of *sop_class* with the attributes the handler records."""
    if sop_class == MULTIFRAME_TRUE_COLOR_SC and frames == 1:
        frames = 2
    ds = Dataset()
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = UID(sop_class)
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientName = patient_name
    ds.PatientID = "TESTID-1"
    ds.IssuerOfPatientID = "TESTHOSP"
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "F"
    ds.AccessionNumber = "ACC1"
    ds.StudyDate = "20240102"
    ds.Modality = "XC" if sop_class not in (SECONDARY_CAPTURE, MULTIFRAME_TRUE_COLOR_SC) else "OT"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = rgb_pixels(rows, cols, frames, seed).tobytes()
    return ds


def _with_meta(ds: Dataset, ts: str) -> Dataset:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = UID(ts)
    return ds


def save(ds: Dataset, path: Path, ts: str = ExplicitVRLittleEndian) -> Path:
    """Write *ds* as a DICOM file in *ts* (native, deflated or RLE via pydicom)."""
    if ts not in PYDICOM_SYNTAXES:
        raise ValueError(f"ts {ts} is not written by pydicom here")
    if ts == RLELossless:
        _with_meta(ds, ExplicitVRLittleEndian)
        ds.compress(RLELossless, encoding_plugin="pydicom")
    _with_meta(ds, ts)
    ds.save_as(
        path, enforce_file_format=True, implicit_vr=ts == ImplicitVRLittleEndian, little_endian=True
    )
    return path


def dataset_stream(ds: Dataset, ts: str = ExplicitVRLittleEndian) -> bytes:
    """The encoded data set alone (what arrives in P-DATA), no File Meta Information."""
    buf = BytesIO()
    save(ds, buf, ts)  # type: ignore[arg-type]
    data = buf.getvalue()
    meta_len = int.from_bytes(data[140:144], "little")
    return data[144 + meta_len :]


def encode_with_dcmtk(src: Path, dst: Path, ts: str) -> Path:
    """Compress an Explicit VR Little Endian file with DCMTK into *ts*."""
    tool, args = DCMTK_ENCODERS[ts]
    subprocess.run(
        [require_binary(tool), *args, str(src), str(dst)], check=True, capture_output=True
    )
    return dst


def encode_j2k_with_gdcm(src: Path, dst: Path, ts: str) -> Path:
    """Compress into JPEG 2000 (lossless or lossy) with python-gdcm.

    gdcm does not know every newer SOP Class (e.g. Dermoscopic Photography), so the image is
    compressed as Secondary Capture and the SOP Class put back with pydicom afterwards.
    """
    import gdcm

    original = dcmread(src)
    sop_class = original.SOPClassUID
    original.SOPClassUID = UID(SECONDARY_CAPTURE)
    original.file_meta.MediaStorageSOPClassUID = original.SOPClassUID
    plain = src.with_suffix(".sc")
    original.save_as(plain, enforce_file_format=True)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(plain))
    if not reader.Read():
        raise RuntimeError(f"gdcm cannot read {src}")
    change = gdcm.ImageChangeTransferSyntax()
    syntax = (
        gdcm.TransferSyntax.JPEG2000Lossless
        if ts == JPEG2000Lossless
        else gdcm.TransferSyntax.JPEG2000
    )
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    if ts == JPEG2000:
        codec = change.GetJ2KCodec() if hasattr(change, "GetJ2KCodec") else None
        if codec is not None:
            codec.SetQuality(0, 40)
    if not change.Change():
        raise RuntimeError("gdcm could not compress to JPEG 2000")
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    if not writer.Write():
        raise RuntimeError(f"gdcm cannot write {dst}")
    plain.unlink()
    out = dcmread(dst)
    out.SOPClassUID = sop_class
    out.file_meta.MediaStorageSOPClassUID = sop_class
    out.save_as(dst, enforce_file_format=True)
    return dst


def write_all_syntaxes(ds_factory, folder: Path, syntaxes) -> dict[str, Path]:
    """Write one fresh instance per transfer syntax; returns ts -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for i, ts in enumerate(syntaxes):
        ds = ds_factory()
        if ts in PYDICOM_SYNTAXES:
            out[ts] = save(ds, folder / f"{i:02d}.dcm", ts)
            continue
        src = save(ds, folder / f"{i:02d}_src.dcm.raw", ExplicitVRLittleEndian)
        if ts in DCMTK_ENCODERS:
            out[ts] = encode_with_dcmtk(src, folder / f"{i:02d}.dcm", ts)
        else:
            out[ts] = encode_j2k_with_gdcm(src, folder / f"{i:02d}.dcm", ts)
        src.unlink()
    for ts, p in out.items():
        got = str(dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        assert got == ts, f"{p.name}: wanted {ts}, tool wrote {got}"
    return out
