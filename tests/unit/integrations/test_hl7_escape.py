from __future__ import annotations

import random

import hl7
import pytest

from integrations.hl7.escape import ENCODING_CHARACTERS, escape, unescape

NASTY = [
    "",
    "plain",
    "O'Brien|Smith",
    "A^B",
    "Tom & Jerry",
    "one~two",
    "back\\slash",
    "\\F\\",  # looks like an escape sequence: must stay literal text
    "\\H\\bold\\N\\",
    "\\X41\\",
    "\\E\\",
    "\\",
    "|^~\\&",
    "홍길동",
    "Hong^Gildong=洪^吉洞=홍^길동",
    "José Müller-Lüdenscheidt",
    "Ærøskøbing",
]


@pytest.mark.parametrize(
    ("char", "sequence"),
    [("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"), ("\\", "\\E\\")],
)
def test_each_delimiter_has_its_escape_sequence(char: str, sequence: str) -> None:
    assert escape(f"a{char}b") == f"a{sequence}b"


def test_escape_char_is_escaped_first_so_sequences_stay_literal() -> None:
    assert escape("\\F\\") == "\\E\\F\\E\\"
    assert escape("a|b") != escape("a\\F\\b")


@pytest.mark.parametrize("text", NASTY)
def test_escaped_text_holds_no_delimiter(text: str) -> None:
    escaped = escape(text)
    for delimiter in "|^~&":
        assert delimiter not in escaped
    # every backslash belongs to one of the five sequences
    stripped = escaped
    for seq in ("\\E\\", "\\F\\", "\\S\\", "\\T\\", "\\R\\"):
        stripped = stripped.replace(seq, "")
    assert "\\" not in stripped


@pytest.mark.parametrize("text", NASTY)
def test_round_trip_own_unescape(text: str) -> None:
    assert unescape(escape(text)) == text


@pytest.mark.parametrize("text", NASTY)
def test_round_trip_through_python_hl7(text: str) -> None:
    """An independent parser splits our ER7 correctly and unescapes back to the input."""
    er7 = f"MSH|{ENCODING_CHARACTERS}|A|B\rZZZ|{escape(text)}|after"
    msg = hl7.parse(er7)
    seg = msg.segment("ZZZ")
    assert str(seg(2)) == "after"  # the value did not split the segment into more fields
    assert msg.unescape(str(seg(1))) == text


def test_random_strings_round_trip() -> None:
    alphabet = "ab|^~\\&FSTREHNX.홍é \u00e6"
    rng = random.Random(1234)
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        escaped = escape(text)
        assert unescape(escaped) == text
        er7 = f"MSH|{ENCODING_CHARACTERS}|A\rZZZ|{escaped}|end"
        parsed = hl7.parse(er7)
        assert parsed.unescape(str(parsed.segment("ZZZ")(1))) == text


@pytest.mark.parametrize("control", ["\r", "\n", "\t", "\x00", "\x1b", "\x7f", "\x85"])
def test_control_characters_become_spaces(control: str) -> None:
    assert escape(f"a{control}b") == "a b"


def test_unescape_handles_peer_sequences() -> None:
    assert unescape("\\X41\\\\X4243\\") == "ABC"
    assert unescape("line\\.br\\next") == "line\nnext"
    assert unescape("\\H\\bold\\N\\") == "bold"
    assert unescape("\\Cxxyy\\text") == "text"
    assert unescape("no closing \\ here") == "no closing \\ here"


def test_escape_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        escape(12)  # type: ignore[arg-type]
