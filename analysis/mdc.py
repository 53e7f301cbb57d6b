"""Minimum detectable change (MDC95) of each measurement key, from the repeatability benchmark.

``MDC95 = 1.96 · √2 · SEM``, where SEM is the within-subject standard deviation of a key over
repeat captures of the same skin (Weir, *J Strength Cond Res* 19(1), 2005; de Vet et al.,
*Measurement in Medicine*, 2011). A change between two visits whose magnitude does not exceed
the MDC cannot be told apart from re-capture noise at 95 % confidence.

The numbers in :data:`TABLE` are **generated**: ``python benchmarks/repeatability.py --write``
re-measures them and rewrites the block between the ``BEGIN GENERATED`` / ``END GENERATED``
markers below (see ``docs/methods/progress.md``). Do not edit that block by hand.

Scopes: the SEM of a zone (a few cm²) is larger than that of the whole face and differs from
zone to zone, so the table holds one row per **facial region** (the nine zones, ``face``,
``t_zone``, ``u_zone``) and one pooled row per **region class**: ``aggregate`` (``face``,
``t_zone``, ``u_zone``), ``zone`` (the nine facial zones) and ``skin`` (a close-up or
dermoscopy photo). :func:`mdc_for` takes the region's own row, else its class's.

Absolute or relative: indices, angles and mean sizes (ITA°, melanin and erythema indices,
melasma score, texture, mean pore diameter) have a noise that does not grow with their value:
their MDC is **absolute**, in the key's units. Amounts of features — counts, total lengths,
densities and area percentages — have a noise that grows with the amount (each feature can be
missed or split), so their MDC is **relative** to the earlier value, with an absolute floor
for small amounts: ``threshold = max(absolute, relative · |earlier value|)``. For those keys
``relative`` is the MDC of the within-subject coefficient of variation (1.96·√2·CVw, pooled
as a root mean square over the cells at or above the class median); ``absolute`` is, in a
class row, 1.96·√2·SEM pooled over the cells at or below the class median (the small amounts
the floor is for) and, in a region row, the region's own 1.96·√2·SEM (at least the class
floor), so that an earlier value in the low tail of the noise cannot shrink the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis.types import ZONES, Region

__all__ = [
    "MDC_FACTOR",
    "RELATIVE_KEYS",
    "SETTINGS",
    "TABLE",
    "Mdc",
    "mdc_for",
    "region_class",
]

#: 1.96 · √2: the MDC95 of a difference of two independent captures, per unit of SEM.
MDC_FACTOR = 1.96 * math.sqrt(2.0)

#: Keys whose MDC is relative to the earlier value (amounts of features), see module docstring.
RELATIVE_KEYS: frozenset[str] = frozenset(
    {
        "pigmentation.spots.count",
        "pigmentation.spots.area_pct",
        "redness.area_pct",
        "redness.lesions.count",
        "pores.count",
        "pores.density_per_cm2",
        "pores.enlarged.count",
        "wrinkles.count",
        "wrinkles.length_mm",
        "wrinkles.area_pct",
        "wrinkles.fine_lines.count",
        "wrinkles.fine_lines.length_mm",
        "oil.shine_area_pct",
    }
)

_AGGREGATES = frozenset({str(Region.FACE), str(Region.T_ZONE), str(Region.U_ZONE)})
_ZONES = frozenset(str(z) for z in ZONES)


@dataclass(frozen=True, slots=True)
class Mdc:
    """The minimum detectable change of one key in one face region or region class.

    Attributes
    ----------
    absolute
        MDC95 in the key's units (for relative keys: the floor for small amounts).
    relative
        MDC95 as a fraction of the earlier value (None for absolute keys).
    sem
        The pooled within-subject SD (key's units) the MDC came from.
    cv_pct
        The pooled within-subject coefficient of variation in %, None when undefined.
    cells
        Number of (subject, region) cells pooled (1 for a region's own row).
    df
        Degrees of freedom of the SEM (sum of repeats - 1 over the cells); 0 when unknown.
    """

    absolute: float
    relative: float | None = None
    sem: float = 0.0
    cv_pct: float | None = None
    cells: int = 0
    df: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.absolute) and self.absolute >= 0):
            raise ValueError(f"absolute must be a finite number >= 0, got {self.absolute!r}")
        if self.relative is not None and not (math.isfinite(self.relative) and self.relative >= 0):
            raise ValueError(f"relative must be a finite number >= 0, got {self.relative!r}")

    def upper_factor(self) -> float:
        """SEM's one-sided 95 % upper confidence limit over the SEM: ``sqrt(df / chi2(0.05, df))``.

        The SEM of a benchmark with few repeats is itself uncertain (29 degrees of freedom:
        about ±13 %); :func:`analysis.progress.compare` uses this factor in its family-wise
        labels. The chi-square quantile is Wilson-Hilferty's approximation (error < 0.1 %
        for df >= 5). 1.0 when ``df`` is unknown.
        """
        if self.df < 2:
            return 1.0
        k = self.df
        z = -1.6448536269514722  # standard normal 5 % quantile
        q = k * (1.0 - 2.0 / (9.0 * k) + z * math.sqrt(2.0 / (9.0 * k))) ** 3
        return math.sqrt(k / q)

    def threshold(self, reference: float) -> float:
        """The MDC for a change from *reference* (the earlier value)."""
        if self.relative is None:
            return self.absolute
        return max(self.absolute, self.relative * abs(reference))


def region_class(region: str) -> str:
    """``aggregate``, ``zone`` or ``skin`` for a region name; ValueError for an unknown one."""
    if region in _AGGREGATES:
        return "aggregate"
    if region in _ZONES:
        return "zone"
    if region == str(Region.SKIN):
        return "skin"
    raise ValueError(f"region must be a zone, face, t_zone, u_zone or skin, got {region!r}")


def mdc_for(key: str, region: str) -> Mdc | None:
    """The MDC of *key* in *region* from :data:`TABLE` (the region's own row, else its
    class's), or None when it was not measured."""
    try:
        cls = region_class(region)
    except ValueError:
        return None
    own = TABLE.get((key, region)) if cls != "skin" else None
    return own if own is not None else TABLE.get((key, cls))


# BEGIN GENERATED by benchmarks/repeatability.py --write; do not edit by hand
#: How the table was measured.
SETTINGS: dict[str, str] = {
    "command": "python benchmarks/repeatability.py --write",
    "subjects": "astronaut x3.5 (frontal), 2 close-up phantom(s)",
    "repeats": "face 30, phantom 10",
    "photometric": "exposure +-5%, R/B gain +-3%, noise 0.5-2 DN, JPEG q85-95",
    "geometric": "rotation +-2 deg, scale +-3%, shift +-3 px",
    "device": "cpu",
    "algorithm_version": "0.1.0",
    "unusable_repeats": "0",
    "real_faces": "6 London faces x (photo, exposure +10%, WB, JPEG q80, rotation 3 deg)",
    "real_series": "lisa x4, zoom x4 (not colour keys), smiling (colour keys, aggregates)",
    "merge": "each row at least as wide as its real-face row",
}
#: ``{(key, region class or face region): Mdc}``.
TABLE: dict[tuple[str, str], Mdc] = {
    ("pigmentation.ita_deg", "aggregate"): Mdc(5.171, None, 1.865, 12.04, 12, 30),
    ("pigmentation.ita_deg", "skin"): Mdc(5.3, None, 1.912, 3.306, 2, 18),
    ("pigmentation.ita_deg", "zone"): Mdc(6.739, None, 2.431, 33.21, 66, 264),
    ("pigmentation.melanin_index", "aggregate"): Mdc(0.6783, None, 0.2447, 1.213, 12, 30),
    ("pigmentation.melanin_index", "skin"): Mdc(2.168, None, 0.7821, 5.348, 2, 18),
    ("pigmentation.melanin_index", "zone"): Mdc(0.8248, None, 0.2976, 1.689, 11, 319),
    ("pigmentation.spots.count", "aggregate"): Mdc(11.06, 0.6595, 3.989, 23.79, 1, 29),
    ("pigmentation.spots.count", "zone"): Mdc(1.979, 1.417, 1.048, 51.12, 11, 319),
    ("pigmentation.spots.area_pct", "aggregate"): Mdc(2.859, 0.8976, 1.031, 32.38, 1, 29),
    ("pigmentation.spots.area_pct", "skin"): Mdc(0.07414, 0.1043, 0.03826, 3.763, 2, 18),
    ("pigmentation.spots.area_pct", "zone"): Mdc(8.517, 1.95, 3.578, 70.33, 11, 319),
    ("pigmentation.melasma.score", "aggregate"): Mdc(1.54, None, 0.5554, 9.143, 8, 30),
    ("pigmentation.melasma.score", "skin"): Mdc(0.04126, None, 0.01489, 9.371, 2, 18),
    ("pigmentation.melasma.score", "zone"): Mdc(1.93, None, 0.6963, 28.95, 88, 330),
    ("redness.erythema_index", "aggregate"): Mdc(0.9525, None, 0.3436, 2.549, 12, 30),
    ("redness.erythema_index", "skin"): Mdc(1.926, None, 0.6947, 5.202, 2, 18),
    ("redness.erythema_index", "zone"): Mdc(0.6069, None, 0.219, 2.206, 66, 264),
    ("redness.area_pct", "aggregate"): Mdc(0.6392, 0.3951, 1.401, 14.25, 8, 30),
    ("redness.area_pct", "skin"): Mdc(0.2412, 0.1422, 0.09509, 5.132, 2, 18),
    ("redness.area_pct", "zone"): Mdc(1.06, 1.287, 4.233, 46.42, 88, 330),
    ("redness.lesions.count", "aggregate"): Mdc(8.085, 0.7417, 2.917, 26.76, 1, 29),
    ("redness.lesions.count", "zone"): Mdc(0.6393, 1.296, 0.4739, 46.77, 88, 330),
    ("pores.count", "skin"): Mdc(81.98, 0.1491, 25.64, 5.379, 2, 18),
    ("pores.density_per_cm2", "skin"): Mdc(1.281, 0.1491, 0.4006, 5.379, 2, 18),
    ("pores.mean_diameter_mm", "skin"): Mdc(0.01485, None, 0.005357, 1.335, 2, 18),
    ("pores.enlarged.count", "skin"): Mdc(81.69, 0.1444, 25.26, 5.209, 2, 18),
    ("wrinkles.count", "aggregate"): Mdc(7.294, 0.4392, 4.691, 15.85, 8, 30),
    ("wrinkles.count", "zone"): Mdc(1.137, 0.8813, 0.6024, 31.79, 11, 319),
    ("wrinkles.length_mm", "aggregate"): Mdc(45.86, 0.4732, 27.93, 17.07, 8, 30),
    ("wrinkles.length_mm", "skin"): Mdc(2.978, 0.0476, 0.9376, 1.717, 2, 18),
    ("wrinkles.length_mm", "zone"): Mdc(4.909, 0.9771, 3.042, 35.25, 11, 319),
    ("wrinkles.area_pct", "aggregate"): Mdc(0.2608, 0.439, 0.1501, 15.84, 8, 30),
    ("wrinkles.area_pct", "skin"): Mdc(0.03315, 0.0942, 0.01808, 3.399, 2, 18),
    ("wrinkles.area_pct", "zone"): Mdc(0.3159, 1.09, 0.2824, 39.32, 11, 319),
    ("wrinkles.fine_lines.count", "aggregate"): Mdc(0.6198, 1.674, 0.3791, 60.38, 8, 28),
    ("wrinkles.fine_lines.count", "skin"): Mdc(1.386, 0.4356, 0.5, 15.71, 2, 18),
    ("wrinkles.fine_lines.count", "zone"): Mdc(0.3909, 2.896, 0.141, 104.5, 88, 308),
    ("wrinkles.fine_lines.length_mm", "aggregate"): Mdc(2.207, 1.814, 2.222, 65.46, 8, 28),
    ("wrinkles.fine_lines.length_mm", "skin"): Mdc(4.582, 0.4431, 2.821, 15.98, 2, 18),
    ("wrinkles.fine_lines.length_mm", "zone"): Mdc(2.049, 2.903, 0.7393, 104.7, 88, 308),
    ("texture.roughness", "aggregate"): Mdc(1.176, None, 0.4243, 7.275, 8, 28),
    ("texture.roughness", "skin"): Mdc(0.08395, None, 0.03029, 0.7299, 2, 18),
    ("texture.roughness", "zone"): Mdc(2.049, None, 0.7393, 9.752, 88, 308),
    ("texture.uniformity", "aggregate"): Mdc(0.0341, None, 0.0123, 1.999, 8, 28),
    ("texture.uniformity", "skin"): Mdc(0.003624, None, 0.001307, 0.1739, 2, 18),
    ("texture.uniformity", "zone"): Mdc(0.06029, None, 0.02175, 3.148, 88, 308),
    ("oil.shine_area_pct", "aggregate"): Mdc(7.129, 1.374, 5.44, 49.58, 24, 90),
    ("oil.shine_area_pct", "skin"): Mdc(0.1242, 0.1058, 0.04878, 3.818, 2, 18),
    ("oil.shine_area_pct", "zone"): Mdc(9.554, 1.352, 6.367, 48.77, 88, 330),
    ("pigmentation.ita_deg", "cheek_left"): Mdc(6.45, None, 2.327, 14.97, 6, 24),
    ("pigmentation.ita_deg", "cheek_right"): Mdc(5.825, None, 2.101, 13.19, 6, 24),
    ("pigmentation.ita_deg", "chin"): Mdc(6.521, None, 2.353, 15.81, 6, 24),
    ("pigmentation.ita_deg", "face"): Mdc(5.171, None, 1.865, 12.04, 12, 30),
    ("pigmentation.ita_deg", "forehead"): Mdc(9.779, None, 3.528, 28.93, 6, 24),
    ("pigmentation.ita_deg", "glabella"): Mdc(4.346, None, 1.568, 7.034, 6, 24),
    ("pigmentation.ita_deg", "nasolabial_left"): Mdc(5.179, None, 1.868, 12.45, 6, 24),
    ("pigmentation.ita_deg", "nasolabial_right"): Mdc(4.955, None, 1.788, 49.9, 6, 24),
    ("pigmentation.ita_deg", "nose"): Mdc(7.431, None, 2.681, 87.97, 6, 24),
    ("pigmentation.ita_deg", "perioral"): Mdc(6.33, None, 2.284, 8.453, 6, 24),
    ("pigmentation.ita_deg", "periorbital_left"): Mdc(8.124, None, 2.931, 9.407, 6, 24),
    ("pigmentation.ita_deg", "periorbital_right"): Mdc(7.368, None, 2.658, 7.469, 6, 24),
    ("pigmentation.melanin_index", "cheek_left"): Mdc(0.6196, None, 0.2235, 1.029, 1, 29),
    ("pigmentation.melanin_index", "cheek_right"): Mdc(0.5294, None, 0.191, 1.246, 1, 29),
    ("pigmentation.melanin_index", "chin"): Mdc(0.7247, None, 0.2615, 1.64, 1, 29),
    ("pigmentation.melanin_index", "face"): Mdc(0.6783, None, 0.2447, 1.213, 12, 30),
    ("pigmentation.melanin_index", "forehead"): Mdc(1.692, None, 0.6104, 3.27, 1, 29),
    ("pigmentation.melanin_index", "glabella"): Mdc(0.5593, None, 0.2018, 2.034, 1, 29),
    ("pigmentation.melanin_index", "nasolabial_left"): Mdc(0.6456, None, 0.2329, 1.094, 1, 29),
    ("pigmentation.melanin_index", "nasolabial_right"): Mdc(0.5772, None, 0.2082, 1.249, 1, 29),
    ("pigmentation.melanin_index", "nose"): Mdc(0.5602, None, 0.2021, 1.141, 1, 29),
    ("pigmentation.melanin_index", "perioral"): Mdc(0.6027, None, 0.2174, 1.23, 1, 29),
    ("pigmentation.melanin_index", "periorbital_left"): Mdc(1.144, None, 0.4126, 2.016, 1, 29),
    ("pigmentation.melanin_index", "periorbital_right"): Mdc(0.62, None, 0.2237, 1.271, 1, 29),
    ("pigmentation.spots.count", "cheek_left"): Mdc(3.39, 3.222, 1.223, 116.2, 1, 29),
    ("pigmentation.spots.count", "cheek_right"): Mdc(4.8, 3.042, 1.732, 109.7, 1, 29),
    ("pigmentation.spots.count", "chin"): Mdc(4.627, 1.683, 1.669, 60.71, 1, 29),
    ("pigmentation.spots.count", "face"): Mdc(11.06, 0.7545, 3.989, 27.22, 1, 29),
    ("pigmentation.spots.count", "forehead"): Mdc(2.731, 10.55, 0.9853, 380.6, 8, 30),
    ("pigmentation.spots.count", "glabella"): Mdc(2.572, 1.882, 0.9279, 67.89, 1, 29),
    ("pigmentation.spots.count", "nasolabial_left"): Mdc(2.618, 4.476, 0.9444, 161.5, 1, 29),
    ("pigmentation.spots.count", "nasolabial_right"): Mdc(1.979, 3.623, 0.6288, 130.7, 1, 29),
    ("pigmentation.spots.count", "nose"): Mdc(2.864, 2.83, 1.033, 102.1, 1, 29),
    ("pigmentation.spots.count", "perioral"): Mdc(2.364, 2.054, 0.8527, 74.1, 8, 30),
    ("pigmentation.spots.count", "periorbital_left"): Mdc(1.979, 2.659, 0.5467, 95.94, 1, 29),
    ("pigmentation.spots.count", "periorbital_right"): Mdc(2.05, 4.327, 0.7397, 156.1, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_left"): Mdc(8.517, 3.113, 1.162, 112.3, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_right"): Mdc(8.517, 3.154, 2.255, 113.8, 1, 29),
    ("pigmentation.spots.area_pct", "chin"): Mdc(9.472, 2.319, 3.417, 83.67, 8, 30),
    ("pigmentation.spots.area_pct", "face"): Mdc(2.859, 0.9106, 1.031, 32.85, 1, 29),
    ("pigmentation.spots.area_pct", "forehead"): Mdc(8.517, 10, 1.023, 360.9, 1, 29),
    ("pigmentation.spots.area_pct", "glabella"): Mdc(14.07, 3.101, 5.076, 111.9, 1, 29),
    ("pigmentation.spots.area_pct", "nasolabial_left"): Mdc(17.92, 3.905, 6.466, 140.9, 1, 29),
    ("pigmentation.spots.area_pct", "nasolabial_right"): Mdc(14.83, 3.341, 5.349, 120.5, 8, 30),
    ("pigmentation.spots.area_pct", "nose"): Mdc(8.517, 2.674, 2.335, 96.46, 1, 29),
    ("pigmentation.spots.area_pct", "perioral"): Mdc(13.95, 2.062, 5.032, 74.39, 8, 30),
    ("pigmentation.spots.area_pct", "periorbital_left"): Mdc(10.23, 2.778, 3.691, 100.2, 1, 29),
    ("pigmentation.spots.area_pct", "periorbital_right"): Mdc(8.517, 4.244, 2.254, 153.1, 1, 29),
    ("pigmentation.melasma.score", "cheek_left"): Mdc(3.525, None, 1.272, 14.23, 8, 30),
    ("pigmentation.melasma.score", "cheek_right"): Mdc(0.6866, None, 0.2477, 9.651, 8, 30),
    ("pigmentation.melasma.score", "chin"): Mdc(1.226, None, 0.4424, 12.51, 8, 30),
    ("pigmentation.melasma.score", "face"): Mdc(1.54, None, 0.5554, 9.143, 8, 30),
    ("pigmentation.melasma.score", "forehead"): Mdc(1.714, None, 0.6182, 44.03, 8, 30),
    ("pigmentation.melasma.score", "glabella"): Mdc(0.4106, None, 0.1481, 67.06, 8, 30),
    ("pigmentation.melasma.score", "nasolabial_left"): Mdc(1.524, None, 0.5497, 35.31, 8, 30),
    ("pigmentation.melasma.score", "nasolabial_right"): Mdc(0.9252, None, 0.3338, 29.75, 8, 30),
    ("pigmentation.melasma.score", "nose"): Mdc(1.961, None, 0.7076, 12.11, 8, 30),
    ("pigmentation.melasma.score", "perioral"): Mdc(1.293, None, 0.4665, 14.11, 8, 30),
    ("pigmentation.melasma.score", "periorbital_left"): Mdc(3.729, None, 1.345, 16.32, 8, 30),
    ("pigmentation.melasma.score", "periorbital_right"): Mdc(0.9307, None, 0.3358, 6.727, 8, 30),
    ("redness.erythema_index", "cheek_left"): Mdc(0.5684, None, 0.2051, 2.089, 6, 24),
    ("redness.erythema_index", "cheek_right"): Mdc(0.5988, None, 0.216, 2.174, 6, 24),
    ("redness.erythema_index", "chin"): Mdc(0.6235, None, 0.2249, 2.136, 6, 24),
    ("redness.erythema_index", "face"): Mdc(0.9525, None, 0.3436, 2.549, 12, 30),
    ("redness.erythema_index", "forehead"): Mdc(0.6011, None, 0.2168, 2.223, 6, 24),
    ("redness.erythema_index", "glabella"): Mdc(0.6229, None, 0.2247, 2.921, 6, 24),
    ("redness.erythema_index", "nasolabial_left"): Mdc(0.6079, None, 0.2193, 2.427, 6, 24),
    ("redness.erythema_index", "nasolabial_right"): Mdc(0.6155, None, 0.2221, 2.18, 6, 24),
    ("redness.erythema_index", "nose"): Mdc(0.6049, None, 0.2182, 1.654, 6, 24),
    ("redness.erythema_index", "perioral"): Mdc(0.6473, None, 0.2335, 1.714, 6, 24),
    ("redness.erythema_index", "periorbital_left"): Mdc(0.5882, None, 0.2122, 2.268, 6, 24),
    ("redness.erythema_index", "periorbital_right"): Mdc(0.5941, None, 0.2143, 2.223, 6, 24),
    ("redness.area_pct", "cheek_left"): Mdc(11.44, 2.424, 4.128, 87.46, 8, 30),
    ("redness.area_pct", "cheek_right"): Mdc(11.45, 1.169, 4.131, 42.16, 8, 30),
    ("redness.area_pct", "chin"): Mdc(11.14, 1.649, 4.019, 59.48, 8, 30),
    ("redness.area_pct", "face"): Mdc(3.885, 0.3605, 1.401, 13.01, 8, 30),
    ("redness.area_pct", "forehead"): Mdc(4.615, 1.183, 1.665, 42.68, 8, 30),
    ("redness.area_pct", "glabella"): Mdc(2.01, 3.591, 0.725, 129.6, 8, 30),
    ("redness.area_pct", "nasolabial_left"): Mdc(8.756, 2.636, 3.159, 95.09, 8, 30),
    ("redness.area_pct", "nasolabial_right"): Mdc(18.03, 1.024, 6.506, 36.95, 8, 30),
    ("redness.area_pct", "nose"): Mdc(8.785, 0.6474, 3.169, 23.36, 8, 30),
    ("redness.area_pct", "perioral"): Mdc(13.11, 0.5703, 4.729, 20.57, 8, 30),
    ("redness.area_pct", "periorbital_left"): Mdc(20.35, 1.674, 7.343, 60.41, 8, 30),
    ("redness.area_pct", "periorbital_right"): Mdc(6.179, 1.731, 2.229, 62.44, 8, 30),
    ("redness.lesions.count", "cheek_left"): Mdc(2.658, 2.891, 0.9589, 104.3, 1, 29),
    ("redness.lesions.count", "cheek_right"): Mdc(2.37, 2.615, 0.855, 94.35, 1, 29),
    ("redness.lesions.count", "chin"): Mdc(3.858, 2.28, 1.392, 82.26, 1, 29),
    ("redness.lesions.count", "face"): Mdc(8.085, 0.9544, 2.917, 34.43, 1, 29),
    ("redness.lesions.count", "forehead"): Mdc(1.486, 4.229, 0.5362, 152.6, 8, 30),
    ("redness.lesions.count", "glabella"): Mdc(0.6393, 3.796, 0.1936, 136.9, 8, 30),
    ("redness.lesions.count", "nasolabial_left"): Mdc(1.674, 15.18, 0.6038, 547.7, 8, 30),
    ("redness.lesions.count", "nasolabial_right"): Mdc(0.7032, 10.55, 0.2537, 380.6, 1, 29),
    ("redness.lesions.count", "nose"): Mdc(3.915, 3.617, 1.413, 130.5, 1, 29),
    ("redness.lesions.count", "perioral"): Mdc(1.735, 3.062, 0.6261, 110.5, 1, 29),
    ("redness.lesions.count", "periorbital_left"): Mdc(1.284, 3.41, 0.4632, 123, 8, 30),
    ("redness.lesions.count", "periorbital_right"): Mdc(1.303, 15.18, 0.4699, 547.7, 8, 30),
    ("wrinkles.count", "cheek_left"): Mdc(3.787, 1.974, 1.366, 71.23, 8, 30),
    ("wrinkles.count", "cheek_right"): Mdc(3.418, 2.475, 1.233, 89.28, 8, 30),
    ("wrinkles.count", "chin"): Mdc(4.363, 3.348, 1.574, 120.8, 8, 30),
    ("wrinkles.count", "face"): Mdc(13, 0.5039, 4.691, 18.18, 8, 30),
    ("wrinkles.count", "forehead"): Mdc(3.91, 2.58, 1.411, 93.08, 8, 30),
    ("wrinkles.count", "glabella"): Mdc(0.98, 4.413, 0.3536, 159.2, 8, 30),
    ("wrinkles.count", "nasolabial_left"): Mdc(1.688, 1.263, 0.609, 45.56, 8, 30),
    ("wrinkles.count", "nasolabial_right"): Mdc(2.094, 1.258, 0.7555, 45.38, 8, 30),
    ("wrinkles.count", "nose"): Mdc(1.735, 4.801, 0.6261, 173.2, 1, 29),
    ("wrinkles.count", "perioral"): Mdc(1.889, 1.667, 0.6814, 60.13, 1, 29),
    ("wrinkles.count", "periorbital_left"): Mdc(2.117, 1.623, 0.7638, 58.56, 8, 30),
    ("wrinkles.count", "periorbital_right"): Mdc(1.889, 0.8544, 0.6814, 30.82, 1, 29),
    ("wrinkles.length_mm", "cheek_left"): Mdc(20.76, 1.927, 7.491, 69.51, 8, 30),
    ("wrinkles.length_mm", "cheek_right"): Mdc(14.04, 2.24, 5.064, 80.81, 8, 30),
    ("wrinkles.length_mm", "chin"): Mdc(26.25, 2.522, 9.469, 90.98, 8, 30),
    ("wrinkles.length_mm", "face"): Mdc(77.41, 0.4779, 27.93, 17.24, 8, 30),
    ("wrinkles.length_mm", "forehead"): Mdc(18.09, 2.581, 6.527, 93.11, 8, 30),
    ("wrinkles.length_mm", "glabella"): Mdc(4.4, 1.497, 0.841, 53.99, 8, 30),
    ("wrinkles.length_mm", "nasolabial_left"): Mdc(9.816, 1.154, 3.541, 41.63, 1, 29),
    ("wrinkles.length_mm", "nasolabial_right"): Mdc(8.792, 1.174, 3.172, 42.37, 8, 30),
    ("wrinkles.length_mm", "nose"): Mdc(6.926, 4.759, 2.499, 171.7, 1, 29),
    ("wrinkles.length_mm", "perioral"): Mdc(6.573, 1.172, 2.371, 42.29, 1, 29),
    ("wrinkles.length_mm", "periorbital_left"): Mdc(16.78, 1.688, 6.055, 60.88, 8, 30),
    ("wrinkles.length_mm", "periorbital_right"): Mdc(11.42, 0.8848, 4.119, 31.92, 8, 30),
    ("wrinkles.area_pct", "cheek_left"): Mdc(0.8428, 1.933, 0.304, 69.75, 8, 30),
    ("wrinkles.area_pct", "cheek_right"): Mdc(0.4516, 2.233, 0.1629, 80.55, 1, 29),
    ("wrinkles.area_pct", "chin"): Mdc(1.497, 2.374, 0.5402, 85.64, 8, 30),
    ("wrinkles.area_pct", "face"): Mdc(0.4159, 0.4709, 0.1501, 16.99, 8, 30),
    ("wrinkles.area_pct", "forehead"): Mdc(0.5812, 2.575, 0.2097, 92.92, 8, 30),
    ("wrinkles.area_pct", "glabella"): Mdc(0.3257, 1.179, 0.1175, 42.52, 8, 30),
    ("wrinkles.area_pct", "nasolabial_left"): Mdc(2.222, 1.109, 0.8017, 40.01, 1, 29),
    ("wrinkles.area_pct", "nasolabial_right"): Mdc(1.26, 1.326, 0.4546, 47.85, 8, 30),
    ("wrinkles.area_pct", "nose"): Mdc(0.4167, 4.124, 0.1503, 148.8, 1, 29),
    ("wrinkles.area_pct", "perioral"): Mdc(0.5892, 1.103, 0.2126, 39.8, 1, 29),
    ("wrinkles.area_pct", "periorbital_left"): Mdc(1.57, 1.795, 0.5665, 64.75, 8, 30),
    ("wrinkles.area_pct", "periorbital_right"): Mdc(0.93, 0.8382, 0.3355, 30.24, 8, 30),
    ("wrinkles.fine_lines.count", "cheek_right"): Mdc(0.4383, 6.198, 0.1581, 223.6, 8, 28),
    ("wrinkles.fine_lines.count", "chin"): Mdc(0.6198, 4.518, 0.2236, 163, 8, 28),
    ("wrinkles.fine_lines.count", "face"): Mdc(1.051, 3.938, 0.3791, 142.1, 8, 28),
    ("wrinkles.fine_lines.count", "forehead"): Mdc(0.5368, 1.789, 0.1936, 64.55, 8, 28),
    ("wrinkles.fine_lines.count", "nasolabial_left"): Mdc(0.4383, 6.198, 0.1581, 223.6, 8, 28),
    ("wrinkles.fine_lines.count", "nasolabial_right"): Mdc(0.4383, 6.198, 0.1581, 223.6, 8, 28),
    ("wrinkles.fine_lines.count", "perioral"): Mdc(0.4383, 1.55, 0.1581, 55.9, 8, 28),
    ("wrinkles.fine_lines.count", "periorbital_left"): Mdc(0.49, 5.544, 0.1768, 200, 8, 28),
    ("wrinkles.fine_lines.length_mm", "cheek_right"): Mdc(2.049, 6.198, 0.5629, 223.6, 8, 28),
    ("wrinkles.fine_lines.length_mm", "chin"): Mdc(2.327, 4.527, 0.8396, 163.3, 8, 28),
    ("wrinkles.fine_lines.length_mm", "face"): Mdc(6.16, 3.976, 2.222, 143.4, 8, 28),
    ("wrinkles.fine_lines.length_mm", "forehead"): Mdc(2.049, 1.791, 0.6179, 64.6, 8, 28),
    ("wrinkles.fine_lines.length_mm", "nasolabial_left"): Mdc(2.358, 6.198, 0.8508, 223.6, 8, 28),
    ("wrinkles.fine_lines.length_mm", "nasolabial_right"): Mdc(2.049, 6.198, 0.5655, 223.6, 8, 28),
    ("wrinkles.fine_lines.length_mm", "perioral"): Mdc(2.049, 4.519, 0.5142, 163, 8, 28),
    ("wrinkles.fine_lines.length_mm", "periorbital_left"): Mdc(5.035, 5.544, 1.817, 200, 8, 28),
    ("texture.roughness", "cheek_left"): Mdc(4.226, None, 1.525, 18.31, 8, 28),
    ("texture.roughness", "cheek_right"): Mdc(0.9374, None, 0.3382, 6.138, 8, 28),
    ("texture.roughness", "chin"): Mdc(1.387, None, 0.5003, 12.06, 1, 29),
    ("texture.roughness", "face"): Mdc(1.176, None, 0.4243, 7.275, 8, 28),
    ("texture.roughness", "forehead"): Mdc(1.17, None, 0.4222, 7.715, 8, 28),
    ("texture.roughness", "glabella"): Mdc(0.9416, None, 0.3397, 7.733, 8, 28),
    ("texture.roughness", "nasolabial_left"): Mdc(1.209, None, 0.4363, 8.984, 8, 28),
    ("texture.roughness", "nasolabial_right"): Mdc(1.367, None, 0.4933, 8.864, 8, 28),
    ("texture.roughness", "nose"): Mdc(2.272, None, 0.8196, 8.811, 8, 28),
    ("texture.roughness", "perioral"): Mdc(1.315, None, 0.4746, 7.778, 8, 28),
    ("texture.roughness", "periorbital_left"): Mdc(2.882, None, 1.04, 11.28, 8, 28),
    ("texture.roughness", "periorbital_right"): Mdc(2.397, None, 0.8648, 9.503, 8, 28),
    ("texture.uniformity", "cheek_left"): Mdc(0.1342, None, 0.04841, 6.908, 1, 29),
    ("texture.uniformity", "cheek_right"): Mdc(0.07938, None, 0.02864, 4.023, 8, 28),
    ("texture.uniformity", "chin"): Mdc(0.1239, None, 0.0447, 6.863, 1, 29),
    ("texture.uniformity", "face"): Mdc(0.0341, None, 0.0123, 1.999, 8, 28),
    ("texture.uniformity", "forehead"): Mdc(0.07406, None, 0.02672, 3.838, 8, 28),
    ("texture.uniformity", "glabella"): Mdc(0.0426, None, 0.01537, 2.038, 8, 28),
    ("texture.uniformity", "nasolabial_left"): Mdc(0.05519, None, 0.01991, 2.715, 8, 28),
    ("texture.uniformity", "nasolabial_right"): Mdc(0.04477, None, 0.01615, 2.253, 8, 28),
    ("texture.uniformity", "nose"): Mdc(0.05368, None, 0.01937, 3.077, 8, 28),
    ("texture.uniformity", "perioral"): Mdc(0.05093, None, 0.01837, 2.631, 8, 28),
    ("texture.uniformity", "periorbital_left"): Mdc(0.04808, None, 0.01734, 2.771, 8, 28),
    ("texture.uniformity", "periorbital_right"): Mdc(0.05802, None, 0.02093, 2.957, 8, 28),
    ("oil.shine_area_pct", "cheek_left"): Mdc(15.82, 1.479, 5.709, 53.36, 8, 30),
    ("oil.shine_area_pct", "cheek_right"): Mdc(9.554, 1.336, 3.042, 48.2, 8, 30),
    ("oil.shine_area_pct", "chin"): Mdc(11.03, 1.039, 3.979, 37.47, 8, 30),
    ("oil.shine_area_pct", "face"): Mdc(15.07, 1.128, 5.435, 40.7, 8, 30),
    ("oil.shine_area_pct", "forehead"): Mdc(24.43, 1.467, 8.815, 52.93, 8, 30),
    ("oil.shine_area_pct", "glabella"): Mdc(25.16, 1.239, 9.079, 44.68, 8, 30),
    ("oil.shine_area_pct", "nasolabial_left"): Mdc(21.43, 1.488, 7.73, 53.67, 8, 30),
    ("oil.shine_area_pct", "nasolabial_right"): Mdc(17.83, 1.377, 6.433, 49.67, 8, 30),
    ("oil.shine_area_pct", "nose"): Mdc(17.07, 0.8975, 6.16, 32.38, 8, 30),
    ("oil.shine_area_pct", "perioral"): Mdc(13.76, 1.111, 4.964, 40.08, 8, 30),
    ("oil.shine_area_pct", "periorbital_left"): Mdc(18.21, 1.325, 6.569, 47.81, 8, 30),
    ("oil.shine_area_pct", "periorbital_right"): Mdc(12.76, 0.9092, 4.605, 32.8, 8, 30),
    ("oil.shine_area_pct", "t_zone"): Mdc(17.68, 1.108, 6.38, 39.98, 8, 30),
    ("oil.shine_area_pct", "u_zone"): Mdc(11.93, 1.344, 4.306, 48.49, 8, 30),
}
# END GENERATED
