"""The clinician report's "Study summary" page: the study-level values (analysis.fusion).

A study of several photos (frontal, left and right three-quarter) sees each zone in more than
one photo. The page shows, per zone (columns), the view its values come from (the photo that
sees it at the smallest view angle; the whole face from the photo with the smallest |yaw|) and
per key (rows) the value from that photo. A value the photos disagree about (spread above the
fusion's threshold) is printed in red with a "!" and listed under the table with its spread.
The per-photo values stay on the photo pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.pdfgen.canvas import Canvas

from analysis.fusion import FusedValue, StudyFusion
from analysis.types import AnalysisResult
from integrations.report.canvas import MARGIN, PAGE, Page, draw_para, draw_text, footer, header
from integrations.report.texts import meaning, num_text

__all__ = ["StudyPage", "draw_study_page", "study_page"]

_RED = (0.75, 0.1, 0.1)
_KEY_WIDTH = 150.0
_ROW = 10.0
#: Lowest y of a table row (the footer and the disagreement list need the space below).
_BOTTOM = MARGIN + 90


@dataclass(frozen=True, slots=True)
class StudyPage:
    """The page's content: the fusion, the photo number of each source, the header's page."""

    study: StudyFusion
    numbers: dict[str, int]
    page: Page


def study_page(result: AnalysisResult, first: Page) -> StudyPage | None:
    """The page when the study has values fused from two or more usable photos, else None
    (a single photo's values are its photo page)."""
    study = result.study
    usable = [i for i in result.images if i.quality.usable]
    if study is None or not study.values or len(usable) < 2:
        return None
    numbers = {image.source: n for n, image in enumerate(result.images, start=1)}
    return StudyPage(study, numbers, first)


def _unit(unit: str) -> str:
    return "" if unit in ("", "{score}", "{count}", "{index}") else f" [{unit}]"


def draw_study_page(c: Canvas, sp: StudyPage, algo: str, n: int, total: int) -> None:
    """Draw the page (the caller shows it)."""
    w, _ = PAGE
    study = sp.study
    y = header(
        c, sp.page, 1, 1, subtitle="Study summary: each zone from the view that sees it best"
    )
    x, width = MARGIN, w - 2 * MARGIN
    draw_text(c, x, y - 6, "Study summary", 14, bold=True)
    y = draw_para(
        c,
        x,
        y - 20,
        "Each zone's values come from the usable photo that sees it most directly (smallest "
        "view angle); the whole face from the most frontal photo. Red values marked ! : the "
        f"photos disagree by more than {study.disagreement_pct:g} % (a reason to look at the "
        "photos). Every photo's own values are on its page.",
        width,
        7.5,
    )
    zones = list(study.zones)
    keys: list[tuple[str, str]] = []
    for fv in study.values:
        if (fv.key, fv.unit) not in keys:
            keys.append((fv.key, fv.unit))
    col = min(64.0, (width - _KEY_WIDTH) / max(len(zones), 1))
    y -= 8
    for i, z in enumerate(zones):
        cx = x + _KEY_WIDTH + i * col
        name, _, side = z.region.partition("_")
        draw_text(c, cx, y, name, 6.5, bold=True)
        draw_text(c, cx, y - 7, side, 6.5, bold=True)
        number = sp.numbers.get(z.source)
        draw_text(c, cx, y - 15, f"{z.view} ({number if number else '?'})", 6.5)
        angle = "" if z.view_angle_deg is None else f"{z.view_angle_deg:.0f} deg"
        draw_text(c, cx, y - 22, angle, 6)
    draw_text(c, x, y, "zone", 7, bold=True)
    draw_text(c, x, y - 15, "from view (photo)", 7)
    draw_text(c, x, y - 22, "view angle", 6)
    y -= 26
    c.setStrokeGray(0.5)
    c.line(x, y, x + _KEY_WIDTH + len(zones) * col, y)
    y -= 9
    values = {(v.key, v.region): v for v in study.values}
    flagged: list[FusedValue] = []
    for r, (key, unit) in enumerate(keys):
        if y < _BOTTOM:
            draw_text(c, x, y, f"(and {len(keys) - r} more keys in the SR and the JSON)", 7)
            break
        if r % 2 == 0:
            c.setFillGray(0.95)
            c.rect(x, y - 2.5, _KEY_WIDTH + len(zones) * col, _ROW - 0.5, stroke=0, fill=1)
            c.setFillGray(0)
        draw_text(c, x, y, f"{meaning(key)}{_unit(unit)}"[:38], 7)
        for i, z in enumerate(zones):
            v = values.get((key, z.region))
            if v is None:
                continue
            cx = x + _KEY_WIDTH + i * col
            if v.disagreement:
                flagged.append(v)
                c.setFillColorRGB(*_RED)
                draw_text(c, cx, y, f"{num_text(v.value)} !", 7, bold=True)
                c.setFillGray(0)
            else:
                draw_text(c, cx, y, num_text(v.value), 7)
        y -= _ROW
    y -= 6
    if flagged:
        c.setFillColorRGB(*_RED)
        draw_text(c, x, y, "The photos disagree about:", 8, bold=True)
        c.setFillGray(0)
        y -= 10
        for v in flagged:
            if y < MARGIN + 30:
                break
            spread = "" if v.spread_pct is None else f"spread {v.spread_pct:.0f} %, "
            draw_text(
                c,
                x + 8,
                y,
                f"{v.region.replace('_', ' ')}: {meaning(v.key)} = {num_text(v.value)} "
                f"({spread}{v.n_views} photos)",
                7.5,
            )
            y -= 9.5
    else:
        draw_text(c, x, y, "The photos agree on every value shown.", 8)
    footer(c, algo, n, total)
