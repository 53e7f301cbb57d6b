"""DICOM photo -> RGB array + :class:`~analysis.types.ImageDescription`.

Pixel data are decoded by pydicom (``pydicom.pixels.pixel_array``) with its plugins
(pillow, python-gdcm) for JPEG baseline/extended, JPEG-LS, JPEG 2000 and RLE. The camera's
usual case, JPEG Baseline in YBR_FULL_422 / YBR_FULL, goes to Pillow (libjpeg-turbo) first:
the same pixels as python-gdcm, pydicom's first choice, in 0.44 of its time (0.20 s instead
of 0.45 s per 12-megapixel photo: ``python benchmarks/decode.py``), and Pillow releases the
GIL while it decodes; any other case, or a Pillow failure, uses pydicom's own order. YBR_FULL and
YBR_FULL_422 are converted to RGB (PS3.3 C.7.6.3.1.2); an ICC profile (0028,2000) is applied
with Pillow ``ImageCms`` to sRGB (PS3.3 C.11.15); a multi-frame object gives its first frame
or every frame.

Spacing: Pixel Spacing (0028,0030), else Imager Pixel Spacing (0018,1164), as mm per pixel
(rows and columns averaged when they differ slightly).

View (documented heuristic, first match wins):

1. Dermoscopic Photography Image Storage SOP class -> ``dermoscopy``;
2. View Code Sequence (0054,0220) code meaning: contains "left" -> ``left``, "right" ->
   ``right``, "front"/"anterior"/"frontal" -> ``frontal``;
3. Image Laterality (0020,0062) ``L`` / ``R`` -> ``left`` / ``right``;
4. Anatomic Region Sequence (0008,2218) / Body Part Examined not the face or head ->
   ``close-up``;
5. otherwise ``frontal``.

Limits (:class:`DecodeLimits`, from ``analysis.max_image_pixels`` / ``analysis.max_decoded_mb``)
are checked *before* any pixel is decoded, on the declared Rows x Columns x Samples per Pixel x
Bits Allocated x frames and, for JPEG, JPEG-LS and JPEG 2000, on the dimensions written in the
codestream itself (SOF / SIZ marker): a 66 kB JPEG or a 1 kB RLE file declaring 20000 x 20000
pixels is rejected with a reason instead of allocating gigabytes.

Every failure to read, decode or describe a photo is an :class:`~analysis.errors.InputRejected`
whose message names the problem (exception *type* only, never a value: a pydicom message can
quote a patient name or birth date). Attributes that only describe the photo (view, spacing,
body site) fall back to "unknown" when their values are malformed.

Nothing here logs patient data: only SOP class names, sizes and counts.
"""

from __future__ import annotations

import copy
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit

from analysis.errors import InputRejected
from analysis.types import ImageDescription, View

__all__ = [
    "DecodeLimits",
    "DecodedImage",
    "check_limits",
    "clean_uid",
    "codestream_size",
    "decode_dataset",
    "decode_dicom",
    "is_dicom_file",
    "read_dataset",
    "sanitize_source",
]

logger = logging.getLogger(__name__)

DERMOSCOPY_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.7"
_FACE_WORDS = ("face", "head", "cheek", "forehead", "nose", "chin", "eye", "lip", "facial")


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Size limits checked before decoding (defaults = the configuration's defaults)."""

    max_image_pixels: int = 100_000_000
    max_decoded_bytes: int = 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_image_pixels < 1 or self.max_decoded_bytes < 1:
            raise ValueError("max_image_pixels and max_decoded_bytes must be positive")


DEFAULT_LIMITS = DecodeLimits()


def clean_uid(value: object) -> str:
    """A UID as a lookup key: padding (space, NUL) and stray quote characters removed.

    For lookups only (SOP Class tables); references to a source object keep its UID exactly as
    stored.
    """
    return str(value if value is not None else "").strip(" \x00\t\r\n'\"")


@dataclass(frozen=True, slots=True, eq=False)
class DecodedImage:
    """One decoded photo (a frame) ready for :meth:`analysis.pipeline.Analyzer.analyze`."""

    pixels: npt.NDArray[Any]  # (H, W, 3) uint8 or uint16, sRGB
    description: ImageDescription
    frame: int = 0


def is_dicom_file(path: str | Path) -> bool:
    """Whether *path* starts with the 128-byte preamble and ``DICM`` (PS3.10 7.1)."""
    try:
        with Path(path).open("rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_dataset(path: str | Path) -> Dataset:
    """Read a DICOM file: a Part 10 file, or a bare data set without preamble and file meta.

    A bare data set (written without File Meta Information, as some archives hold them)
    gets the transfer syntax its encoding shows (implicit or explicit VR little endian);
    encapsulated pixel data without a transfer syntax cannot be decoded and are rejected.

    Raises
    ------
    InputRejected
        Not a DICOM data set, or unreadable (the message names the file, not its values).
    """
    name = Path(path).name
    try:
        ds = pydicom.dcmread(str(path), force=not is_dicom_file(path))
    except Exception as exc:  # pydicom raises many types for a broken file
        raise InputRejected(f"{name}: not a readable DICOM file ({type(exc).__name__})") from exc
    try:
        if "PixelData" in ds:
            ds.PixelData  # noqa: B018 - read now, so a truncated file fails here
        ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
        if ts is None:
            if "PixelData" not in ds or "Rows" not in ds:
                raise InputRejected(f"{name}: not a DICOM image (no Pixel Data or Rows)")
            implicit = bool(getattr(ds, "original_encoding", (False, True))[0])
            if not hasattr(ds, "file_meta"):
                ds.file_meta = pydicom.dataset.FileMetaDataset()
            if ds["PixelData"].is_undefined_length:
                raise InputRejected(
                    f"{name}: compressed Pixel Data without File Meta (transfer syntax unknown)"
                )
            ds.file_meta.TransferSyntaxUID = (
                ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
            )
    except InputRejected:
        raise
    except Exception as exc:
        raise InputRejected(f"{name}: not a readable DICOM file ({type(exc).__name__})") from exc
    return ds


#: Attributes DermNode's outputs copy from a source photo, beside the patient and study
#: attributes of :data:`integrations.dicom_common.PATIENT_STUDY_KEYWORDS`.
_COPIED_KEYWORDS = (
    "SeriesInstanceUID",
    "SeriesNumber",
    "InstanceNumber",
    "Modality",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "NumberOfFrames",
    "ImageLaterality",
    "BodyPartExamined",
)
_UID_KEYWORDS = frozenset({"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"})


def sanitize_source(ds: Dataset) -> tuple[Dataset, list[str]]:
    """The source as DermNode's encoders may copy it: malformed copied attributes left out.

    A shallow copy of *ds* without each copied patient/study/series attribute whose value
    cannot be read, whose VR is not the dictionary's, or whose value is invalid for its VR
    (a birth date ``1970-05-23``, a Patient's Name sent as a sequence, a 70 000-character
    name): the encoders then write the Type 2 attribute empty, and the photo's results are
    not lost over it. UIDs are kept exactly as stored (the results must land in the same
    study, and reference the photo by the UID the PACS has); only the SOP Class UID, an
    identifier looked up in tables, loses padding and stray quotes (:func:`clean_uid`).

    Returns
    -------
    (dataset, removed)
        The copy and the keywords left out (never their values).
    """
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.valuerep import validate_value

    from integrations.dicom_common import PATIENT_STUDY_KEYWORDS

    keywords = [k for k, _ in PATIENT_STUDY_KEYWORDS] + list(_COPIED_KEYWORDS)
    removed: list[str] = []
    for kw in keywords:
        if kw in _UID_KEYWORDS:
            continue
        try:
            if kw not in ds:
                continue
            elem = ds[kw]
            vr = dictionary_VR(kw)
            ok = elem.VR == vr or (vr == "US or SS" and elem.VR in ("US", "SS"))
            if ok and vr != "SQ":
                values = elem.value if elem.VM > 1 else [elem.value]
                for v in values:
                    if v is not None and v != "":
                        validate_value(vr, v, pydicom.config.RAISE)
        except Exception:
            ok = False
        if not ok:
            removed.append(kw)
    try:
        stored_class = str(ds.get("SOPClassUID", ""))
    except Exception:
        stored_class = ""
    sop_class = clean_uid(stored_class)
    if not removed and sop_class == stored_class:
        return ds, []
    # A shallow copy with its own element dict (``Dataset(ds)`` and ``copy.copy`` share the
    # dict, so a deletion would reach the source): the kept elements are shared.
    out = copy.copy(ds)
    gone = {int(tag_for_keyword(kw) or -1) for kw in removed}
    out._dict = {tag: elem for tag, elem in ds._dict.items() if int(tag) not in gone}
    if sop_class != stored_class:
        # a class identifier, looked up in tables by the encoders: padding and quotes go
        out.SOPClassUID = sop_class
    logger.info("%s: malformed %s left out of the outputs", _sop_name(ds), ", ".join(removed))
    return out, removed


def decode_dicom(
    path: str | Path, frames: str = "first", limits: DecodeLimits = DEFAULT_LIMITS
) -> list[DecodedImage]:
    """Read and decode a DICOM file. See :func:`read_dataset` and :func:`decode_dataset`."""
    ds = read_dataset(path)
    return decode_dataset(ds, frames=frames, source=str(path), limits=limits)


def _attr_int(ds: Dataset, keyword: str, default: int | None) -> int | None:
    """An integer attribute, ``default`` when absent or malformed (invalid IS/US)."""
    try:
        v = ds.get(keyword)
        if v is None or v == "":
            return default
        return int(v)
    except Exception:
        return default


def check_limits(ds: Dataset, limits: DecodeLimits, frames: int = 1) -> None:
    """Reject a photo whose declared or encoded size exceeds *limits*, before decoding.

    Parameters
    ----------
    ds
        The data set (Pixel Data read, not decoded).
    limits
        The limits.
    frames
        How many frames will be decoded.

    Raises
    ------
    InputRejected
        Size attributes missing or malformed, or a limit exceeded.
    """
    rows, cols = _attr_int(ds, "Rows", None), _attr_int(ds, "Columns", None)
    if rows is None or cols is None or rows < 1 or cols < 1:
        raise InputRejected(f"{_sop_name(ds)}: Rows/Columns missing or invalid")
    spp = _attr_int(ds, "SamplesPerPixel", 1) or 1
    bits = _attr_int(ds, "BitsAllocated", 8) or 8
    sizes = [(rows, cols, "declares")]
    cs = codestream_size(ds)
    if cs is not None:
        sizes.append((cs[0], cs[1], "encodes"))
    for r, c, verb in sizes:
        if r * c > limits.max_image_pixels:
            raise InputRejected(
                f"{_sop_name(ds)}: the photo {verb} {c} x {r} pixels, more than the limit of "
                f"{limits.max_image_pixels} (analysis.max_image_pixels); not decoded"
            )
        # decoded as up to 4 samples of the larger of Bits Allocated and 8 bits, RGB out
        need = r * c * max(spp, 3) * max(1, (bits + 7) // 8) * max(1, frames)
        if need > limits.max_decoded_bytes:
            raise InputRejected(
                f"{_sop_name(ds)}: decoding would need {need // (1024 * 1024)} MB, more than "
                f"the limit of {limits.max_decoded_bytes // (1024 * 1024)} MB "
                "(analysis.max_decoded_mb); not decoded"
            )


_SOF_MARKERS = frozenset({*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xF7})


def codestream_size(ds: Dataset) -> tuple[int, int] | None:
    """(rows, columns) written in the first fragment's JPEG/JPEG-LS SOF or JPEG 2000 SIZ
    marker; ``None`` for native pixel data, RLE, or a codestream this does not recognise."""
    try:
        elem = ds["PixelData"]
        if not elem.is_undefined_length:
            return None
        from pydicom.encaps import generate_fragments

        value = bytes(elem.value)
        fragment = next(generate_fragments(value[8 + int.from_bytes(value[4:8], "little") :]))
    except Exception:
        return None
    head = bytes(fragment[:65536])
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(head)
    at = head.find(b"\xff\x4f\xff\x51")  # SOC + SIZ (raw codestream or inside a JP2 box)
    if at >= 0 and len(head) >= at + 24:
        x, y, x0, y0 = (int.from_bytes(head[at + o : at + o + 4], "big") for o in (8, 12, 16, 20))
        return max(0, y - y0), max(0, x - x0)
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(head[i + 2 : i + 4], "big")
        if marker in _SOF_MARKERS and i + 9 <= len(head):
            return (
                int.from_bytes(head[i + 5 : i + 7], "big"),
                int.from_bytes(head[i + 7 : i + 9], "big"),
            )
        if marker == 0xDA:  # start of scan before any SOF
            return None
        i += 2 + length
    return None


def decode_dataset(
    ds: Dataset,
    frames: str = "first",
    source: str | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> list[DecodedImage]:
    """Decode a dataset's pixels to RGB frames with their descriptions.

    Parameters
    ----------
    ds
        The dataset (with pixel data).
    frames
        ``"first"`` (default) or ``"all"`` frames of a multi-frame object.
    source
        Echoed in the description (default: the SOP Instance UID, exactly as stored).
    limits
        Size limits checked before anything is decoded.

    Raises
    ------
    InputRejected
        No pixel data, too large, an undecodable transfer syntax, or not a colour/greyscale
        photo; any other failure of reading the data set is turned into one too.
    """
    if frames not in ("first", "all"):
        raise ValueError(f"frames must be 'first' or 'all', got {frames!r}")
    try:
        return _decode(ds, frames, source, limits)
    except InputRejected:
        raise
    except MemoryError as exc:
        raise InputRejected(f"{_sop_name(ds)}: not enough memory to decode the photo") from exc
    except Exception as exc:
        raise InputRejected(f"{_sop_name(ds)}: cannot be read ({type(exc).__name__})") from exc


def _decode(
    ds: Dataset, frames: str, source: str | None, limits: DecodeLimits
) -> list[DecodedImage]:
    if "PixelData" not in ds:
        raise InputRejected(f"{_sop_name(ds)}: no Pixel Data")
    n_frames = _attr_int(ds, "NumberOfFrames", 1) or 1
    if "NumberOfFrames" in ds and _attr_int(ds, "NumberOfFrames", None) is None:
        # an invalid IS value that pydicom's decoders would trip over: one frame is what
        # a photo without a readable count holds (PS3.3 C.7.6.6)
        ds.NumberOfFrames = 1
        logger.debug("%s: invalid Number of Frames read as 1", _sop_name(ds))
    indices = range(n_frames) if frames == "all" else range(1)
    check_limits(ds, limits, len(indices))
    src = source or _uid_as_stored(ds)
    description = ImageDescription(
        source=src,
        view=_describe(guess_view, ds, View.FRONTAL),
        spacing_mm=_describe(spacing_mm, ds, None),
        body_site=_describe(body_site, ds, None),
    )
    out: list[DecodedImage] = []
    for i in indices:
        try:
            # raw=False + as_rgb=True: YBR_FULL / YBR_FULL_422 come back as RGB, whichever
            # plugin decoded them (pydicom knows which JPEG decoders convert themselves)
            arr = _decode_frame(ds, i if n_frames > 1 else None)
        except MemoryError:
            raise
        except Exception as exc:
            raise InputRejected(
                f"{_sop_name(ds)}: cannot decode pixel data ({_ts_name(ds)}): {type(exc).__name__}"
            ) from exc
        rgb = _to_rgb(ds, arr)
        desc = description
        if n_frames > 1 and frames == "all":
            desc = ImageDescription(
                source=f"{src}#frame{i + 1}",
                view=description.view,
                spacing_mm=description.spacing_mm,
                body_site=description.body_site,
            )
        out.append(DecodedImage(rgb, desc, i))
    logger.info(
        "decoded %s: %d frame(s) of %dx%d", _sop_name(ds), len(out), *out[0].pixels.shape[1::-1]
    )
    return out


def _uid_as_stored(ds: Dataset) -> str:
    try:
        elem = ds.get("SOPInstanceUID")
        return "" if elem is None else str(elem)
    except Exception:
        return ""


_T = TypeVar("_T")


def _describe(fn: Callable[[Dataset], _T], ds: Dataset, default: _T) -> _T:
    """A descriptive attribute, *default* when its value is malformed."""
    try:
        return fn(ds)
    except Exception as exc:
        logger.debug("%s: %s unreadable (%s)", _sop_name(ds), fn.__name__, type(exc).__name__)
        return default


def _ts_name(ds: Dataset) -> str:
    try:
        ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
        return str(getattr(ts, "name", ts)) if ts is not None else "transfer syntax unknown"
    except Exception:
        return "?"


#: (transfer syntax, photometric interpretation) that Pillow decodes first (see above).
_PILLOW_FIRST = {
    (JPEGBaseline8Bit, "YBR_FULL_422"),
    (JPEGBaseline8Bit, "YBR_FULL"),
}


def _decode_frame(ds: Dataset, index: int | None) -> npt.NDArray[Any]:
    """One frame as RGB (or greyscale): Pillow first where it is known to be faster."""
    ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    if ts == JPEGBaseline8Bit and pi == "RGB" and _jpeg_is_ycbcr(ds, index):
        # RGB declared over a YCbCr JPEG stream (seen from cameras and converters): the
        # stream's own markers say how to convert it, and Pillow (libjpeg) follows them.
        try:
            return _pillow_frame(ds, index)
        except Exception as exc:  # noqa: BLE001 - pydicom's own path decides below
            logger.debug("Pillow could not decode the frame (%s)", type(exc).__name__)
    if (ts, pi) in _PILLOW_FIRST and (_attr_int(ds, "BitsStored", 8) or 8) == 8:
        try:
            return pixel_array(ds, index=index, raw=False, as_rgb=True, decoding_plugin="pillow")
        except Exception as exc:  # noqa: BLE001 - pydicom's own plugin order decides below
            logger.debug(
                "Pillow could not decode the frame (%s); trying the other plugins",
                type(exc).__name__,
            )
    arr = pixel_array(ds, index=index, raw=False, as_rgb=True)
    if pi == "PALETTE COLOR":
        from pydicom.pixels.processing import apply_color_lut

        lut = apply_color_lut(arr, ds)
        if lut.dtype != np.uint8:  # 16-bit LUT entries (PS3.3 C.7.6.3.1.6): keep 8 bits
            lut = (lut.astype(np.uint32) >> 8).astype(np.uint8)
        return np.asarray(lut)
    return arr


def _jpeg_frame_bytes(ds: Dataset, index: int | None) -> bytes:
    from pydicom.encaps import generate_frames

    n = _attr_int(ds, "NumberOfFrames", 1) or 1
    for i, frame in enumerate(generate_frames(ds.PixelData, number_of_frames=n)):
        if i == (index or 0):
            return bytes(frame)
    raise ValueError("frame not found")


def _jpeg_is_ycbcr(ds: Dataset, index: int | None) -> bool:
    """Whether a baseline JPEG stream holds YCbCr (JFIF, or component IDs 1,2,3 without an
    Adobe transform 0), per the usual libjpeg rules (ITU-T T.871, Adobe TN 5116)."""
    try:
        head = _jpeg_frame_bytes(ds, index)[:65536]
    except Exception:
        return False
    if b"\xff\xee" in head:  # Adobe APP14: the transform flag decides
        at = head.find(b"\xff\xeeAdobe") if b"Adobe" in head else -1
        if at >= 0 and len(head) > at + 15:
            return head[at + 15] == 1
    if b"JFIF\x00" in head:
        return True
    sof = head.find(b"\xff\xc0")
    if sof >= 0 and len(head) > sof + 15 and head[sof + 9] == 3:
        ids = (head[sof + 10], head[sof + 13], head[sof + 16] if len(head) > sof + 16 else 0)
        return ids != (ord("R"), ord("G"), ord("B"))
    return False


def _pillow_frame(ds: Dataset, index: int | None) -> npt.NDArray[Any]:
    from PIL import Image

    with Image.open(io.BytesIO(_jpeg_frame_bytes(ds, index))) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _sop_name(ds: Dataset) -> str:
    """The SOP Class *name* (never the raw value: a garbled one could hold any bytes)."""
    try:
        uid = UID(clean_uid(ds.get("SOPClassUID")))
    except Exception:
        return "dataset"
    return str(uid.name) if uid.is_valid and uid.name != uid else "dataset"


def _to_rgb(ds: Dataset, arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    if arr.ndim == 2:  # greyscale photo: replicate (MONOCHROME1 inverted first)
        if pi == "MONOCHROME1":
            arr = arr.max() - arr
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputRejected(f"{_sop_name(ds)}: pixel array shape {arr.shape} is not a photo")
    bits = _attr_int(ds, "BitsStored", 8) or 8
    if arr.dtype == np.uint8:
        bits = min(bits, 8)
    if arr.dtype.kind == "i":
        arr = np.clip(arr, 0, None)
    if bits <= 8:
        rgb = arr.astype(np.uint8, copy=False)
    else:
        rgb = (arr.astype(np.uint32) << (16 - bits)).clip(0, 65535).astype(np.uint16)
    if "ICCProfile" in ds and rgb.dtype == np.uint8:
        rgb = _apply_icc(bytes(ds.ICCProfile), rgb)
    return np.ascontiguousarray(rgb)


def _apply_icc(profile: bytes, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Convert from the embedded ICC profile to sRGB (relative colorimetric)."""
    from PIL import Image, ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        dst = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(Image.fromarray(rgb, "RGB"), src, dst, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        logger.warning("ICC profile could not be applied (%s); using the pixels as sRGB", exc)
        return rgb
    if out is None:  # pragma: no cover - only with inPlace=True
        return rgb
    return np.asarray(out, dtype=np.uint8)


def spacing_mm(ds: Dataset) -> float | None:
    """Pixel Spacing, else Imager Pixel Spacing, in mm per pixel; None when absent."""
    for kw in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(kw)
        if value is None:
            continue
        try:
            vals = [float(v) for v in value][:2]
        except (TypeError, ValueError):
            continue
        if len(vals) == 2 and all(v > 0 for v in vals):
            if abs(vals[0] - vals[1]) > 0.05 * max(vals):
                logger.warning("%s rows/columns differ; using their mean", kw)
            return (vals[0] + vals[1]) / 2.0
    return None


def _code_meaning(ds: Dataset, kw: str) -> str:
    seq = ds.get(kw)
    if not seq:
        return ""
    item = seq[0]
    return str(item.get("CodeMeaning", "")).lower()


def body_site(ds: Dataset) -> str | None:
    """Anatomic Region Sequence code meaning, else Body Part Examined."""
    meaning = _code_meaning(ds, "AnatomicRegionSequence")
    if meaning:
        return meaning
    bpe = str(ds.get("BodyPartExamined", "")).strip()
    return bpe.lower() or None


def guess_view(ds: Dataset) -> View:
    """The photo's view by the heuristic of the module docstring."""
    if clean_uid(ds.get("SOPClassUID", "")) == DERMOSCOPY_SOP_CLASS:
        return View.DERMOSCOPY
    meaning = _code_meaning(ds, "ViewCodeSequence")
    if "left" in meaning:
        return View.LEFT
    if "right" in meaning:
        return View.RIGHT
    if any(w in meaning for w in ("front", "anterior")):
        return View.FRONTAL
    lat = str(ds.get("ImageLaterality", "")).strip().upper()
    if lat == "L":
        return View.LEFT
    if lat == "R":
        return View.RIGHT
    site = body_site(ds)
    if site and not any(w in site for w in _FACE_WORDS):
        return View.CLOSE_UP
    return View.FRONTAL
