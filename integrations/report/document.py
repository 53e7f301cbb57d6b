"""The clinician report as a whole: one landscape A4 page per photo, followed by its progress
pages where the patient has earlier results."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from reportlab.pdfgen.canvas import Canvas

from analysis.treatment import ClinicNorms, CourseResponse, TreatmentSupport
from analysis.types import AnalysisResult
from integrations.progress_view import PriorView
from integrations.report.canvas import (
    MARGIN,
    PAGE,
    Page,
    draw_text,
)
from integrations.report.course_page import CoursePage, draw_course_page
from integrations.report.photo_page import draw_photo_page
from integrations.report.progress_pages import (
    ProgressPage,
    draw_change_table,
    draw_progress_overview,
    progress_pages,
)
from integrations.report.study_page import StudyPage, draw_study_page, study_page
from integrations.report.treatment_page import TreatmentPage, draw_treatment_page
from integrations.study import StudyInfo

__all__ = [
    "render_report",
]


logger = logging.getLogger(__name__)


def _render(
    result: AnalysisResult,
    pages: Sequence[Page],
    progress: Sequence[PriorView | None] | None,
    treatment: TreatmentSupport | None,
    course: Sequence[CourseResponse | None] | None = None,
) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=PAGE, invariant=True, pageCompression=1)
    c.setTitle("DermNode skin analysis report")
    c.setAuthor(f"{result.algorithm_name} {result.algorithm_version}")
    c.setSubject("Decision support, not diagnosis")
    algo = f"{result.algorithm_name} {result.algorithm_version}"
    plan: list[Page | ProgressPage | TreatmentPage | CoursePage | StudyPage] = []
    for i, page in enumerate(pages):
        plan.append(page)
        prior = progress[i] if progress is not None else None
        if prior is not None:
            plan += progress_pages(page, prior, i + 1, len(pages))
        response = course[i] if course is not None and i < len(course) else None
        if response is not None and prior is not None:
            plan.append(CoursePage(response, prior.comparison, page, i + 1, len(pages)))
    summary = study_page(result, pages[0]) if pages else None
    if summary is not None:
        plan.append(summary)
    if treatment is not None and pages:
        plan.append(TreatmentPage(treatment, pages[0]))
    if not plan:
        draw_text(c, MARGIN, PAGE[1] - MARGIN, "No photos were analysed.", 12)
        c.showPage()
    total = len(plan)
    photo_no = 0
    for n, item in enumerate(plan, start=1):
        if isinstance(item, Page):
            photo_no += 1
            draw_photo_page(c, item, photo_no, len(pages), algo, n, total)
        elif isinstance(item, TreatmentPage):
            draw_treatment_page(c, item, algo, n, total)
        elif isinstance(item, StudyPage):
            draw_study_page(c, item, algo, n, total)
        elif isinstance(item, CoursePage):
            draw_course_page(c, item, algo, n, total)
        elif item.part == 0:
            draw_progress_overview(c, item, algo, n, total)
        else:
            draw_change_table(c, item, algo, n, total)
        c.showPage()
    c.save()
    logger.debug("report: %d page(s)", total)
    return buf.getvalue()


def render_report(
    result: AnalysisResult,
    study: StudyInfo | None,
    photos: Sequence[npt.NDArray[np.uint8] | None] | None = None,
    *,
    progress: Sequence[PriorView | None] | None = None,
    treatment: TreatmentSupport | None = None,
    course: Sequence[CourseResponse | None] | None = None,
    norms: Sequence[ClinicNorms | None] | None = None,
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
    treatment
        The clinic rules' result: a last page "Topics for the consultation".
        (With study-level values from two or more usable photos, ``result.study``, a "Study
        summary" page comes after the photo pages and before this one.)
    course
        Per photo (same order), the response since the patient's treatment course began, or
        None: a "Treatment course" page after that photo's progress pages.
    norms
        Per photo, the percentiles among the clinic's own earlier patients of the same sex
        and age band (or why there are none), beside the scores.

    Raises
    ------
    ValueError
        When *progress* and ``result.images`` differ in length.
    """
    pages = [
        Page(
            img,
            study,
            photos[i] if photos is not None and i < len(photos) else None,
            norms[i] if norms is not None and i < len(norms) else None,
        )
        for i, img in enumerate(result.images)
    ]
    if progress is not None and len(progress) != len(pages):
        raise ValueError(f"progress: {len(progress)} entries for {len(pages)} images")
    return _render(result, pages, progress, treatment, course)
