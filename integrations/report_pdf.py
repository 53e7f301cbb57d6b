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
from reportlab import rl_config
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from analysis.keys import CONCERNS, KEYS, key_info
from analysis.progress import Change, Comparison, TrendPoint, trend
from analysis.types import ZONES, AnalysisResult, FeatureMap, ImageResult, MapKind
from integrations.dicom_common import SERIES_NUMBERS, Equipment, copy_patient_study
from integrations.dicom_seg import segment_colour
from integrations.progress_view import PriorView, before_after
from integrations.study import StudyInfo
from integrations.uids import OutputUids

__all__ = [
    "DISCLAIMER",
    "ENCAPSULATED_PDF",
    "MDC_NOTE",
    "METHOD_LIMITS",
    "encapsulated_pdf",
    "format_person_name",
    "overlay_image",
    "render_report",
]

logger = logging.getLogger(__name__)

# Image streams stay binary (Flate/JPEG) instead of ASCII85 text: the encoder is pure Python
# here and cost ~0.7 s per drawn photo; a PDF carries binary streams by design (ISO 32000).
rl_config.useA85 = 0

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


def _header(c: Canvas, page: _Page, index: int, total: int, subtitle: str | None = None) -> float:
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
    line = (
        subtitle
        if subtitle is not None
        else (
            f"Photo {index} of {total}: view {img.description.view}   "
            f"quality: {'usable' if q.usable else 'NOT USABLE'}   scale: {spacing}"
        )
    )
    _text(c, _MARGIN, y, line, 8, bold=True)
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


def _footer(c: Canvas, algo: str, page_no: int, page_total: int) -> None:
    w, _ = _PAGE
    _para(c, _MARGIN, _MARGIN + 6, DISCLAIMER, w - 2 * _MARGIN - 120, 7, bold=True)
    _text(c, w - _MARGIN - 110, _MARGIN - 2, f"{algo}   page {page_no}/{page_total}", 7)


def _draw_page(
    c: Canvas,
    page: _Page,
    index: int,
    total: int,
    algo: str,
    page_no: int | None = None,
    page_total: int | None = None,
) -> None:
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
    _footer(c, algo, page_no or index, page_total or total)


# --------------------------------------------------------------------------- progress pages

#: Verdict colours (RGB 0-1): improved green, worsened red, stable grey, no verdict dark grey.
_LABEL_COLOURS: dict[str, tuple[float, float, float]] = {
    "improved": (0.05, 0.5, 0.15),
    "worsened": (0.8, 0.08, 0.08),
    "stable": (0.55, 0.55, 0.55),
    "no_mdc": (0.3, 0.3, 0.3),
}
_LABEL_TEXT = {
    "improved": "improved",
    "worsened": "worsened",
    "stable": "stable",
    "no_mdc": "no MDC",
}
MDC_NOTE = (
    "A change is called improved or worsened only when it is larger than the minimum "
    "detectable change (MDC95 = 1.96 x sqrt(2) x SEM of repeat captures, widened for the "
    "number of rows compared). A change inside the MDC is within measurement noise and is "
    "labelled stable: it is never called an improvement. Keys without a measured MDC get no "
    "verdict."
)
#: Rows of the change table per page.
_TABLE_ROWS = 44


def _label_colour(label: str) -> tuple[float, float, float]:
    return _LABEL_COLOURS.get(str(label), (0.0, 0.0, 0.0))


def _num_text(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    a = abs(v)
    text = f"{v:+.0f}" if signed else f"{v:.0f}"
    if float(v).is_integer():
        return text
    if a < 10:
        text = f"{v:+.2f}" if signed else f"{v:.2f}"
    elif a < 100:
        text = f"{v:+.1f}" if signed else f"{v:.1f}"
    return text


def _pct_text(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f} %"


def _meaning(key: str) -> str:
    return key_info(key).meaning if _known(key) else key


def _region_rank(region: str, top: str) -> tuple[int, str]:
    zones = [str(z) for z in ZONES]
    if region == top:
        return (0, region)
    if region in zones:
        return (1 + zones.index(region), region)
    return (100, region)


def _key_rank(key: str) -> int:
    keys = [k.key for k in KEYS]
    return keys.index(key) if key in keys else len(keys)


def _sorted_changes(comparison: Comparison, top: str) -> list[Change]:
    return sorted(
        comparison.changes, key=lambda ch: (_region_rank(ch.region, top), _key_rank(ch.key))
    )


def _trend_series(comparison: Comparison, top: str) -> list[tuple[str, Change]]:
    """Per concern, the change whose trend is charted: the concern's first key (in
    :data:`analysis.keys.KEYS` order) measured in the image-level region, else in any
    region."""
    out: list[tuple[str, Change]] = []
    for concern in CONCERNS:
        own = [ch for ch in comparison.changes if _known(ch.key)]
        own = [ch for ch in own if key_info(ch.key).concern == concern]
        if not own:
            continue
        at_top = [ch for ch in own if ch.region == top]
        pool = at_top or own
        pool.sort(key=lambda ch: (_key_rank(ch.key), _region_rank(ch.region, top)))
        out.append((concern, pool[0]))
    return out


def _trend_chart(
    c: Canvas,
    x: float,
    y: float,
    w: float,
    h: float,
    concern: str,
    change: Change,
    points: Sequence[TrendPoint],
) -> None:
    """A small line chart of *points* in the box (x, y lower-left)."""
    region = change.region.replace("_", " ")
    unit = f" [{change.unit}]" if change.unit else ""
    _text(c, x, y + h + 3, f"{concern}: {_meaning(change.key)}{unit}, {region}", 6.5, bold=True)
    c.setStrokeGray(0.7)
    c.setLineWidth(0.5)
    c.rect(x, y, w, h, stroke=1, fill=0)
    if not points:
        _text(c, x + 4, y + h / 2, "no values", 6)
        return
    values = [p.value for p in points]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.15 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    days = [(p.study_date - points[0].study_date).days for p in points]
    span = max(days[-1], 1)
    inner_x, inner_w = x + 26, w - 34
    xs = [
        inner_x + (inner_w * d / span if days[-1] > 0 else inner_w * i / max(len(points) - 1, 1))
        for i, d in enumerate(days)
    ]
    ys = [y + 10 + (h - 18) * (v - lo) / (hi - lo) for v in values]
    if change.mdc is not None and len(points) >= 2:
        # the noise band around the previous value: a change inside it is not a change
        band_lo = y + 10 + (h - 18) * (change.previous - change.mdc - lo) / (hi - lo)
        band_hi = y + 10 + (h - 18) * (change.previous + change.mdc - lo) / (hi - lo)
        band_lo, band_hi = max(band_lo, y), min(band_hi, y + h)
        if band_hi > band_lo:
            c.setFillGray(0.9)
            c.rect(xs[-2], band_lo, xs[-1] - xs[-2], band_hi - band_lo, stroke=0, fill=1)
    c.setLineWidth(1.0)
    c.setStrokeColorRGB(0.12, 0.35, 0.6)
    for i in range(1, len(xs)):
        if i == len(xs) - 1:
            c.setStrokeColorRGB(*_label_colour(str(change.label)))
        c.line(xs[i - 1], ys[i - 1], xs[i], ys[i])
    for i, (px, py) in enumerate(zip(xs, ys, strict=True)):
        last = i == len(xs) - 1
        if last:
            c.setFillColorRGB(*_label_colour(str(change.label)))
        else:
            c.setFillColorRGB(0.12, 0.35, 0.6)
        c.circle(px, py, 1.8, stroke=0, fill=1)
    c.setFillGray(0)
    _text(c, x + 2, y + h - 8, _num_text(hi - pad), 5.5)
    _text(c, x + 2, y + 3, _num_text(lo + pad), 5.5)
    _text(c, xs[0] - 4, y - 7, points[0].study_date.isoformat(), 5.5)
    if len(points) > 1:
        _text(c, xs[-1] - 28, y - 7, points[-1].study_date.isoformat(), 5.5)
    c.setFillColorRGB(*_label_colour(str(change.label)))
    _text(c, x + w - 60, y + h - 8, _LABEL_TEXT.get(str(change.label), str(change.label)), 6)
    c.setFillGray(0)
    c.setLineWidth(1.0)
    c.setStrokeGray(0)


def _paint(
    base: npt.NDArray[np.uint8],
    zones: Sequence[tuple[str, npt.NDArray[np.bool_]]],
    masks: Sequence[tuple[str, npt.NDArray[np.bool_]]],
) -> Image.Image:
    out = base.astype(np.float32)
    shape = (base.shape[0], base.shape[1])
    width = max(1, round(max(shape) / 300))
    for region, mask in zones:
        if region in ("face", "skin"):
            continue
        edge = _outline(_resize_mask(mask, shape), width)
        out[edge] = np.asarray(segment_colour(region), np.float32)
    for name, mask in masks:
        sel = _resize_mask(mask, shape)
        out[sel] = 0.4 * out[sel] + 0.6 * np.asarray(segment_colour(name), np.float32)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _diff_image(base: npt.NDArray[np.uint8], data: npt.NDArray[np.float32]) -> Image.Image:
    """Current minus earlier over a dimmed grey photo: red = more, blue = less, hatched
    grey where the earlier photo does not reach."""
    grey = base.astype(np.float32).mean(axis=2, keepdims=True) * 0.45 + 60
    out = np.repeat(grey, 3, axis=2)
    finite = np.isfinite(data)
    d = np.where(finite, data, 0.0)
    scale = float(np.nanpercentile(np.abs(data), 99)) if finite.any() else 0.0
    scale = max(scale, 1e-3)
    a = np.clip(np.abs(d) / scale, 0, 1)[..., None]
    red = np.asarray((220, 30, 30), np.float32)
    blue = np.asarray((30, 80, 220), np.float32)
    colour = np.where((d > 0)[..., None], red, blue)
    out = (1 - a) * out + a * colour
    out[~finite] = (150, 150, 150)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


@dataclass(frozen=True, slots=True)
class _ProgressPage:
    page: _Page
    prior: PriorView
    photo_index: int
    photo_total: int
    rows: tuple[Change, ...]  # the table rows of this page (empty on the overview page)
    part: int  # 0 = overview, 1.. = table pages
    parts: int


def _visit_line(comparison: Comparison) -> str:
    prev, base = comparison.previous, comparison.baseline
    if prev is None or base is None:
        return "Not compared."
    n = len(comparison.visits)
    text = f"Compared with the previous visit of {prev.study_date.isoformat()}"
    if base.study_uid != prev.study_uid:
        text += f" and the baseline visit of {base.study_date.isoformat()}"
    return text + f" ({n} visits, algorithm version {comparison.current.algorithm_version})."


def _draw_before_after(
    c: Canvas, pp: _ProgressPage, x: float, y: float, width: float, date_now: str
) -> float:
    """The before/after pair, the fairness verdict and the difference maps; y below."""
    image, prior = pp.page.image, pp.prior
    ba = before_after(pp.page.photo, image, prior, max_side=_DRAW_MAX_SIDE)
    _text(c, x, y, "Before / after", 9, bold=True)
    y -= 8
    if ba is None:
        why = (
            "The earlier photo is not available (values only)."
            if prior.earlier_photo is None or pp.page.photo is None
            else "The earlier photo could not be registered to the current one."
        )
        return _para(c, x, y - 4, why, width, 7.5) - 4
    earlier_date = (
        prior.comparison.previous.study_date.isoformat()
        if prior.comparison.previous is not None
        else "earlier"
    )
    cur_zones = [(z.region, z.mask) for z in image.zones]
    cur_masks = [(m.name, m.data) for m in image.maps if m.kind is MapKind.BINARY]
    earlier_masks = list(ba.earlier_masks)
    pane_w = (width - 10) / 2
    pane_h = 150.0
    left = _paint(ba.earlier, cur_zones, earlier_masks)
    right = _paint(ba.current, cur_zones, cur_masks)
    _draw_image(c, left, x, y - pane_h, pane_w, pane_h)
    _draw_image(c, right, x + pane_w + 10, y - pane_h, pane_w, pane_h)
    y -= pane_h + 9
    _text(c, x, y, f"Earlier ({earlier_date}), aligned to the current photo", 7)
    _text(c, x + pane_w + 10, y, f"Current ({date_now})", 7)
    y -= 12
    reg = ba.registration
    if not reg.fair:
        c.setFillColorRGB(0.8, 0.08, 0.08)
        y = _para(
            c,
            x,
            y,
            "NOT A FAIR COMPARISON: the two captures differ too much; differences in these "
            "photos may come from the capture, not the skin. Difference maps are not shown.",
            width,
            8.5,
            bold=True,
        )
        for reason in reg.reasons:
            y = _para(c, x + 8, y, f"- {reason}", width - 8, 8, bold=True)
        c.setFillGray(0)
        return y - 4
    y = _para(
        c,
        x,
        y,
        f"Alignment: {reg.method}, rotation {reg.rotation_deg:+.1f} deg, scale "
        f"{reg.scale:.3f}, correlation {reg.correlation:.2f}: fair comparison.",
        width,
        7,
    )
    if not ba.differences:
        return _para(
            c, x, y - 2, "No difference map: the earlier analysis has no same maps.", width, 7
        )
    y -= 4
    shown = list(ba.differences)[:3]
    pw = (width - 8 * (len(shown) - 1)) / len(shown)
    ph = 92.0
    for i, diff in enumerate(shown):
        px = x + i * (pw + 8)
        _draw_image(c, _diff_image(ba.current, diff.difference.data), px, y - ph, pw, ph)
        unit = "pct. points" if diff.kind is MapKind.BINARY else "map units"
        _text(c, px, y - ph - 8, f"{diff.name}: current - earlier", 6.5, bold=True)
        zones = [(z, v) for z, v in diff.difference.per_zone.items() if v is not None]
        zones = [(z, v) for z, v in zones if z not in ("face", "skin")]
        zones.sort(key=lambda zv: -abs(zv[1]))
        factor = 100.0 if diff.kind is MapKind.BINARY else 1.0
        lines = [f"{z.replace('_', ' ')} {factor * v:+.2f}" for z, v in zones[:4]]
        yy = y - ph - 16
        _text(c, px, yy, f"zone means ({unit}; red more, blue less):", 5.5)
        for line in lines:
            yy -= 7
            _text(c, px, yy, line, 5.5)
    return y - ph - 52


def _draw_progress_overview(c: Canvas, pp: _ProgressPage, algo: str, n: int, total: int) -> None:
    w, _ = _PAGE
    image, comparison = pp.page.image, pp.prior.comparison
    view = image.description.view
    y_top = _header(
        c,
        pp.page,
        pp.photo_index,
        pp.photo_total,
        subtitle=f"Since last visit: photo {pp.photo_index} of {pp.photo_total}, view {view}",
    )
    left_w = 430.0
    x = _MARGIN
    _text(c, x, y_top - 6, "Since last visit", 14, bold=True)
    y = _para(c, x, y_top - 20, _visit_line(comparison), left_w, 8)
    if not comparison.comparable:
        c.setFillColorRGB(0.8, 0.08, 0.08)
        y = _para(c, x, y - 4, f"Not compared: {comparison.reason}", left_w, 10, bold=True)
        c.setFillGray(0)
    elif comparison.reason:
        y = _para(c, x, y, comparison.reason, left_w, 7)
    for ex in comparison.excluded:
        y = _para(
            c,
            x + 8,
            y,
            f"- not compared: visit of {ex.study_date.isoformat()} ({ex.view}, version "
            f"{ex.algorithm_version}): {ex.reason}",
            left_w - 8,
            7,
        )
    y -= 8
    study = pp.page.study
    date_now = _date(study.study_date) if study is not None and study.study_date else "now"
    _draw_before_after(c, pp, x, y, left_w, date_now)
    # right column: trend charts, summary, the MDC note
    rx = _MARGIN + left_w + 18
    rw = w - rx - _MARGIN
    top = "face" if image.description.view.is_face else "skin"
    ry = y_top - 6
    _text(c, rx, ry, "Trend per concern over all visits", 9, bold=True)
    ry -= 16
    series = _trend_series(comparison, top) if comparison.comparable else []
    cw, ch_h = (rw - 14) / 2, 62.0
    for i, (concern, change) in enumerate(series):
        col, row = i % 2, i // 2
        cx = rx + col * (cw + 14)
        cy = ry - ch_h - row * (ch_h + 24)
        points = trend(comparison.visits, change.key, change.region)
        _trend_chart(c, cx, cy, cw, ch_h, concern, change, points)
    rows = (len(series) + 1) // 2
    ry -= rows * (ch_h + 24) + 4
    if comparison.comparable:
        summary = comparison.summary()
        _text(c, rx, ry, "Since the previous visit:", 8, bold=True)
        cx = rx + 104
        for label in ("improved", "worsened", "stable", "no_mdc"):
            c.setFillColorRGB(*_label_colour(label))
            text = f"{summary.get(label, 0)} {_LABEL_TEXT[label]}"
            _text(c, cx, ry, text, 8, bold=True)
            cx += pdfmetrics.stringWidth(text, _BOLD, 8) + 10
        c.setFillGray(0)
        ry -= 12
        ry = _para(
            c,
            rx,
            ry,
            f"{len(comparison.changes)} changes per zone and key are listed on the next "
            "page(s): grey = stable (within the MDC), green = improved, red = worsened.",
            rw,
            7,
        )
    ry -= 4
    _text(c, rx, ry, "Minimum detectable change", 8, bold=True)
    _para(c, rx, ry - 10, MDC_NOTE, rw, 7)
    _footer(c, algo, n, total)


def _draw_change_table(c: Canvas, pp: _ProgressPage, algo: str, n: int, total: int) -> None:
    w, _ = _PAGE
    image = pp.page.image
    y = _header(
        c,
        pp.page,
        pp.photo_index,
        pp.photo_total,
        subtitle=(
            f"Since last visit: photo {pp.photo_index} of {pp.photo_total}, view "
            f"{image.description.view}: changes per zone and key ({pp.part}/{pp.parts - 1})"
        ),
    )
    x, width = _MARGIN, w - 2 * _MARGIN
    cols = (
        ("zone", 0.0),
        ("measurement [unit]", 62.0),
        ("baseline", 232.0),
        ("previous", 277.0),
        ("current", 322.0),
        ("change", 372.0),
        ("change %", 420.0),
        ("MDC", 468.0),
        ("verdict", 510.0),
        ("since baseline", 570.0),
        ("%", 625.0),
        ("MDC", 668.0),
        ("verdict", 710.0),
    )
    y -= 4
    for name, off in cols:
        _text(c, x + off, y, name, 7, bold=True)
    y -= 4
    c.setStrokeGray(0.5)
    c.line(x, y, x + width, y)
    y -= 9
    for i, ch in enumerate(pp.rows):
        if i % 2 == 0:
            c.setFillGray(0.95)
            c.rect(x, y - 2.5, width, 9.5, stroke=0, fill=1)
            c.setFillGray(0)
        unit = f" [{ch.unit}]" if ch.unit else ""
        cells = (
            ch.region.replace("_", " "),
            f"{_meaning(ch.key)}{unit}",
            _num_text(ch.baseline),
            _num_text(ch.previous),
            _num_text(ch.current),
        )
        for (_, off), text in zip(cols[:5], cells, strict=True):
            _text(c, x + off, y, text, 7)
        for offs, delta, pct, mdc, label in (
            (cols[5:9], ch.delta, ch.delta_pct, ch.mdc, str(ch.label)),
            (
                cols[9:13],
                ch.delta_baseline,
                ch.delta_baseline_pct,
                ch.mdc_baseline,
                str(ch.label_baseline),
            ),
        ):
            c.setFillColorRGB(*_label_colour(label))
            texts = (
                _num_text(delta, signed=True),
                _pct_text(pct),
                _num_text(mdc),
                _LABEL_TEXT.get(label, label),
            )
            for (_, off), text in zip(offs, texts, strict=True):
                _text(c, x + off, y, text, 7, bold=text == _LABEL_TEXT.get(label, label))
            c.setFillGray(0)
        y -= 9.5
    y -= 6
    _para(c, x, y, MDC_NOTE, width, 7)
    _footer(c, algo, n, total)


def _progress_pages(
    page: _Page, prior: PriorView, photo_index: int, photo_total: int
) -> list[_ProgressPage]:
    top = "face" if page.image.description.view.is_face else "skin"
    rows = _sorted_changes(prior.comparison, top)
    chunks = [tuple(rows[i : i + _TABLE_ROWS]) for i in range(0, len(rows), _TABLE_ROWS)]
    parts = 1 + len(chunks)
    out = [_ProgressPage(page, prior, photo_index, photo_total, (), 0, parts)]
    out += [
        _ProgressPage(page, prior, photo_index, photo_total, chunk, i, parts)
        for i, chunk in enumerate(chunks, start=1)
    ]
    return out


def _render_with_progress(
    result: AnalysisResult, pages: Sequence[_Page], progress: Sequence[PriorView | None]
) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=_PAGE, invariant=True, pageCompression=1)
    c.setTitle("DermNode skin analysis report")
    c.setAuthor(f"{result.algorithm_name} {result.algorithm_version}")
    c.setSubject("Decision support, not diagnosis")
    algo = f"{result.algorithm_name} {result.algorithm_version}"
    plan: list[_Page | _ProgressPage] = []
    for i, page in enumerate(pages):
        plan.append(page)
        prior = progress[i]
        if prior is not None:
            plan += _progress_pages(page, prior, i + 1, len(pages))
    total = len(plan)
    photo_no = 0
    for n, item in enumerate(plan, start=1):
        if isinstance(item, _Page):
            photo_no += 1
            _draw_page(c, item, photo_no, len(pages), algo, n, total)
        elif item.part == 0:
            _draw_progress_overview(c, item, algo, n, total)
        else:
            _draw_change_table(c, item, algo, n, total)
        c.showPage()
    c.save()
    logger.debug("report with progress: %d page(s)", total)
    return buf.getvalue()


def render_report(
    result: AnalysisResult,
    study: StudyInfo | None,
    photos: Sequence[npt.NDArray[np.uint8] | None] | None = None,
    *,
    progress: Sequence[PriorView | None] | None = None,
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
    progress
        Per photo (same order), the comparison with earlier visits and the earlier photo, or
        None. A photo with one gets a "Since last visit" page after its own page (trend
        charts, before/after pair, difference maps) and the table of changes per zone and
        key (continued on further pages when long).

    Raises
    ------
    ValueError
        When *progress* and ``result.images`` differ in length.
    """
    pages = [
        _Page(img, study, photos[i] if photos is not None and i < len(photos) else None)
        for i, img in enumerate(result.images)
    ]
    if progress is not None and len(progress) != len(pages):
        raise ValueError(f"progress: {len(progress)} entries for {len(pages)} images")
    if progress is not None and any(p is not None for p in progress):
        return _render_with_progress(result, pages, progress)
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
