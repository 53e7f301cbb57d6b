"""The "since last visit" pages: trend charts, before/after pair with difference maps,
and the table of changes per zone and key (MDC-gated verdicts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from analysis.keys import CONCERNS, KEYS, key_info
from analysis.progress import Change, Comparison, TrendPoint, trend
from analysis.types import ZONES, MapKind
from integrations.progress_view import PriorView, before_after
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
from integrations.report.fonts import BOLD
from integrations.report.overlays import (
    DRAW_MAX_SIDE,
    diff_image,
    paint,
)
from integrations.report.texts import (
    MDC_NOTE,
    format_date,
    known_key,
    label_text,
    meaning,
    num_text,
    pct_text,
)

__all__ = [
    "ProgressPage",
    "draw_change_table",
    "draw_progress_overview",
    "label_colour",
    "progress_pages",
]


#: Verdict colours (RGB 0-1): improved green, worsened red, stable grey, no verdict dark grey.
_LABEL_COLOURS: dict[str, tuple[float, float, float]] = {
    "improved": (0.05, 0.5, 0.15),
    "worsened": (0.8, 0.08, 0.08),
    "stable": (0.55, 0.55, 0.55),
    "no_mdc": (0.3, 0.3, 0.3),
}
#: Rows of the change table per page.
_TABLE_ROWS = 44


def label_colour(label: str) -> tuple[float, float, float]:
    return _LABEL_COLOURS.get(str(label), (0.0, 0.0, 0.0))


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
        own = [ch for ch in comparison.changes if known_key(ch.key)]
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
    draw_text(c, x, y + h + 3, f"{concern}: {meaning(change.key)}{unit}, {region}", 6.5, bold=True)
    c.setStrokeGray(0.7)
    c.setLineWidth(0.5)
    c.rect(x, y, w, h, stroke=1, fill=0)
    if not points:
        draw_text(c, x + 4, y + h / 2, "no values", 6)
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
            c.setStrokeColorRGB(*label_colour(str(change.label)))
        c.line(xs[i - 1], ys[i - 1], xs[i], ys[i])
    for i, (px, py) in enumerate(zip(xs, ys, strict=True)):
        last = i == len(xs) - 1
        if last:
            c.setFillColorRGB(*label_colour(str(change.label)))
        else:
            c.setFillColorRGB(0.12, 0.35, 0.6)
        c.circle(px, py, 1.8, stroke=0, fill=1)
    c.setFillGray(0)
    draw_text(c, x + 2, y + h - 8, num_text(hi - pad), 5.5)
    draw_text(c, x + 2, y + 3, num_text(lo + pad), 5.5)
    draw_text(c, xs[0] - 4, y - 7, points[0].study_date.isoformat(), 5.5)
    if len(points) > 1:
        draw_text(c, xs[-1] - 28, y - 7, points[-1].study_date.isoformat(), 5.5)
    c.setFillColorRGB(*label_colour(str(change.label)))
    draw_text(c, x + w - 60, y + h - 8, label_text(str(change.label)), 6)
    c.setFillGray(0)
    c.setLineWidth(1.0)
    c.setStrokeGray(0)


@dataclass(frozen=True, slots=True)
class ProgressPage:
    page: Page
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
    c: Canvas, pp: ProgressPage, x: float, y: float, width: float, date_now: str
) -> float:
    """The before/after pair, the fairness verdict and the difference maps; y below."""
    image, prior = pp.page.image, pp.prior
    ba = before_after(pp.page.photo, image, prior, max_side=DRAW_MAX_SIDE)
    draw_text(c, x, y, "Before / after", 9, bold=True)
    y -= 8
    if ba is None:
        why = (
            "The earlier photo is not available (values only)."
            if prior.earlier_photo is None or pp.page.photo is None
            else "The earlier photo could not be registered to the current one."
        )
        return draw_para(c, x, y - 4, why, width, 7.5) - 4
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
    left = paint(ba.earlier, cur_zones, earlier_masks)
    right = paint(ba.current, cur_zones, cur_masks)
    draw_image(c, left, x, y - pane_h, pane_w, pane_h)
    draw_image(c, right, x + pane_w + 10, y - pane_h, pane_w, pane_h)
    y -= pane_h + 9
    draw_text(c, x, y, f"Earlier ({earlier_date}), aligned to the current photo", 7)
    draw_text(c, x + pane_w + 10, y, f"Current ({date_now})", 7)
    y -= 12
    reg = ba.registration
    if not reg.fair:
        c.setFillColorRGB(0.8, 0.08, 0.08)
        y = draw_para(
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
            y = draw_para(c, x + 8, y, f"- {reason}", width - 8, 8, bold=True)
        c.setFillGray(0)
        return y - 4
    y = draw_para(
        c,
        x,
        y,
        f"Alignment: {reg.method}, rotation {reg.rotation_deg:+.1f} deg, scale "
        f"{reg.scale:.3f}, correlation {reg.correlation:.2f}: fair comparison.",
        width,
        7,
    )
    if not ba.differences:
        return draw_para(
            c, x, y - 2, "No difference map: the earlier analysis has no same maps.", width, 7
        )
    y -= 4
    shown = list(ba.differences)[:3]
    pw = (width - 8 * (len(shown) - 1)) / len(shown)
    ph = 92.0
    for i, diff in enumerate(shown):
        px = x + i * (pw + 8)
        draw_image(c, diff_image(ba.current, diff.difference.data), px, y - ph, pw, ph)
        unit = "pct. points" if diff.kind is MapKind.BINARY else "map units"
        draw_text(c, px, y - ph - 8, f"{diff.name}: current - earlier", 6.5, bold=True)
        zones = [(z, v) for z, v in diff.difference.per_zone.items() if v is not None]
        zones = [(z, v) for z, v in zones if z not in ("face", "skin")]
        zones.sort(key=lambda zv: -abs(zv[1]))
        factor = 100.0 if diff.kind is MapKind.BINARY else 1.0
        lines = [f"{z.replace('_', ' ')} {factor * v:+.2f}" for z, v in zones[:4]]
        yy = y - ph - 16
        draw_text(c, px, yy, f"zone means ({unit}; red more, blue less):", 5.5)
        for line in lines:
            yy -= 7
            draw_text(c, px, yy, line, 5.5)
    return y - ph - 52


def draw_progress_overview(c: Canvas, pp: ProgressPage, algo: str, n: int, total: int) -> None:
    w, _ = PAGE
    image, comparison = pp.page.image, pp.prior.comparison
    view = image.description.view
    y_top = header(
        c,
        pp.page,
        pp.photo_index,
        pp.photo_total,
        subtitle=f"Since last visit: photo {pp.photo_index} of {pp.photo_total}, view {view}",
    )
    left_w = 430.0
    x = MARGIN
    draw_text(c, x, y_top - 6, "Since last visit", 14, bold=True)
    y = draw_para(c, x, y_top - 20, _visit_line(comparison), left_w, 8)
    if not comparison.comparable:
        c.setFillColorRGB(0.8, 0.08, 0.08)
        y = draw_para(c, x, y - 4, f"Not compared: {comparison.reason}", left_w, 10, bold=True)
        c.setFillGray(0)
    elif comparison.reason:
        y = draw_para(c, x, y, comparison.reason, left_w, 7)
    for ex in comparison.excluded:
        y = draw_para(
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
    date_now = format_date(study.study_date) if study is not None and study.study_date else "now"
    _draw_before_after(c, pp, x, y, left_w, date_now)
    # right column: trend charts, summary, the MDC note
    rx = MARGIN + left_w + 18
    rw = w - rx - MARGIN
    top = "face" if image.description.view.is_face else "skin"
    ry = y_top - 6
    draw_text(c, rx, ry, "Trend per concern over all visits", 9, bold=True)
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
        draw_text(c, rx, ry, "Since the previous visit:", 8, bold=True)
        cx = rx + 104
        for label in ("improved", "worsened", "stable", "no_mdc"):
            c.setFillColorRGB(*label_colour(label))
            text = f"{summary.get(label, 0)} {label_text(label)}"
            draw_text(c, cx, ry, text, 8, bold=True)
            cx += pdfmetrics.stringWidth(text, BOLD, 8) + 10
        c.setFillGray(0)
        ry -= 12
        ry = draw_para(
            c,
            rx,
            ry,
            f"{len(comparison.changes)} changes per zone and key are listed on the next "
            "page(s): grey = stable (within the MDC), green = improved, red = worsened.",
            rw,
            7,
        )
    ry -= 4
    draw_text(c, rx, ry, "Minimum detectable change", 8, bold=True)
    draw_para(c, rx, ry - 10, MDC_NOTE, rw, 7)
    footer(c, algo, n, total)


def draw_change_table(c: Canvas, pp: ProgressPage, algo: str, n: int, total: int) -> None:
    w, _ = PAGE
    image = pp.page.image
    y = header(
        c,
        pp.page,
        pp.photo_index,
        pp.photo_total,
        subtitle=(
            f"Since last visit: photo {pp.photo_index} of {pp.photo_total}, view "
            f"{image.description.view}: changes per zone and key ({pp.part}/{pp.parts - 1})"
        ),
    )
    x, width = MARGIN, w - 2 * MARGIN
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
        draw_text(c, x + off, y, name, 7, bold=True)
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
            f"{meaning(ch.key)}{unit}",
            num_text(ch.baseline),
            num_text(ch.previous),
            num_text(ch.current),
        )
        for (_, off), text in zip(cols[:5], cells, strict=True):
            draw_text(c, x + off, y, text, 7)
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
            c.setFillColorRGB(*label_colour(label))
            texts = (
                num_text(delta, signed=True),
                pct_text(pct),
                num_text(mdc),
                label_text(label),
            )
            for (_, off), text in zip(offs, texts, strict=True):
                draw_text(c, x + off, y, text, 7, bold=text == label_text(label))
            c.setFillGray(0)
        y -= 9.5
    y -= 6
    draw_para(c, x, y, MDC_NOTE, width, 7)
    footer(c, algo, n, total)


def progress_pages(
    page: Page, prior: PriorView, photo_index: int, photo_total: int
) -> list[ProgressPage]:
    top = "face" if page.image.description.view.is_face else "skin"
    rows = _sorted_changes(prior.comparison, top)
    chunks = [tuple(rows[i : i + _TABLE_ROWS]) for i in range(0, len(rows), _TABLE_ROWS)]
    parts = 1 + len(chunks)
    out = [ProgressPage(page, prior, photo_index, photo_total, (), 0, parts)]
    out += [
        ProgressPage(page, prior, photo_index, photo_total, chunk, i, parts)
        for i, chunk in enumerate(chunks, start=1)
    ]
    return out
