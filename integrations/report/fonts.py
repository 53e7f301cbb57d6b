"""Fonts of the reports: Helvetica for Latin text, a font with Hangul and Hanja for the rest.

A TrueType font is embedded when one is found (``DERMNODE_PDF_FONT``); otherwise reportlab's
built-in CID font ``HYSMyeongJo-Medium`` (Adobe-Korea1, no font file, the viewer supplies the
glyphs).
"""

from __future__ import annotations

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


def font_for(text: str, bold: bool = False) -> str:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return cjk_font_name()
    return BOLD if bold else FONT
