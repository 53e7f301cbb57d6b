"""Hostile and malformed DICOM inputs, built from a real photo (no patient data).

The photo is a face of the Face Research Lab London set (CC BY 4.0, DeBruine & Jones 2017,
see tests/data/README.md; the committed ``tests/data/models/london_001_03.jpg``), reduced in
size, or a seeded synthetic pattern when it is absent. Each builder returns encoded bytes of a
Part 10 file (or of a bare data set) as a careless modality, an old archive or an attacker
would produce them.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

FACES = Path("/work/shared/data/faces-london/neutral_front")
VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"
DERMOSCOPY = "1.2.840.10008.5.1.4.1.1.77.1.7"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
SENTINEL_NAME = "PHI^SENTINEL"
SENTINEL_BIRTH = "1970-05-23"


_F = TypeVar("_F", bound=Callable[..., Any])


def quiet(fn: _F) -> _F:
    """Build without pydicom's warnings about the invalid values we write on purpose."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def photo(size: int = 256, index: int = 1) -> np.ndarray:
    """A real face photo (RGB uint8, *size* x *size*), or a seeded pattern without the data.

    Index 1 and 14 are committed (``tests/data/models/london_0NN_03.jpg``), others are read from
    the shared data folder when it is there.
    """
    committed = Path(__file__).parent / "data" / "models" / f"london_{index:03d}_03.jpg"
    path = committed if committed.is_file() else FACES / f"{index:03d}_03.jpg"
    if path.is_file():
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([(xx * 3) % 256, (yy * 2) % 256, (xx + yy) % 256], -1)
    return np.clip(base + rng.integers(0, 20, base.shape), 0, 255).astype(np.uint8)


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def base_dataset(rows: int, cols: int, sop_class: str = VL_PHOTO) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = SENTINEL_NAME
    ds.PatientID = "HOSTILE-1"
    ds.PatientBirthDate = "19700523"
    ds.PatientSex = "F"
    ds.StudyDate = "20240102"
    ds.Modality = "XC"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    return ds


def with_meta(ds: Dataset, ts: str) -> Dataset:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ts
    return ds


def to_bytes(ds: Dataset, ts: str | None = None) -> bytes:
    """A Part 10 file (preamble, meta), written as is (no validation, no fixes)."""
    if ts is not None or not hasattr(ds, "file_meta"):
        with_meta(ds, ts or ExplicitVRLittleEndian)
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def native(rgb: np.ndarray, sop_class: str = VL_PHOTO) -> Dataset:
    ds = base_dataset(rgb.shape[0], rgb.shape[1], sop_class)
    ds.PixelData = rgb.tobytes()
    return with_meta(ds, ExplicitVRLittleEndian)


def jpeg(rgb: np.ndarray, pi: str = "YBR_FULL_422") -> Dataset:
    ds = base_dataset(rgb.shape[0], rgb.shape[1])
    ds.PhotometricInterpretation = pi
    ds.PixelData = encapsulate([jpeg_bytes(rgb)])
    ds["PixelData"].VR = "OB"
    return with_meta(ds, JPEGBaseline8Bit)


# -- named hostile cases -------------------------------------------------------------------


@quiet
def jpeg_bomb(declared: int = 20000) -> bytes:
    """A small JPEG whose SOF (and Rows/Columns) declare *declared* x *declared* pixels.

    The codestream is a real 64 x 64 baseline JPEG with its SOF frame size rewritten, as an
    attacker would: about 1-70 kB on the wire, gigabytes once decoded.
    """
    small = jpeg_bytes(photo(64))
    sof = small.find(b"\xff\xc0")
    patched = small[: sof + 5] + struct.pack(">HH", declared, declared) + small[sof + 9 :]
    ds = base_dataset(declared, declared)
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = encapsulate([patched])
    ds["PixelData"].VR = "OB"
    return to_bytes(ds, JPEGBaseline8Bit)


@quiet
def rle_bomb(declared: int = 20000) -> bytes:
    """A 1 kB RLE Lossless file declaring *declared* x *declared* RGB pixels (PS3.5 G)."""
    header = struct.pack("<16L", 3, 64, 64 + 300, 64 + 600, *([0] * 12))
    segment = bytes([0x81, 0]) * 150  # runs of 128 zeros; far fewer bytes than declared
    ds = base_dataset(declared, declared)
    ds.PixelData = encapsulate([header + segment * 3])
    ds["PixelData"].VR = "OB"
    return to_bytes(ds, RLELossless)


@quiet
def bad_birth_date(rgb: np.ndarray) -> bytes:
    ds = jpeg(rgb)
    ds.PatientBirthDate = SENTINEL_BIRTH  # DA must be YYYYMMDD
    return to_bytes(ds)


@quiet
def person_name_wrong_vr(rgb: np.ndarray) -> bytes:
    ds = jpeg(rgb)
    ds.add_new(0x00100010, "SQ", Sequence([Dataset()]))  # Patient's Name as a sequence
    return to_bytes(ds)


@quiet
def huge_name(rgb: np.ndarray, n: int = 70_000) -> bytes:
    ds = jpeg(rgb)
    ds.PatientName = ("PHI^SENTINEL" * (n // 12 + 1))[:n]
    return to_bytes(ds)


@quiet
def nested_sequences(rgb: np.ndarray, depth: int = 200) -> bytes:
    ds = jpeg(rgb)
    inner = Dataset()
    inner.CodeMeaning = "face"
    for _ in range(depth):
        outer = Dataset()
        outer.AnatomicRegionSequence = Sequence([inner])
        inner = outer
    ds.AnatomicRegionSequence = inner.AnatomicRegionSequence
    return to_bytes(ds)


@quiet
def quoted_uids(rgb: np.ndarray) -> bytes:
    """UIDs with stray quote characters, as in some public dermoscopy archives."""
    ds = jpeg(rgb)
    uid = generate_uid()
    ds.SOPClassUID = f"'{VL_PHOTO}' "
    ds.SOPInstanceUID = f'"{uid}"'
    ds.StudyInstanceUID = f"'{generate_uid()}'"
    ds.file_meta.MediaStorageSOPClassUID = VL_PHOTO
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    return to_bytes(ds)


@quiet
def bare_palette_sc(rgb: np.ndarray) -> bytes:
    """A palette-colour Secondary Capture written without preamble and File Meta."""
    img = Image.fromarray(rgb).quantize(colors=256)
    idx = np.asarray(img, dtype=np.uint8)
    pal = np.asarray(img.getpalette()[: 256 * 3], dtype=np.uint16).reshape(-1, 3)
    pal = np.vstack([pal, np.zeros((256 - len(pal), 3), np.uint16)]) * 257  # 16-bit entries
    ds = base_dataset(idx.shape[0], idx.shape[1], SECONDARY_CAPTURE)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "PALETTE COLOR"
    del ds.PlanarConfiguration
    for i, colour in enumerate(("Red", "Green", "Blue")):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        ds.add_new(0x00281201 + i, "OW", pal[:, i].astype("<u2").tobytes())
    ds.PixelData = idx.tobytes()
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    return bytes(fp.getvalue())


@quiet
def rgb_over_ycbcr_jpeg(rgb: np.ndarray) -> bytes:
    """Photometric Interpretation RGB over a JFIF (YCbCr) JPEG stream."""
    return to_bytes(jpeg(rgb, pi="RGB"))


@quiet
def icon_sequence(rgb: np.ndarray) -> bytes:
    ds = jpeg(rgb)
    icon = Dataset()
    icon.Rows = icon.Columns = 8
    icon.SamplesPerPixel = 1
    icon.PhotometricInterpretation = "MONOCHROME2"
    icon.BitsAllocated, icon.BitsStored, icon.HighBit = 8, 8, 7
    icon.PixelRepresentation = 0
    icon.PixelData = bytes(64)
    ds.IconImageSequence = Sequence([icon])
    return to_bytes(ds)


@quiet
def invalid_ds_is(rgb: np.ndarray) -> bytes:
    """Pixel Spacing (DS), Instance Number and Number of Frames (IS) that are not numbers."""
    ds = native(rgb)
    ds.PixelSpacing = ["0.1000", "0.100"]
    ds.InstanceNumber = "15"
    ds.NumberOfFrames = "1"
    raw = to_bytes(ds)
    raw = raw.replace(b"0.1000\\0.100", b"0.1mm\\abc.xy", 1)
    raw = raw.replace(b"\x20\x00\x13\x00IS\x02\x0015", b"\x20\x00\x13\x00IS\x02\x001x", 1)
    return raw.replace(b"\x28\x00\x08\x00IS\x02\x001 ", b"\x28\x00\x08\x00IS\x02\x00on", 1)


@quiet
def implicit_native(rgb: np.ndarray) -> bytes:
    return to_bytes(native(rgb), ImplicitVRLittleEndian)


#: name -> builder(rgb) of a file that must be read and analysed.
READABLE: dict[str, Callable[[np.ndarray], bytes]] = {
    "bad_birth_date": bad_birth_date,
    "person_name_wrong_vr": person_name_wrong_vr,
    "huge_name": huge_name,
    "nested_sequences": nested_sequences,
    "quoted_uids": quoted_uids,
    "bare_palette_sc": bare_palette_sc,
    "rgb_over_ycbcr_jpeg": rgb_over_ycbcr_jpeg,
    "icon_sequence": icon_sequence,
    "invalid_ds_is": invalid_ds_is,
    "implicit_native": implicit_native,
}
