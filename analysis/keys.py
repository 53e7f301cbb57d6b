"""The measurement keys DermNode reports (DESIGN.md §3).

Keys are stable identifiers used in the JSON output, the SR (private scheme ``99DRMN``) and the
HL7 OBX rows. Each key has a concern family, a meaning and a unit. Length and area keys are in
millimetres when the pixel spacing is known or estimated, else in pixels: ``unit_px`` is the
unit then (the key itself does not change).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONCERNS",
    "KEYS",
    "NOT_ASSESSED",
    "MeasurementKey",
    "key_info",
]

#: Concern families that get a 0-100 score.
CONCERNS: tuple[str, ...] = ("pigmentation", "redness", "pores", "wrinkles", "texture", "oil")


@dataclass(frozen=True, slots=True)
class MeasurementKey:
    """One reported quantity: its key, family, meaning and UCUM units."""

    key: str
    concern: str
    meaning: str
    unit: str
    unit_px: str | None = None  # unit when the pixel spacing is unknown
    higher_is_worse: bool = True


_K = MeasurementKey
KEYS: tuple[MeasurementKey, ...] = (
    _K("pigmentation.ita_deg", "pigmentation", "Individual typology angle", "deg", None, False),
    _K("pigmentation.melanin_index", "pigmentation", "Melanin index", "{index}"),
    _K("pigmentation.spots.count", "pigmentation", "Brown spot count", "{count}"),
    _K("pigmentation.spots.area_pct", "pigmentation", "Brown spot area", "%"),
    _K("pigmentation.melasma.score", "pigmentation", "Melasma pattern score", "{score}"),
    _K("redness.erythema_index", "redness", "Erythema index", "{index}"),
    _K("redness.area_pct", "redness", "Red area", "%"),
    _K("redness.lesions.count", "redness", "Inflamed lesion count", "{count}"),
    _K("pores.count", "pores", "Pore count", "{count}"),
    _K("pores.density_per_cm2", "pores", "Pore density", "/cm2", "/{kpx}"),
    _K("pores.mean_diameter_mm", "pores", "Mean pore diameter", "mm", "{px}"),
    _K("pores.enlarged.count", "pores", "Enlarged pore count", "{count}"),
    _K("wrinkles.count", "wrinkles", "Wrinkle count", "{count}"),
    _K("wrinkles.length_mm", "wrinkles", "Total wrinkle length", "mm", "{px}"),
    _K("wrinkles.area_pct", "wrinkles", "Wrinkle area", "%"),
    _K("wrinkles.fine_lines.count", "wrinkles", "Fine line count", "{count}"),
    _K("wrinkles.fine_lines.length_mm", "wrinkles", "Total fine line length", "mm", "{px}"),
    _K("texture.roughness", "texture", "Texture roughness", "{index}"),
    _K("texture.uniformity", "texture", "Texture uniformity", "{index}", None, False),
    _K("oil.shine_area_pct", "oil", "Shine area", "%"),
    _K("quality.sharpness", "quality", "Sharpness", "{index}", None, False),
    _K("quality.exposure_clipped_pct", "quality", "Clipped exposure", "%"),
)

#: Concerns DermNode never gives a number for, with the reason shown to the clinician.
NOT_ASSESSED: dict[str, str] = {
    "hydration": (
        "Skin hydration has no valid measure from a visible-light photograph; it needs a "
        "contact sensor (corneometer). A sensor value may be attached later."
    ),
    "uv_damage": (
        "UV damage (sub-surface UV spots) needs UV or cross-polarised capture; it cannot be "
        "measured from an ordinary photograph."
    ),
}

_BY_KEY = {k.key: k for k in KEYS}


def key_info(key: str) -> MeasurementKey:
    """Return the description of *key*; raise ``KeyError`` for an unknown key."""
    return _BY_KEY[key]
