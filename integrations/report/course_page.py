"""The clinician report's "Treatment course" page: each concern's response since the course
began (MDC-gated), with a trend chart per concern marking the course start."""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from analysis.progress import Comparison, trend
from analysis.treatment import CourseResponse
from integrations.report.canvas import MARGIN, PAGE, Page, draw_para, draw_text, footer, header
from integrations.report.charts import TrendSeries, trend_charts
from integrations.report.progress_pages import label_colour
from integrations.report.texts import MDC_NOTE, label_text, meaning, num_text

__all__ = ["CoursePage", "draw_course_page"]


@dataclass(frozen=True, slots=True)
class CoursePage:
    """The page's content: the response, its comparison (for the trend) and the photo."""

    response: CourseResponse
    comparison: Comparison
    page: Page
    photo_index: int
    photo_total: int


def draw_course_page(c: Canvas, cp: CoursePage, algo: str, n: int, total: int) -> None:
    """Draw the page (the caller shows it)."""
    w, h = PAGE
    r = cp.response
    course = r.course
    y = header(
        c,
        cp.page,
        cp.photo_index,
        cp.photo_total,
        subtitle=f"Treatment course: photo {cp.photo_index} of {cp.photo_total}, "
        f"view {cp.page.image.description.view}",
    )
    x = MARGIN
    sessions = f", {course.sessions} sessions planned" if course.sessions else ""
    draw_text(c, x, y - 6, f"Treatment course: {course.name}", 14, bold=True)
    y = draw_para(
        c,
        x,
        y - 20,
        f"Protocol: {course.protocol or '-'}; began {course.start_date.isoformat()}{sessions}.",
        w - 2 * MARGIN,
        8.5,
    )
    if not r.changes:
        c.setFillColorRGB(0.8, 0.08, 0.08)
        draw_para(c, x, y - 4, f"No response shown: {r.reason}.", w - 2 * MARGIN, 10, bold=True)
        c.setFillGray(0)
        footer(c, algo, n, total)
        return
    base = r.baseline_date.isoformat() if r.baseline_date else "-"
    y = draw_para(
        c,
        x,
        y,
        f"Response since the course began: this visit against the visit of {base} (the last "
        "visit on or before the start), per concern, gated by the minimum detectable change.",
        w - 2 * MARGIN,
        8,
    )
    y -= 6
    cols = (
        ("concern", 0.0),
        ("measurement [unit]", 70.0),
        ("at start", 250.0),
        ("now", 300.0),
        ("change", 350.0),
        ("MDC", 405.0),
        ("verdict", 450.0),
    )
    for name, off in cols:
        draw_text(c, x + off, y, name, 7.5, bold=True)
    y -= 11
    for ch in r.changes:
        unit = f" [{ch.unit}]" if ch.unit else ""
        cells = (
            ch.concern,
            f"{meaning(ch.key)}{unit}",
            num_text(ch.start_value),
            num_text(ch.current),
            num_text(ch.delta, signed=True),
            num_text(ch.mdc),
        )
        for (_, off), text in zip(cols[:6], cells, strict=True):
            draw_text(c, x + off, y, text, 7.5)
        c.setFillColorRGB(*label_colour(str(ch.label)))
        draw_text(c, x + cols[6][1], y, label_text(str(ch.label)), 7.5, bold=True)
        c.setFillGray(0)
        y -= 10
    y -= 4
    y = draw_para(c, x, y, MDC_NOTE, 520, 7)
    series = []
    for ch in r.changes:
        points = trend(cp.comparison.visits, ch.key, ch.region)
        if len(points) >= 2:
            series.append(
                TrendSeries(
                    f"{ch.concern}: {meaning(ch.key)}",
                    tuple(p.study_date for p in points),
                    tuple(p.value for p in points),
                    str(ch.label),
                )
            )
    if series:
        rows = (len(series) + 2) // 3
        img = trend_charts(
            series, "value", (8.0, 1.5 * rows + 0.2), marker=course.start_date, scale=None
        )
        width = min(w - 2 * MARGIN, 620.0)
        height = width * img.height / img.width
        height = min(height, y - MARGIN - 40)
        width = height * img.width / img.height
        c.drawImage(ImageReader(img), x, y - 6 - height, width, height)
        draw_text(c, x, y - 14 - height, "dashed line: the course began", 6.5)
    _ = h
    footer(c, algo, n, total)
