"""The patient report (``patient-report.pdf``): plain language, Korean or English.

One portrait A4 page for the study (the concern scores of this visit against the previous
one, the face with its zones coloured by score, what was not assessed and why, the limits in
plain words) and, where the patient has earlier visits, one page on progress (the before/after
pair, each concern's score at every visit, and one sentence per concern whose wording follows
the MDC-gated verdict: a change inside the measurement's noise is never called a change).

Every word comes from the message catalogues (:mod:`integrations.report.messages`); the font
(NanumGothic) is embedded, so the text is extractable in both languages. The page shows the
study's main photo: the first usable frontal face photo, else the first usable photo.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfgen.canvas import Canvas

from analysis.keys import CONCERNS, key_info
from analysis.progress import Change, Comparison, VisitValues
from analysis.scores import compute_scores
from analysis.treatment import CourseResponse, zone_scores
from analysis.types import AnalysisResult, ImageResult, Measurement, View
from integrations.progress_view import PriorView, before_after
from integrations.report.charts import ScoreBar, TrendSeries, score_bars, trend_charts, zone_faces
from integrations.report.fonts import patient_fonts
from integrations.report.messages import Messages, messages
from integrations.report.overlays import DRAW_MAX_SIDE
from integrations.report.texts import format_date, format_person_name
from integrations.study import StudyInfo

__all__ = ["main_image", "render_patient_report", "visit_scores"]

logger = logging.getLogger(__name__)

_PAGE = A4
_MARGIN = 40.0
_INK = (0.12, 0.22, 0.35)
#: Long side (px) of the photos drawn on the patient pages.
_DRAW_SIDE = 900
#: Concerns shown as coloured faces (the highest scores of this visit first).
_FACE_PANELS = 3


def main_image(result: AnalysisResult) -> int | None:
    """The index of the photo the patient page shows, or None when none is usable."""
    usable = [i for i, img in enumerate(result.images) if img.quality.usable and img.scores]
    for i in usable:
        if result.images[i].description.view is View.FRONTAL:
            return i
    return usable[0] if usable else None


def visit_scores(visit: VisitValues) -> dict[str, float]:
    """The concern scores of an earlier visit, from its stored raw values (same mapping)."""
    ms = [
        Measurement(key, region, value, visit.units.get(key, ""))
        for (region, key), value in visit.values.items()
    ]
    return compute_scores(ms)


@dataclass(slots=True)
class _Writer:
    """Text on a canvas in the patient report's fonts."""

    c: Canvas
    msg: Messages
    regular: str
    bold: str

    def text(self, x: float, y: float, text: str, size: float, bold: bool = False) -> None:
        self.c.setFont(self.bold if bold else self.regular, size)
        self.c.drawString(x, y, text)

    def para(
        self, x: float, y: float, text: str, width: float, size: float, bold: bool = False
    ) -> float:
        font = self.bold if bold else self.regular
        for line in _wrap(text, font, size, width):
            self.c.setFont(font, size)
            self.c.drawString(x, y, line)
            y -= size * 1.4
        return y

    def heading(self, x: float, y: float, text: str) -> float:
        self.c.setFillColorRGB(*_INK)
        self.text(x, y, text, 12, bold=True)
        self.c.setFillGray(0)
        return y - 16


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines = simpleSplit(text, font, size, width)
    return [str(line) for line in lines]


def _image(c: Canvas, img: Image.Image, x: float, y_top: float, width: float) -> float:
    """Draw *img* at *width* points wide from *y_top* down; return the y below it."""
    h = width * img.height / img.width
    c.drawImage(ImageReader(img), x, y_top - h, width, h)
    return y_top - h


def _small(photo: npt.NDArray[np.uint8], side: int) -> npt.NDArray[np.uint8]:
    h, w = photo.shape[:2]
    f = min(1.0, side / max(h, w))
    if f >= 1.0:
        return photo
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return np.asarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA), np.uint8)


def _small_mask(mask: npt.NDArray[np.bool_], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    if mask.shape == shape:
        return mask
    out = cv2.resize(mask.view(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.asarray(out.astype(bool))


def _concern(msg: Messages, concern: str) -> str:
    msgid = f"concern.{concern}"
    return msg(msgid) if msg.has(msgid) else concern.replace("_", " ")


def _header(w: _Writer, study: StudyInfo | None, subtitle: str) -> float:
    pw, ph = _PAGE
    c = w.c
    c.setFillColorRGB(*_INK)
    c.rect(0, ph - 74, pw, 74, stroke=0, fill=1)
    c.setFillGray(1)
    w.text(_MARGIN, ph - 38, w.msg("report.title"), 20, bold=True)
    w.text(_MARGIN, ph - 58, subtitle, 10)
    c.setFillGray(0)
    y = ph - 96
    if study is not None:
        name = format_person_name(study.patient_name)
        if name:
            w.text(_MARGIN, y, f"{w.msg('report.name')}: {name}", 10, bold=True)
        if study.study_date:
            w.text(
                pw - _MARGIN - 150, y, w.msg("report.visit", date=format_date(study.study_date)), 10
            )
        y -= 18
    return float(y)


def _footer(w: _Writer, page: int, total: int) -> None:
    pw, _ = _PAGE
    w.c.setStrokeGray(0.7)
    w.c.line(_MARGIN, 58, pw - _MARGIN, 58)
    w.para(_MARGIN, 46, w.msg("disclaimer"), pw - 2 * _MARGIN - 70, 8, bold=True)
    w.text(pw - _MARGIN - 60, 46, w.msg("footer.page", page=page, total=total), 8)


def _not_assessed_lines(
    msg: Messages, result: AnalysisResult, image: ImageResult | None
) -> list[str]:
    lines: list[str] = []
    seen: set[str] = set()
    for img in [image] if image is not None else []:
        for na in img.not_assessed:
            key = na.key.split(".")[0]
            if key in seen:
                continue
            seen.add(key)
            msgid = f"na.{key}"
            lines.append(
                msg(msgid) if msg.has(msgid) else msg("na.generic", concern=_concern(msg, key))
            )
    unusable = sum(1 for img in result.images if not img.quality.usable)
    if unusable:
        lines.append(msg("na.unusable", count=unusable))
    return lines


def _study_page(
    w: _Writer,
    result: AnalysisResult,
    study: StudyInfo | None,
    image: ImageResult | None,
    photo: npt.NDArray[np.uint8] | None,
    previous: VisitValues | None,
    page: int,
    total: int,
) -> None:
    pw, _ = _PAGE
    width = pw - 2 * _MARGIN
    msg = w.msg
    y = _header(w, study, msg("report.subtitle"))
    y = w.para(_MARGIN, y, msg("report.intro"), width, 9.5) - 8
    y = w.heading(_MARGIN, y, msg("scores.title"))
    y = w.para(_MARGIN, y, msg("scores.help"), width, 8.5) - 2
    if image is None or not image.scores:
        y = w.para(_MARGIN, y, msg("scores.none"), width, 10, bold=True) - 6
    else:
        before = visit_scores(previous) if previous is not None else {}
        bars = [
            ScoreBar(_concern(msg, k), float(image.scores[k]), before.get(k))
            for k in CONCERNS
            if k in image.scores
        ]
        before_label = (
            msg("scores.previous_visit", date=previous.study_date.isoformat())
            if previous is not None and before
            else None
        )
        chart = score_bars(
            bars, msg("scores.this_visit"), before_label, msg("scores.axis"), (6.6, 2.3)
        )
        y = _image(w.c, chart, _MARGIN, y, width) - 4
        # the same numbers as text (extractable; the chart is a picture)
        parts = [
            f"{b.label} {b.current:.0f}"
            + (f" ({b.previous:.0f})" if b.previous is not None else "")
            for b in bars
        ]
        y = w.para(_MARGIN, y, " · ".join(parts), width, 7.5)
        if previous is None:
            y = w.para(_MARGIN, y - 2, msg("scores.no_previous"), width, 8.5)
        y -= 8
        y = w.heading(_MARGIN, y, msg("zones.title"))
        if photo is not None and image.zones:
            y = w.para(_MARGIN, y, msg("zones.help"), width, 8.5) - 2
            small = _small(photo, _DRAW_SIDE)
            shape = (small.shape[0], small.shape[1])
            zones = [(z.region, _small_mask(z.mask, shape)) for z in image.zones]
            per_zone = zone_scores(image)
            top = sorted(image.scores, key=lambda k: -image.scores[k])[:_FACE_PANELS]
            panels = [
                (_concern(msg, k), {z: s[k] for z, s in per_zone.items() if k in s}) for k in top
            ]
            faces = zone_faces(small, zones, panels, (6.6, 2.6))
            y = _image(w.c, faces, _MARGIN, y, width) - 6
        else:
            y = w.para(_MARGIN, y, msg("zones.none"), width, 8.5) - 6
    y = w.heading(_MARGIN, y, msg("na.title"))
    lines = _not_assessed_lines(msg, result, image)
    for line in lines or [msg("na.none")]:
        y = w.para(_MARGIN + 8, y, f"• {line}", width - 8, 8.5)
    y -= 8
    y = w.heading(_MARGIN, y, msg("limits.title"))
    w.para(_MARGIN, y, msg("limits.text"), width, 8.5)
    _footer(w, page, total)


def _concern_change(comparison: Comparison, concern: str, top: str) -> Change | None:
    """The change that speaks for *concern*: its first key in the photo-level region."""
    own: list[Change] = []
    for ch in comparison.changes:
        try:
            info = key_info(ch.key)
        except KeyError:
            continue
        if info.concern == concern:
            own.append(ch)
    at_top = [ch for ch in own if ch.region == top]
    pool = at_top or own
    return pool[0] if pool else None


def _progress_page(
    w: _Writer,
    study: StudyInfo | None,
    image: ImageResult,
    photo: npt.NDArray[np.uint8] | None,
    prior: PriorView,
    page: int,
    total: int,
    course: CourseResponse | None = None,
) -> None:
    pw, _ = _PAGE
    width = pw - 2 * _MARGIN
    msg = w.msg
    comparison = prior.comparison
    y = _header(w, study, msg("progress.title"))
    if not comparison.comparable or comparison.previous is None:
        y = w.para(_MARGIN, y, msg("progress.not_compared"), width, 10, bold=True)
        _footer(w, page, total)
        return
    y = w.para(
        _MARGIN,
        y,
        msg(
            "progress.intro",
            date=comparison.previous.study_date.isoformat(),
            visits=len(comparison.visits),
        ),
        width,
        9.5,
    )
    y -= 6
    ba = before_after(photo, image, prior, max_side=DRAW_MAX_SIDE)  # as the clinician report
    if ba is None:
        y = w.para(_MARGIN, y, msg("progress.no_photo"), width, 9) - 6
    elif not ba.registration.fair:
        y = w.para(_MARGIN, y, msg("progress.unfair"), width, 9, bold=True) - 6
    else:
        half = (width - 12) / 2
        left = Image.fromarray(ba.earlier)
        right = Image.fromarray(ba.current)
        h = min(190.0, half * left.height / left.width)
        wl = h * left.width / left.height
        w.c.drawImage(ImageReader(left), _MARGIN + (half - wl) / 2, y - h, wl, h)
        w.c.drawImage(ImageReader(right), _MARGIN + half + 12 + (half - wl) / 2, y - h, wl, h)
        y -= h + 12
        now = format_date(study.study_date) if study is not None and study.study_date else ""
        w.text(
            _MARGIN, y, msg("progress.before", date=comparison.previous.study_date.isoformat()), 9
        )
        w.text(_MARGIN + half + 12, y, msg("progress.after", date=now), 9)
        y -= 16
    # scores over the visits and the verdict on each concern
    top = "face" if image.description.view.is_face else "skin"
    series: list[TrendSeries] = []
    sentences: list[str] = []
    for concern in CONCERNS:
        if concern not in image.scores:
            continue
        change = _concern_change(comparison, concern, top)
        label = str(change.label) if change is not None else ""
        visits = [v for v in comparison.visits if v.study_uid != comparison.current.study_uid]
        dates = [v.study_date for v in visits] + [comparison.current.study_date]
        scores = [visit_scores(v).get(concern) for v in visits] + [image.scores[concern]]
        pairs = [(d, s) for d, s in zip(dates, scores, strict=True) if s is not None]
        name = _concern(msg, concern)
        if len(pairs) >= 2:
            series.append(
                TrendSeries(
                    name,
                    tuple(d for d, _ in pairs),
                    tuple(float(s) for _, s in pairs),
                    label,
                )
            )
        if label:
            sentences.append(msg(f"change.{label}", concern=name))
    y = w.heading(_MARGIN, y, msg("progress.changes_title"))
    for line in sentences:
        y = w.para(_MARGIN + 8, y, f"• {line}", width - 8, 8.5)
    y -= 6
    if course is not None and course.changes:
        title = msg(
            "course.title",
            name=course.course.name,
            date=course.course.start_date.isoformat(),
        )
        y = w.heading(_MARGIN, y, title)
        for ch in course.changes:
            text = msg(f"course.{ch.label}", concern=_concern(msg, ch.concern))
            y = w.para(_MARGIN + 8, y, f"• {text}", width - 8, 8.5)
        y -= 6
    if series:
        y = w.heading(_MARGIN, y, msg("progress.trend_title"))
        rows = (len(series) + 2) // 3
        chart = trend_charts(
            series,
            msg("scores.axis"),
            (6.6, 1.55 * rows + 0.2),
            marker=course.course.start_date if course is not None else None,
        )
        _image(w.c, chart, _MARGIN, y, width)
    _footer(w, page, total)


def render_patient_report(
    result: AnalysisResult,
    study: StudyInfo | None,
    photos: Sequence[npt.NDArray[np.uint8] | None] | None = None,
    *,
    progress: Sequence[PriorView | None] | None = None,
    language: str = "en",
    course: Sequence[CourseResponse | None] | None = None,
) -> bytes:
    """Render the patient report of *result* in *language* (``en`` or ``ko``).

    Parameters
    ----------
    result
        The analysis result.
    study
        Patient and study header (None for ordinary image files).
    photos
        RGB pixels of each photo, in the order of ``result.images`` (None: no pictures).
    progress
        Per photo, the comparison with earlier visits (as for the clinician report).
    language
        The catalogue to write in.
    course
        Per photo, the response since the patient's treatment course began: a section on the
        progress page (MDC-gated sentences) and the course start marked on the charts.

    Raises
    ------
    ValueError
        When *language* is unknown or *progress* and ``result.images`` differ in length.
    RuntimeError
        When the embedded font is not installed.
    """
    msg = messages(language)
    if progress is not None and len(progress) != len(result.images):
        raise ValueError(f"progress: {len(progress)} entries for {len(result.images)} images")
    regular, bold = patient_fonts()
    index = main_image(result)
    image = result.images[index] if index is not None else None
    photo = (
        photos[index] if photos is not None and index is not None and index < len(photos) else None
    )
    prior = progress[index] if progress is not None and index is not None else None
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=_PAGE, invariant=True, pageCompression=1, initialFontName=regular)
    c.setTitle(msg("report.title"))
    c.setAuthor(f"{result.algorithm_name} {result.algorithm_version}")
    c.setSubject(msg("disclaimer"))
    w = _Writer(c, msg, regular, bold)
    total = 2 if prior is not None and image is not None else 1
    previous = (
        prior.comparison.previous if prior is not None and prior.comparison.comparable else None
    )
    _study_page(w, result, study, image, photo, previous, 1, total)
    c.showPage()
    if total == 2 and image is not None and prior is not None:
        response = course[index] if course is not None and index is not None else None
        _progress_page(w, study, image, photo, prior, 2, total, response)
        c.showPage()
    c.save()
    logger.debug("patient report: %d page(s), language %s", total, msg.language)
    return buf.getvalue()
