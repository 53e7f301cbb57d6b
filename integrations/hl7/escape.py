"""HL7 v2 escaping of free text (HL7 v2.5.1 chapter 2, section 2.7 "Use of escape sequences").

Every piece of text DermNode puts into an ORU (names, identifiers, reasons, codes) goes through
:func:`escape` exactly once, so a ``|``, ``^``, ``~``, ``\\`` or ``&`` in a patient's name can
never split a field, a component or a repetition. The escape character itself is escaped
first (``\\`` -> ``\\E\\``), so a literal ``\\F\\`` in the input survives as text and is not
turned into a ``|`` by the receiver. Control characters (a CR would end the segment) become a
space: ST fields may not hold them, and receivers handle the hexadecimal escape ``\\Xhh\\``
unevenly (hl7apy itself re-escapes it), so no escape sequence is used for them.

hl7apy escapes values itself, but leaves a backslash alone when it already looks like an
escape sequence (``\\H\\``, ``\\F\\`` ...), so text containing such a sequence would be
changed in transit; that is why this module does the escaping and hl7apy receives ER7 text.
"""

from __future__ import annotations

import re

__all__ = ["ENCODING_CHARACTERS", "escape", "unescape"]

#: MSH-2 of every message DermNode builds: component, repetition, escape, subcomponent.
ENCODING_CHARACTERS = "^~\\&"

_FIELD, _COMPONENT, _REPETITION, _ESCAPE, _SUBCOMPONENT = "|", "^", "~", "\\", "&"

_ESCAPES = {
    _ESCAPE: "\\E\\",
    _FIELD: "\\F\\",
    _COMPONENT: "\\S\\",
    _SUBCOMPONENT: "\\T\\",
    _REPETITION: "\\R\\",
}

_UNESCAPES = {"E": _ESCAPE, "F": _FIELD, "S": _COMPONENT, "T": _SUBCOMPONENT, "R": _REPETITION}

_SEQUENCE = re.compile(r"\\([^\\]*)\\")


def _escape_char(ch: str) -> str:
    mapped = _ESCAPES.get(ch)
    if mapped is not None:
        return mapped
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return " "
    return ch


def escape(text: str) -> str:
    """Escape *text* for one HL7 v2 leaf value (field, component or subcomponent).

    Parameters
    ----------
    text
        Any Unicode string (the encoding to bytes happens later, in the endpoint charset).

    Returns
    -------
    str
        ``text`` with ``\\ | ^ & ~`` replaced by ``\\E\\ \\F\\ \\S\\ \\T\\ \\R\\`` and
        control characters (C0, DEL and C1: U+0000-U+001F, U+007F-U+009F) by a space. Every
        other character, including non-ASCII letters, is kept as it is.

    Raises
    ------
    TypeError
        ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return "".join(_escape_char(ch) for ch in text)


def unescape(text: str) -> str:
    """Undo :func:`escape` and the other escape sequences a peer may send.

    Parameters
    ----------
    text
        One leaf value as it appears in an ER7 message (an ACK's MSA-3, a parsed field).

    Returns
    -------
    str
        The text with ``\\E\\ \\F\\ \\S\\ \\T\\ \\R\\`` and ``\\Xhh..\\`` (one byte per hex
        pair, read as Latin-1, i.e. code points U+0000-U+00FF) resolved; ``\\.br\\`` becomes a
        newline; highlighting (``\\H\\``, ``\\N\\``), character-set switches (``\\C..\\``,
        ``\\M..\\``), other formatting commands and application escapes (``\\Z..\\``) are
        removed. A lone backslash without a closing one is kept literally.
    """

    def _one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body in _UNESCAPES:
            return _UNESCAPES[body]
        if body.startswith("X") and len(body) % 2 == 1:
            digits = body[1:]
            try:
                return bytes.fromhex(digits).decode("latin-1")
            except ValueError:
                return ""
        if body == ".br":
            return "\n"
        return ""

    return _SEQUENCE.sub(_one, text)
