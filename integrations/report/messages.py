"""The message catalogues of the patient report (gettext).

Every word the patient reads comes from ``locale/<language>/LC_MESSAGES/patient.po``; the code
holds only symbolic message ids (``scores.title``). The compiled ``.mo`` files are committed
beside the ``.po`` files (``make messages`` recompiles them with Babel; a test fails when a
``.mo`` no longer matches its ``.po``), so a fresh machine needs no compile step and the
catalogues are read with Python's own :mod:`gettext`.
"""

from __future__ import annotations

import gettext
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

__all__ = ["DOMAIN", "LOCALE_DIR", "Language", "Messages", "messages"]

#: The gettext domain of the patient report.
DOMAIN = "patient"
#: Where the catalogues live (shipped as package data).
LOCALE_DIR = Path(__file__).with_name("locale")


class Language(StrEnum):
    """The languages of the patient report."""

    EN = "en"
    KO = "ko"


class Messages:
    """The patient report's texts in one language.

    Parameters
    ----------
    language
        ``en`` or ``ko`` (:class:`Language`).

    Raises
    ------
    ValueError
        When *language* is not one of :class:`Language`.
    """

    def __init__(self, language: str | Language) -> None:
        try:
            self.language = Language(language)
        except ValueError:
            known = ", ".join(lang.value for lang in Language)
            raise ValueError(f"language: {language!r} is not one of {known}") from None
        self._catalogue = gettext.translation(
            DOMAIN, localedir=str(LOCALE_DIR), languages=[self.language.value]
        )

    def __call__(self, msgid: str, **values: object) -> str:
        """The text of *msgid*, with ``{name}`` placeholders filled from *values*.

        Raises
        ------
        KeyError
            When the catalogue has no text for *msgid* (a missing message is a bug, never
            shown to a patient as a bare id).
        """
        text = self._catalogue.gettext(msgid)
        if text == msgid:
            raise KeyError(f"message {msgid!r} missing from the {self.language} catalogue")
        return text.format(**values) if values else text

    def has(self, msgid: str) -> bool:
        """Whether the catalogue has a text for *msgid*."""
        return self._catalogue.gettext(msgid) != msgid


@lru_cache(maxsize=4)
def messages(language: str) -> Messages:
    """The (cached) :class:`Messages` of *language*."""
    return Messages(language)
