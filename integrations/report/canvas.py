"""Page geometry and drawing primitives shared by the report's pages: text, wrapped
paragraphs, fitted images, the page header and footer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfgen.canvas import Canvas

from analysis.treatment import ClinicNorms
from analysis.types import ImageResult
from integrations.report.fonts import font_for
from integrations.report.texts import (
    DISCLAIMER,
    format_date,
    format_person_name,
)
from integrations.study import StudyInfo

__all__ = [
    "MARGIN",
    "PAGE",
    "Page",
    "draw_image",
    "draw_para",
    "draw_text",
    "footer",
    "header",
]


PAGE = landscape(A4)
MARGIN = 28.0


@dataclass(frozen=True, slots=True)
class Page:
    image: ImageResult
    study: StudyInfo | None
    photo: npt.NDArray[np.uint8] | None
    norms: ClinicNorms | None = None  # percentiles among the clinic's own patients


def draw_image(c: Canvas, img: Image.Image, x: float, y: float, w: float, h: float) -> None:
    """Draw *img* fitted into the box (x, y lower-left), downscaled to at most 900 px."""
    img = img.copy()
    img.thumbnail((900, 900))
    scale = min(w / img.width, h / img.height)
    dw, dh = img.width * scale, img.height * scale
    c.drawImage(ImageReader(img), x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)
    c.setStrokeGray(0.6)
    c.rect(x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)


def draw_text(
    c: Canvas, x: float, y: float, text: str, size: float = 8, bold: bool = False
) -> None:
    c.setFont(font_for(text, bold), size)
    c.drawString(x, y, text)


def draw_para(
    c: Canvas, x: float, y: float, text: str, width: float, size: float = 7, bold: bool = False
) -> float:
    """Draw wrapped text from the top line at *y*; return the y below it."""
    font = font_for(text, bold)
    for line in simpleSplit(text, font, size, width):
        c.setFont(font, size)
        c.drawString(x, y, line)
        y -= size * 1.25
    return y


def header(c: Canvas, page: Page, index: int, total: int, subtitle: str | None = None) -> float:
    w, h = PAGE
    y = h - MARGIN
    c.setFillColorRGB(0.12, 0.22, 0.35)
    c.rect(0, y - 6, w, MARGIN + 6, stroke=0, fill=1)
    c.setFillGray(1)
    draw_text(c, MARGIN, y + 4, "DermNode skin analysis report", 13, bold=True)
    draw_text(c, w - MARGIN - 190, y + 4, "Decision support, not diagnosis", 9, bold=True)
    c.setFillGray(0)
    y -= 22
    s = page.study
    if s is not None:
        name = format_person_name(s.patient_name) or "(no name)"
        draw_text(c, MARGIN, y, "Patient:", 9, bold=True)
        draw_text(c, MARGIN + 44, y, name, 10)
        draw_text(
            c,
            MARGIN + 330,
            y,
            f"ID: {s.patient_id}   Born: {format_date(s.patient_birth_date)}   "
            f"Sex: {s.patient_sex}",
            9,
        )
        y -= 13
        draw_text(
            c,
            MARGIN,
            y,
            f"Study: {format_date(s.study_date)} {s.study_description}   Accession: "
            f"{s.accession_number}   Referring: {format_person_name(s.referring_physician_name)}",
            8,
        )
    else:
        draw_text(c, MARGIN, y, "Patient: (not a DICOM study: ordinary image file)", 9)
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
    draw_text(c, MARGIN, y, line, 8, bold=True)
    return float(y - 10)


def footer(c: Canvas, algo: str, page_no: int, page_total: int) -> None:
    w, _ = PAGE
    draw_para(c, MARGIN, MARGIN + 6, DISCLAIMER, w - 2 * MARGIN - 120, 7, bold=True)
    draw_text(c, w - MARGIN - 110, MARGIN - 2, f"{algo}   page {page_no}/{page_total}", 7)
