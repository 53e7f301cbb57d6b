"""The human-readable report: a PDF (one landscape page per photo) and its DICOM wrapper.

Each page fits one screen: the patient/study header, the photo with its zones outlined and the
binary feature maps filled (colours in a legend; the same colours as the SEG segments), the
continuous maps as small heat panels, a bar per concern score, a zone table, the quality
warnings, what was not assessed and why, the limits of the method, and the statement that this
is decision support, not a diagnosis.

Korean (and other CJK) names: the header uses a font with Hangul. A TrueType font is embedded
when one is found (``DERMNODE_PDF_FONT`` or a known system path such as Droid Sans Fallback);
otherwise reportlab's built-in CID font ``HYSMyeongJo-Medium`` (Adobe-Korea1, no font file, the
viewer supplies the glyphs). The PDF is written with reportlab's *invariant* mode (fixed
creation date and document ID), so the same result gives the same bytes.

The Encapsulated PDF Storage object (PS3.3 A.45.1) carries the same bytes, with patient and
study copied from the source photo, a new series, and a deterministic SOP Instance UID.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from analysis.keys import CONCERNS, key_info
from analysis.types import ZONES, AnalysisResult, FeatureMap, ImageResult, MapKind
from integrations.dicom_common import SERIES_NUMBERS, Equipment, copy_patient_study
from integrations.dicom_seg import segment_colour
from integrations.study import StudyInfo
from integrations.uids import OutputUids

__all__ = [
    "DISCLAIMER",
    "ENCAPSULATED_PDF",
    "METHOD_LIMITS",
    "encapsulated_pdf",
    "format_person_name",
    "overlay_image",
    "render_report",
]

logger = logging.getLogger(__name__)

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
DISCLAIMER = (
    "Decision support, not diagnosis. These measurements describe the appearance of the skin "
    "in this photograph; they must be interpreted by a clinician together with the examination."
)
METHOD_LIMITS = (
    "Values depend on lighting, camera, distance and make-up; compare visits only when they were "
    "photographed the same way. Lengths and areas use an estimated scale unless the image carries "
    "Pixel Spacing. Scores 0-100 are relative (higher = more visible) and not validated against "
    "clinical grading scales. Hydration and UV damage cannot be measured from visible-light photos."
)

_PAGE = landscape(A4)
_MARGIN = 28.0
_FONT = "Helvetica"
_BOLD = "Helvetica-Bold"
_CID_FONT = "HYSMyeongJo-Medium"
#: A TrueType font is used only if it has glyphs for all of these (Latin, Hangul, Hanja).
_COVERAGE_PROBE = "Hong Gildong 홍길동 洪吉洞 김민지"
_cjk_font: str | None = None


def _ttf_covers(font: TTFont, text: str) -> bool:
    cmap = font.face.charToGlyph
    return all(ord(ch) in cmap for ch in text if not ch.isspace())


def _cjk() -> str:
    """Register (once) and return the name of a font with Latin, Hangul and Hanja glyphs.

    ``DERMNODE_PDF_FONT`` may name a TrueType file (embedded as a subset); it is used only when
    it covers Latin, Hangul and Hanja. Otherwise the built-in CID font, which needs no file.
    """
    global _cjk_font
    if _cjk_font is not None:
        return _cjk_font
    path = os.environ.get("DERMNODE_PDF_FONT", "")
    if path and Path(path).is_file():
        try:
            font = TTFont("DermNodeCJK", path)
            if _ttf_covers(font, _COVERAGE_PROBE):
                pdfmetrics.registerFont(font)
                _cjk_font = "DermNodeCJK"
                return _cjk_font
            logger.warning("PDF font %s lacks Hangul or Hanja glyphs, using %s", path, _CID_FONT)
        except Exception:  # noqa: BLE001 - a broken font file falls back to the CID font
            logger.warning("PDF font %s could not be loaded, using %s", path, _CID_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(_CID_FONT))
    _cjk_font = _CID_FONT
    return _cjk_font


def _font_for(text: str, bold: bool = False) -> str:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return _cjk()
    return _BOLD if bold else _FONT


def format_person_name(pn: str) -> str:
    """A DICOM PN for display.

    ``Hong^Gildong=洪^吉洞=홍^길동`` becomes ``Hong Gildong / 洪吉洞 / 홍길동``.

    Alphabetic groups keep a space between family and given name; ideographic and phonetic
    groups (CJK) are written without one, as Korean names are.
    """
    groups = pn.split("=")
    out: list[str] = []
    for i, group in enumerate(groups):
        parts = [p for p in group.split("^") if p]
        if not parts:
            continue
        out.append(("" if i > 0 else " ").join(parts))
    return " / ".join(out)


def _date(value: str) -> str:
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


@dataclass(frozen=True, slots=True)
class _Page:
    image: ImageResult
    study: StudyInfo | None
    photo: npt.NDArray[np.uint8] | None


def _outline(mask: npt.NDArray[np.bool_], width: int) -> npt.NDArray[np.bool_]:
    inner = mask.copy()
    for _ in range(width):
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    return np.asarray(mask & ~inner)


#: Long side (px) at which photos are drawn for the report (900 px are placed on the page).
_DRAW_MAX_SIDE = 1200


def _fit(
    image: ImageResult, photo: npt.NDArray[np.uint8] | None, max_side: int | None
) -> tuple[tuple[int, int], npt.NDArray[np.uint8] | None, float]:
    """The drawing size, the photo at that size and the scale (1 = source size)."""
    h, w = image.image_shape
    f = 1.0 if not max_side or max(h, w) <= max_side else max_side / max(h, w)
    shape = (max(1, round(h * f)), max(1, round(w * f)))
    if photo is not None and photo.shape[:2] == (h, w) and f < 1.0:
        photo = np.asarray(
            cv2.resize(photo, (shape[1], shape[0]), interpolation=cv2.INTER_AREA), np.uint8
        )
    return shape, photo, f


def _resize_mask(mask: npt.NDArray[np.bool_], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    if mask.shape == shape:
        return mask
    small = cv2.resize(mask.view(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.asarray(small.astype(bool))


def _base(photo: npt.NDArray[np.uint8] | None, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    if photo is None or photo.shape[:2] != shape:
        return np.full((*shape, 3), 96.0, np.float32)
    rgb = photo if photo.ndim == 3 else np.repeat(photo[..., None], 3, axis=2)
    return rgb[..., :3].astype(np.float32)


def overlay_image(
    image: ImageResult, photo: npt.NDArray[np.uint8] | None, max_side: int | None = None
) -> Image.Image:
    """The photo with zone outlines and binary features filled in their colours.

    With *max_side*, drawn at most that many pixels on the long side (for the report; a
    12-megapixel photo is not drawn at full size for a page).
    """
    shape, photo, _ = _fit(image, photo, max_side)
    out = _base(photo, shape)
    width = max(1, round(max(shape) / 300))
    for zone in image.zones:
        if zone.region in ("face", "skin"):
            continue
        edge = _outline(_resize_mask(zone.mask, shape), width)
        out[edge] = np.asarray(segment_colour(zone.region), np.float32)
    for fmap in image.maps:
        if fmap.kind is MapKind.BINARY:
            colour = np.asarray(segment_colour(fmap.name), np.float32)
            sel = _resize_mask(fmap.data, shape)
            out[sel] = 0.4 * out[sel] + 0.6 * colour
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _heat(
    image: ImageResult,
    fmap: FeatureMap,
    photo: npt.NDArray[np.uint8] | None,
    max_side: int | None = None,
) -> Image.Image:
    shape, photo, _ = _fit(image, photo, max_side)
    out = _base(photo, shape) * 0.5
    colour = np.asarray(segment_colour(fmap.name), np.float32)
    data = fmap.data
    if data.shape != shape:
        data = cv2.resize(data, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    alpha = np.clip(data, 0.0, 1.0)[..., None]
    out = (1 - alpha) * out + alpha * colour
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _draw_image(c: Canvas, img: Image.Image, x: float, y: float, w: float, h: float) -> None:
    """Draw *img* fitted into the box (x, y lower-left), downscaled to at most 900 px."""
    img = img.copy()
    img.thumbnail((900, 900))
    scale = min(w / img.width, h / img.height)
    dw, dh = img.width * scale, img.height * scale
    c.drawImage(ImageReader(img), x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)
    c.setStrokeGray(0.6)
    c.rect(x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)


def _text(c: Canvas, x: float, y: float, text: str, size: float = 8, bold: bool = False) -> None:
    c.setFont(_font_for(text, bold), size)
    c.drawString(x, y, text)


def _para(
    c: Canvas, x: float, y: float, text: str, width: float, size: float = 7, bold: bool = False
) -> float:
    """Draw wrapped text from the top line at *y*; return the y below it."""
    font = _font_for(text, bold)
    for line in simpleSplit(text, font, size, width):
        c.setFont(font, size)
        c.drawString(x, y, line)
        y -= size * 1.25
    return y


def _header(c: Canvas, page: _Page, index: int, total: int) -> float:
    w, h = _PAGE
    y = h - _MARGIN
    c.setFillColorRGB(0.12, 0.22, 0.35)
    c.rect(0, y - 6, w, _MARGIN + 6, stroke=0, fill=1)
    c.setFillGray(1)
    _text(c, _MARGIN, y + 4, "DermNode skin analysis report", 13, bold=True)
    _text(c, w - _MARGIN - 190, y + 4, "Decision support, not diagnosis", 9, bold=True)
    c.setFillGray(0)
    y -= 22
    s = page.study
    if s is not None:
        name = format_person_name(s.patient_name) or "(no name)"
        _text(c, _MARGIN, y, "Patient:", 9, bold=True)
        _text(c, _MARGIN + 44, y, name, 10)
        _text(
            c,
            _MARGIN + 330,
            y,
            f"ID: {s.patient_id}   Born: {_date(s.patient_birth_date)}   Sex: {s.patient_sex}",
            9,
        )
        y -= 13
        _text(
            c,
            _MARGIN,
            y,
            f"Study: {_date(s.study_date)} {s.study_description}   Accession: "
            f"{s.accession_number}   Referring: {format_person_name(s.referring_physician_name)}",
            8,
        )
    else:
        _text(c, _MARGIN, y, "Patient: (not a DICOM study: ordinary image file)", 9)
        y -= 13
    img = page.image
    y -= 12
    q = img.quality
    spacing = (
        f"{img.spacing.value:.3f} mm/px ({img.spacing.source})"
        if img.spacing.value
        else "unknown (lengths in pixels)"
    )
    _text(
        c,
        _MARGIN,
        y,
        f"Photo {index} of {total}: view {img.description.view}   "
        f"quality: {'usable' if q.usable else 'NOT USABLE'}   scale: {spacing}",
        8,
        bold=True,
    )
    return float(y - 10)


def _legend(c: Canvas, image: ImageResult, x: float, y: float, width: float) -> float:
    names = [z.region for z in image.zones if z.region not in ("face", "skin")]
    names += [m.name for m in image.maps]
    seen: list[str] = []
    for n in names:
        label = n.replace("_left", "").replace("_right", "")
        if label not in seen:
            seen.append(label)
    cx = x
    for label in seen:
        colour = segment_colour(label if label in ("spots",) else label) if label else (0, 0, 0)
        if label + "_left" in names:
            colour = segment_colour(label + "_left")
        tw = pdfmetrics.stringWidth(label, _FONT, 7) + 16
        if cx + tw > x + width:
            cx = x
            y -= 11
        c.setFillColorRGB(*(v / 255 for v in colour))
        c.rect(cx, y - 1, 8, 8, stroke=0, fill=1)
        c.setFillGray(0)
        _text(c, cx + 10, y, label, 7)
        cx += tw
    return y - 14


def _scores(c: Canvas, image: ImageResult, x: float, y: float, width: float) -> float:
    _text(c, x, y, "Scores per concern (0-100, higher = more visible)", 9, bold=True)
    y -= 12
    if not image.scores:
        return _para(c, x, y, "No scores: the photo did not pass the quality gate.", width, 8)
    bar_w = width - 110
    for concern in CONCERNS:
        if concern not in image.scores:
            continue
        v = max(0.0, min(100.0, float(image.scores[concern])))
        _text(c, x, y, concern, 8)
        c.setFillGray(0.88)
        c.rect(x + 70, y - 1, bar_w, 8, stroke=0, fill=1)
        c.setFillColorRGB(0.12, 0.35, 0.6)
        c.rect(x + 70, y - 1, bar_w * v / 100.0, 8, stroke=0, fill=1)
        c.setFillGray(0)
        _text(c, x + 74 + bar_w, y, f"{v:.0f}", 8)
        y -= 11
    return y - 4


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"


def _zone_table(c: Canvas, image: ImageResult, x: float, y: float, width: float) -> float:
    zones = [str(z) for z in ZONES]
    rows = [r for r in zones if any(m.region == r for m in image.measurements)]
    keys: list[str] = []
    for m in image.measurements:
        if m.region in rows and m.key not in keys:
            keys.append(m.key)
    if not rows:
        return y
    _text(c, x, y, "Zone measurements", 9, bold=True)
    y -= 11
    keys = keys[:6]
    col0 = 78.0
    colw = (width - col0) / max(1, len(keys))
    for i, key in enumerate(keys):
        info = key_info(key) if _known(key) else None
        head = info.meaning if info else key
        unit = next((m.unit for m in image.measurements if m.key == key), "")
        lines = simpleSplit(f"{head} [{unit}]", _BOLD, 6, colw - 2)[:2]
        for j, line in enumerate(lines):
            c.setFont(_BOLD, 6)
            c.drawString(x + col0 + i * colw, y - j * 7, line)
    y -= 16
    for r_i, region in enumerate(rows):
        if r_i % 2 == 0:
            c.setFillGray(0.94)
            c.rect(x, y - 2.5, width, 10, stroke=0, fill=1)
            c.setFillGray(0)
        _text(c, x + 2, y, region.replace("_", " "), 7)
        for i, key in enumerate(keys):
            v = image.value(key, region)
            _text(c, x + col0 + i * colw, y, "-" if v is None else _fmt(v), 7)
        y -= 10
    other = [m for m in image.measurements if m.region not in rows]
    if other:
        y -= 3
        text = "Other: " + "; ".join(
            f"{m.region.replace('_', ' ')} {key_info(m.key).meaning if _known(m.key) else m.key}"
            f" {_fmt(m.value)} {m.unit}"
            for m in other
        )
        y = _para(c, x, y, text, width, 7)
    return y - 4


def _known(key: str) -> bool:
    try:
        key_info(key)
    except KeyError:
        return False
    return True


def _lists(c: Canvas, image: ImageResult, x: float, y: float, width: float) -> float:
    q = image.quality
    _text(c, x, y, "Quality", 9, bold=True)
    y -= 11
    if not q.issues:
        y = _para(c, x, y, "No quality warnings.", width, 7)
    for issue in q.issues:
        kind = "FAILED" if issue.blocking else "warning"
        y = _para(c, x, y, f"- {kind}: {issue.code}: {issue.message}", width, 7)
    y -= 4
    _text(c, x, y, "Not assessed", 9, bold=True)
    y -= 11
    if not image.not_assessed:
        y = _para(c, x, y, "Everything listed above was assessed.", width, 7)
    for na in image.not_assessed:
        y = _para(c, x, y, f"- {na.key.replace('_', ' ')}: {na.reason}", width, 7)
    y -= 4
    _text(c, x, y, "Limits of the method", 9, bold=True)
    y -= 11
    return _para(c, x, y, METHOD_LIMITS, width, 7)


def _draw_page(c: Canvas, page: _Page, index: int, total: int, algo: str) -> None:
    w, _ = _PAGE
    y_top = _header(c, page, index, total)
    left_w = 430.0
    image = page.image
    continuous = [m for m in image.maps if m.kind is MapKind.CONTINUOUS]
    main_h = y_top - _MARGIN - 40 - (120 if continuous else 0)
    _draw_image(
        c, overlay_image(image, page.photo, _DRAW_MAX_SIDE), _MARGIN, y_top - main_h, left_w, main_h
    )
    y = y_top - main_h - 10
    y = _legend(c, image, _MARGIN, y, left_w)
    if continuous:
        pw = (left_w - 10 * (len(continuous) - 1)) / len(continuous)
        for i, fmap in enumerate(continuous):
            px = _MARGIN + i * (pw + 10)
            _draw_image(c, _heat(image, fmap, page.photo, _DRAW_MAX_SIDE // 2), px, y - 100, pw, 96)
            _text(c, px, y - 110, f"{fmap.name} map (relative, 0-1)", 7)
    x = _MARGIN + left_w + 18
    width = w - x - _MARGIN
    y = _scores(c, image, x, y_top, width)
    y = _zone_table(c, image, x, y, width)
    _lists(c, image, x, y, width)
    _para(c, _MARGIN, _MARGIN + 6, DISCLAIMER, w - 2 * _MARGIN - 120, 7, bold=True)
    _text(c, w - _MARGIN - 110, _MARGIN - 2, f"{algo}   page {index}/{total}", 7)


def render_report(
    result: AnalysisResult,
    study: StudyInfo | None,
    photos: Sequence[npt.NDArray[np.uint8] | None] | None = None,
) -> bytes:
    """Render the PDF report of *result*: one landscape A4 page per photo.

    Parameters
    ----------
    result
        The analysis result.
    study
        Patient and study header (None for ordinary image files without DICOM).
    photos
        The RGB pixels of each photo (H, W, 3) uint8, in the order of ``result.images``;
        a missing photo is drawn as a grey background under its maps.
    """
    pages = [
        _Page(img, study, photos[i] if photos is not None and i < len(photos) else None)
        for i, img in enumerate(result.images)
    ]
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=_PAGE, invariant=True, pageCompression=1)
    c.setTitle("DermNode skin analysis report")
    c.setAuthor(f"{result.algorithm_name} {result.algorithm_version}")
    c.setSubject("Decision support, not diagnosis")
    algo = f"{result.algorithm_name} {result.algorithm_version}"
    if not pages:
        _text(c, _MARGIN, _PAGE[1] - _MARGIN, "No photos were analysed.", 12)
        c.showPage()
    for i, page in enumerate(pages, start=1):
        _draw_page(c, page, i, len(pages), algo)
        c.showPage()
    c.save()
    return buf.getvalue()


def encapsulated_pdf(
    pdf: bytes,
    source: Dataset,
    uids: OutputUids,
    equipment: Equipment,
    *,
    instance_number: int = 1,
    when: datetime | None = None,
) -> Dataset:
    """Wrap *pdf* in an Encapsulated PDF Storage object for the study of *source*.

    Parameters
    ----------
    pdf
        The PDF bytes.
    source
        A source photo of the study (patient and study attributes are copied from it).
    uids
        The result's UID factory (series ``pdf``, instance ``pdf``).
    equipment
        The producing software.
    instance_number
        Instance Number.
    when
        Content date and time (default now).
    """
    if not pdf.startswith(b"%PDF"):
        raise ValueError("pdf: not a PDF document")
    now = when or datetime.now()
    ds = Dataset()
    copy_patient_study(ds, source)
    # Encapsulated Document Series (C.24.1)
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = uids.series("pdf")
    ds.SeriesNumber = SERIES_NUMBERS["pdf"]
    ds.SeriesDescription = "DermNode report"
    # General Equipment + SC Equipment
    ds.Manufacturer = equipment.manufacturer
    ds.ManufacturerModelName = equipment.model_name
    ds.SoftwareVersions = equipment.software_version
    ds.DeviceSerialNumber = equipment.device_serial_number
    ds.ConversionType = "WSD"
    # Encapsulated Document (C.24.2)
    ds.InstanceNumber = instance_number
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"
    ds.RecognizableVisualFeatures = "YES"
    ds.DocumentTitle = "DermNode skin analysis report"
    concept = Dataset()
    concept.CodeValue = "PROC-SKIN"
    concept.CodingSchemeDesignator = "99DRMN"
    concept.CodeMeaning = "Photographic skin analysis"
    ds.ConceptNameCodeSequence = [concept]
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.SOPClassUID
    ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
    ds.SourceInstanceSequence = [ref]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    data = pdf if len(pdf) % 2 == 0 else pdf + b"\x00"
    ds.EncapsulatedDocument = data
    ds.EncapsulatedDocumentLength = len(pdf)
    # SOP Common
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = uids.instance("pdf")
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds
