"""The page of one photo: overlay, legend, heat panels, scores, zone table, quality, not
assessed, limits."""

from __future__ import annotations

from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from analysis.keys import CONCERNS, key_info
from analysis.treatment import ClinicNorms
from analysis.types import ZONES, ImageResult, MapKind
from integrations.dicom_seg import segment_colour
from integrations.report.canvas import (
    MARGIN,
    PAGE,
    Page,
    draw_image,
    draw_para,
    draw_text,
    footer,
    header,
)
from integrations.report.fonts import BOLD, FONT
from integrations.report.overlays import (
    DRAW_MAX_SIDE,
    heat_image,
    overlay_image,
)
from integrations.report.texts import (
    METHOD_LIMITS,
    fmt,
    known_key,
)

__all__ = [
    "draw_photo_page",
]


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
        tw = pdfmetrics.stringWidth(label, FONT, 7) + 16
        if cx + tw > x + width:
            cx = x
            y -= 11
        c.setFillColorRGB(*(v / 255 for v in colour))
        c.rect(cx, y - 1, 8, 8, stroke=0, fill=1)
        c.setFillGray(0)
        draw_text(c, cx + 10, y, label, 7)
        cx += tw
    return y - 14


def _scores(
    c: Canvas, image: ImageResult, x: float, y: float, width: float, norms: ClinicNorms | None
) -> float:
    draw_text(c, x, y, "Scores per concern (0-100, higher = more visible)", 9, bold=True)
    y -= 12
    if not image.scores:
        return draw_para(c, x, y, "No scores: the photo did not pass the quality gate.", width, 8)
    bar_w = width - 110
    for concern in CONCERNS:
        if concern not in image.scores:
            continue
        v = max(0.0, min(100.0, float(image.scores[concern])))
        draw_text(c, x, y, concern, 8)
        c.setFillGray(0.88)
        c.rect(x + 70, y - 1, bar_w, 8, stroke=0, fill=1)
        c.setFillColorRGB(0.12, 0.35, 0.6)
        c.rect(x + 70, y - 1, bar_w * v / 100.0, 8, stroke=0, fill=1)
        c.setFillGray(0)
        draw_text(c, x + 74 + bar_w, y, f"{v:.0f}", 8)
        if norms is not None and concern in norms.percentiles:
            draw_text(c, x + 92 + bar_w, y, f"P{norms.percentiles[concern]:.0f}", 7)
        y -= 11
    if norms is not None:
        text = (
            f"P = percentile among this clinic's own earlier patients ({norms.patient_sex}, "
            f"age {norms.age_band}, n = {norms.patients}); not a population norm."
            if norms.percentiles
            else f"Clinic norms: {norms.reason}."
        )
        y = draw_para(c, x, y, text, width, 6.5)
    return y - 4


def _zone_table(c: Canvas, image: ImageResult, x: float, y: float, width: float) -> float:
    zones = [str(z) for z in ZONES]
    rows = [r for r in zones if any(m.region == r for m in image.measurements)]
    keys: list[str] = []
    for m in image.measurements:
        if m.region in rows and m.key not in keys:
            keys.append(m.key)
    if not rows:
        return y
    draw_text(c, x, y, "Zone measurements", 9, bold=True)
    y -= 11
    keys = keys[:6]
    col0 = 78.0
    colw = (width - col0) / max(1, len(keys))
    for i, key in enumerate(keys):
        info = key_info(key) if known_key(key) else None
        head = info.meaning if info else key
        unit = next((m.unit for m in image.measurements if m.key == key), "")
        lines = simpleSplit(f"{head} [{unit}]", BOLD, 6, colw - 2)[:2]
        for j, line in enumerate(lines):
            c.setFont(BOLD, 6)
            c.drawString(x + col0 + i * colw, y - j * 7, line)
    y -= 16
    for r_i, region in enumerate(rows):
        if r_i % 2 == 0:
            c.setFillGray(0.94)
            c.rect(x, y - 2.5, width, 10, stroke=0, fill=1)
            c.setFillGray(0)
        draw_text(c, x + 2, y, region.replace("_", " "), 7)
        for i, key in enumerate(keys):
            v = image.value(key, region)
            draw_text(c, x + col0 + i * colw, y, "-" if v is None else fmt(v), 7)
        y -= 10
    other = [m for m in image.measurements if m.region not in rows]
    if other:
        y -= 3
        text = "Other: " + "; ".join(
            f"{m.region.replace('_', ' ')} {key_info(m.key).meaning if known_key(m.key) else m.key}"
            f" {fmt(m.value)} {m.unit}"
            for m in other
        )
        y = draw_para(c, x, y, text, width, 7)
    return y - 4


def _lists(c: Canvas, image: ImageResult, x: float, y: float, width: float) -> float:
    q = image.quality
    draw_text(c, x, y, "Quality", 9, bold=True)
    y -= 11
    if not q.issues:
        y = draw_para(c, x, y, "No quality warnings.", width, 7)
    for issue in q.issues:
        kind = "FAILED" if issue.blocking else "warning"
        y = draw_para(c, x, y, f"- {kind}: {issue.code}: {issue.message}", width, 7)
    y -= 4
    draw_text(c, x, y, "Not assessed", 9, bold=True)
    y -= 11
    if not image.not_assessed:
        y = draw_para(c, x, y, "Everything listed above was assessed.", width, 7)
    for na in image.not_assessed:
        y = draw_para(c, x, y, f"- {na.key.replace('_', ' ')}: {na.reason}", width, 7)
    y -= 4
    draw_text(c, x, y, "Limits of the method", 9, bold=True)
    y -= 11
    return draw_para(c, x, y, METHOD_LIMITS, width, 7)


def draw_photo_page(
    c: Canvas,
    page: Page,
    index: int,
    total: int,
    algo: str,
    page_no: int | None = None,
    page_total: int | None = None,
) -> None:
    w, _ = PAGE
    y_top = header(c, page, index, total)
    left_w = 430.0
    image = page.image
    continuous = [m for m in image.maps if m.kind is MapKind.CONTINUOUS]
    main_h = y_top - MARGIN - 40 - (120 if continuous else 0)
    draw_image(
        c, overlay_image(image, page.photo, DRAW_MAX_SIDE), MARGIN, y_top - main_h, left_w, main_h
    )
    y = y_top - main_h - 10
    y = _legend(c, image, MARGIN, y, left_w)
    if continuous:
        pw = (left_w - 10 * (len(continuous) - 1)) / len(continuous)
        for i, fmap in enumerate(continuous):
            px = MARGIN + i * (pw + 10)
            draw_image(
                c, heat_image(image, fmap, page.photo, DRAW_MAX_SIDE // 2), px, y - 100, pw, 96
            )
            draw_text(c, px, y - 110, f"{fmap.name} map (relative, 0-1)", 7)
    x = MARGIN + left_w + 18
    width = w - x - MARGIN
    y = _scores(c, image, x, y_top, width, page.norms)
    y = _zone_table(c, image, x, y, width)
    _lists(c, image, x, y, width)
    footer(c, algo, page_no or index, page_total or total)
