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

Nothing here logs patient data: only SOP class names, sizes and counts.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array
from pydicom.uid import JPEGBaseline8Bit

from analysis.errors import InputRejected
from analysis.types import ImageDescription, View

__all__ = ["DecodedImage", "decode_dataset", "decode_dicom", "is_dicom_file"]

logger = logging.getLogger(__name__)

DERMOSCOPY_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.7"
_FACE_WORDS = ("face", "head", "cheek", "forehead", "nose", "chin", "eye", "lip", "facial")


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


def decode_dicom(path: str | Path, frames: str = "first") -> list[DecodedImage]:
    """Read and decode a DICOM file. See :func:`decode_dataset`."""
    try:
        ds = pydicom.dcmread(str(path))
    except Exception as exc:  # pydicom raises many types for a broken file
        raise InputRejected(f"{Path(path).name}: not a readable DICOM file ({exc})") from exc
    return decode_dataset(ds, frames=frames, source=str(path))


def decode_dataset(
    ds: Dataset, frames: str = "first", source: str | None = None
) -> list[DecodedImage]:
    """Decode a dataset's pixels to RGB frames with their descriptions.

    Parameters
    ----------
    ds
        The dataset (with pixel data).
    frames
        ``"first"`` (default) or ``"all"`` frames of a multi-frame object.
    source
        Echoed in the description (default: the SOP Instance UID).

    Raises
    ------
    InputRejected
        No pixel data, an undecodable transfer syntax, or not a colour/greyscale photo.
    """
    if frames not in ("first", "all"):
        raise ValueError(f"frames must be 'first' or 'all', got {frames!r}")
    if "PixelData" not in ds:
        raise InputRejected(f"{_sop_name(ds)}: no Pixel Data")
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    indices = range(n_frames) if frames == "all" else range(1)
    src = source or str(ds.get("SOPInstanceUID", ""))
    description = ImageDescription(
        source=src, view=guess_view(ds), spacing_mm=spacing_mm(ds), body_site=body_site(ds)
    )
    out: list[DecodedImage] = []
    for i in indices:
        try:
            # raw=False + as_rgb=True: YBR_FULL / YBR_FULL_422 come back as RGB, whichever
            # plugin decoded them (pydicom knows which JPEG decoders convert themselves)
            arr = _decode_frame(ds, i if n_frames > 1 else None)
        except Exception as exc:
            ts = ds.file_meta.get("TransferSyntaxUID", "?") if hasattr(ds, "file_meta") else "?"
            raise InputRejected(f"{_sop_name(ds)}: cannot decode pixel data ({ts}): {exc}") from exc
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


#: (transfer syntax, photometric interpretation) that Pillow decodes first (see above).
_PILLOW_FIRST = {
    (JPEGBaseline8Bit, "YBR_FULL_422"),
    (JPEGBaseline8Bit, "YBR_FULL"),
}


def _decode_frame(ds: Dataset, index: int | None) -> npt.NDArray[Any]:
    """One frame as RGB (or greyscale): Pillow first where it is known to be faster."""
    ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    if (ts, pi) in _PILLOW_FIRST and int(ds.get("BitsStored", 8) or 8) == 8:
        try:
            return pixel_array(ds, index=index, raw=False, as_rgb=True, decoding_plugin="pillow")
        except Exception as exc:  # noqa: BLE001 - pydicom's own plugin order decides below
            logger.debug("Pillow could not decode the frame (%s); trying the other plugins", exc)
    return pixel_array(ds, index=index, raw=False, as_rgb=True)


def _sop_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID")
    return str(getattr(uid, "name", uid)) if uid is not None else "dataset"


def _to_rgb(ds: Dataset, arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    if arr.ndim == 2:  # greyscale photo: replicate (MONOCHROME1 inverted first)
        if pi == "MONOCHROME1":
            arr = arr.max() - arr
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputRejected(f"{_sop_name(ds)}: pixel array shape {arr.shape} is not a photo")
    bits = int(ds.get("BitsStored", 8) or 8)
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
    if str(ds.get("SOPClassUID", "")) == DERMOSCOPY_SOP_CLASS:
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
