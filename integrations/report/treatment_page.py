"""The clinician report's "Topics for the consultation" page: the clinic rules' result.

Concerns ranked by priority; under each, the topics with the id of the rule that raised them
and the values that triggered it. The page says, above everything, that these are topics for
the clinician to discuss, raised by the clinic's own rules, not a diagnosis or a prescription.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.pdfgen.canvas import Canvas

from analysis.treatment import Priority, Topic, TreatmentSupport, Trigger
from integrations.report.canvas import MARGIN, PAGE, Page, draw_para, draw_text, footer, header

__all__ = ["TreatmentPage", "draw_treatment_page"]

_PRIORITY_COLOURS = {
    Priority.HIGH: (0.75, 0.1, 0.1),
    Priority.MEDIUM: (0.8, 0.45, 0.0),
    Priority.LOW: (0.3, 0.3, 0.3),
}
#: Triggers listed per topic at most (the JSON and the SR have them all).
_MAX_TRIGGERS = 4


@dataclass(frozen=True, slots=True)
class TreatmentPage:
    """The page's content: the support and the header's page (patient, study)."""

    support: TreatmentSupport
    page: Page


def _value(t: Trigger) -> str:
    if isinstance(t.value, float):
        v = f"{t.value:.0f}" if abs(t.value) >= 100 or t.value.is_integer() else f"{t.value:.2f}"
    else:
        v = t.value
    unit = "" if t.unit in ("", "{score}", "{count}", "{index}") else f" {t.unit}"
    return f"{t.key} = {v}{unit} ({t.region.replace('_', ' ')}, photo {t.image + 1})"


def _topic(c: Canvas, t: Topic, x: float, y: float, width: float) -> float:
    c.setFillColorRGB(*_PRIORITY_COLOURS[t.priority])
    draw_text(c, x, y, t.priority.label.upper(), 7.5, bold=True)
    c.setFillGray(0)
    y = draw_para(c, x + 46, y, t.topic, width - 46, 8.5, bold=True)
    y = draw_para(c, x + 46, y, f"rule {t.rule}", width - 46, 7)
    for trig in t.triggers[:_MAX_TRIGGERS]:
        y = draw_para(c, x + 56, y, f"- {trig.condition}: {_value(trig)}", width - 56, 7)
    if len(t.triggers) > _MAX_TRIGGERS:
        more = len(t.triggers) - _MAX_TRIGGERS
        y = draw_para(c, x + 56, y, f"- and {more} more (all in the SR and the JSON)", width, 7)
    return y - 4


def draw_treatment_page(c: Canvas, tp: TreatmentPage, algo: str, n: int, total: int) -> None:
    """Draw the page (the caller shows it)."""
    w, _ = PAGE
    s = tp.support
    y = header(c, tp.page, 1, 1, subtitle="Treatment-planning support: topics for the consultation")
    x, width = MARGIN, w - 2 * MARGIN
    draw_text(c, x, y - 6, "Topics for the consultation", 14, bold=True)
    c.setFillColorRGB(0.75, 0.1, 0.1)
    y = draw_para(c, x, y - 22, s.note, width, 9, bold=True)
    c.setFillGray(0)
    label = f"Rules: {s.rule_set}" if s.rule_set else "Rules: this clinic's rules file"
    y = draw_para(c, x, y, f"{label}; {s.rules_evaluated} rule(s) evaluated.", width, 7.5) - 6
    if not s.concerns:
        draw_para(c, x, y, "No rule raised a topic for this study.", width, 9)
    for concern in s.concerns:
        if y < MARGIN + 60:
            draw_para(c, x, y, "(more topics in the SR and the JSON result)", width, 7)
            break
        c.setFillColorRGB(0.12, 0.22, 0.35)
        draw_text(c, x, y, f"{concern.concern} ({concern.priority.label} priority)", 10, bold=True)
        c.setFillGray(0)
        y -= 13
        for t in concern.topics:
            y = _topic(c, t, x + 8, y, width - 8)
        y -= 4
    footer(c, algo, n, total)
