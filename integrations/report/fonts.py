"""Fonts of the reports: Helvetica for Latin text, a font with Hangul and Hanja for the rest.

The Korean font is NanumGothic (SIL Open Font License 1.1, by NAVER), a TrueType font shipped
inside the PyPI package ``koreanize-matplotlib`` (a runtime dependency; nothing is downloaded at
run time). The package is never imported (its import changes matplotlib's global settings):
only its font files are located. It is embedded as a subset, so the PDF shows Hangul and Hanja
on any viewer and ``pdftotext`` extracts them. ``DERMNODE_PDF_FONT`` may name another TrueType
font. Without any, the clinician report falls back to reportlab's built-in CID font
``HYSMyeongJo-Medium`` (Adobe-Korea1, not embedded, the viewer supplies the glyphs).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

__all__ = [
    "BOLD",
    "FONT",
    "cjk_font_name",
    "font_for",
    "korean_font_path",
    "patient_fonts",
]


logger = logging.getLogger(__name__)


FONT = "Helvetica"
BOLD = "Helvetica-Bold"
_CID_FONT = "HYSMyeongJo-Medium"
#: A TrueType font is used only if it has glyphs for all of these (Latin, Hangul, Hanja).
_COVERAGE_PROBE = "Hong Gildong 홍길동 洪吉洞 김민지"
_cjk_font: str | None = None


def _ttf_covers(font: TTFont, text: str) -> bool:
    cmap = font.face.charToGlyph
    return all(ord(ch) in cmap for ch in text if not ch.isspace())


def cjk_font_name() -> str:
    """Register (once) and return the name of a font with Latin, Hangul and Hanja glyphs.

    ``DERMNODE_PDF_FONT`` may name a TrueType file, else NanumGothic (:func:`korean_font_path`)
    is used (embedded as a subset), when it covers Latin, Hangul and Hanja. Otherwise the
    built-in CID font, which needs no file.
    """
    global _cjk_font
    if _cjk_font is not None:
        return _cjk_font
    path = os.environ.get("DERMNODE_PDF_FONT", "")
    if not path:
        found = korean_font_path()
        path = str(found) if found is not None else ""
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


def font_for(text: str, bold: bool = False) -> str:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return cjk_font_name()
    return BOLD if bold else FONT


def korean_font_path(bold: bool = False) -> Path | None:
    """The NanumGothic TrueType file shipped in ``koreanize-matplotlib``, or None.

    Located with :func:`importlib.util.find_spec` on the package without importing it.
    """
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "NanumGothicBold.ttf" if bold else "NanumGothic.ttf"
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / name
    return path if path.is_file() else None


_patient_fonts: tuple[str, str] | None = None


def patient_fonts() -> tuple[str, str]:
    """Register (once) and return the regular and bold font names of the patient report.

    Both are NanumGothic, embedded (Latin and Hangul in one face, so a sentence mixing them
    keeps one look).

    Raises
    ------
    RuntimeError
        When the font package is not installed (the patient report must embed its font).
    """
    global _patient_fonts
    if _patient_fonts is not None:
        return _patient_fonts
    regular, bold = korean_font_path(), korean_font_path(bold=True)
    if regular is None or bold is None:
        raise RuntimeError(
            "the patient report needs the NanumGothic font of the koreanize-matplotlib package"
        )
    pdfmetrics.registerFont(TTFont("NanumGothic", str(regular)))
    pdfmetrics.registerFont(TTFont("NanumGothic-Bold", str(bold)))
    _patient_fonts = ("NanumGothic", "NanumGothic-Bold")
    return _patient_fonts
