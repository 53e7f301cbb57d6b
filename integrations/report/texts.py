"""The fixed wording of the clinician report and the formatting of its values and names."""

from __future__ import annotations

from analysis.keys import key_info
from analysis.progress import ChangeLabel

__all__ = [
    "DISCLAIMER",
    "MDC_NOTE",
    "METHOD_LIMITS",
    "fmt",
    "format_date",
    "format_person_name",
    "known_key",
    "label_text",
    "meaning",
    "num_text",
    "pct_text",
]


DISCLAIMER = (
    "Decision support, not diagnosis. These measurements describe the appearance of the skin "
    "in this photograph; they must be interpreted by a clinician together with the examination."
)
METHOD_LIMITS = (
    "Values depend on lighting, camera, distance and make-up; compare visits only when they were "
    "photographed the same way. Lengths and areas use an estimated scale unless the image carries "
    "Pixel Spacing. Scores 0-100 are relative (higher = more visible) and not validated against "
    "clinical grading scales. Hydration and UV damage cannot be measured from visible-light photos."
)


def format_person_name(pn: str) -> str:
    """A DICOM PN for display.

    ``Hong^Gildong=洪^吉洞=홍^길동`` becomes ``Hong Gildong / 洪吉洞 / 홍길동``.

    Alphabetic groups keep a space between family and given name; ideographic and phonetic
    groups (CJK) are written without one, as Korean names are.
    """
    groups = pn.split("=")
    out: list[str] = []
    for i, group in enumerate(groups):
        parts = [p for p in group.split("^") if p]
        if not parts:
            continue
        out.append(("" if i > 0 else " ").join(parts))
    return " / ".join(out)


def format_date(value: str) -> str:
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"


def known_key(key: str) -> bool:
    try:
        key_info(key)
    except KeyError:
        return False
    return True


MDC_NOTE = (
    "A change is called improved or worsened only when it is larger than the minimum "
    "detectable change (MDC95 = 1.96 x sqrt(2) x SEM of repeat captures, widened for the "
    "number of rows compared). A change inside the MDC is within measurement noise and is "
    "labelled stable: it is never called an improvement. Keys without a measured MDC get no "
    "verdict."
)


def num_text(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    a = abs(v)
    text = f"{v:+.0f}" if signed else f"{v:.0f}"
    if float(v).is_integer():
        return text
    if a < 10:
        text = f"{v:+.2f}" if signed else f"{v:.2f}"
    elif a < 100:
        text = f"{v:+.1f}" if signed else f"{v:.1f}"
    return text


def pct_text(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f} %"


def meaning(key: str) -> str:
    return key_info(key).meaning if known_key(key) else key


def label_text(label: str) -> str:
    """The short wording of a change verdict (:attr:`analysis.progress.ChangeLabel.text`)."""
    try:
        return ChangeLabel(label).text
    except ValueError:
        return label
