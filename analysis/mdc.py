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
}
#: ``{(key, region class or face region): Mdc}``.
TABLE: dict[tuple[str, str], Mdc] = {
    ("pigmentation.ita_deg", "aggregate"): Mdc(2.344, None, 0.8457, 1.463, 1, 29),
    ("pigmentation.ita_deg", "skin"): Mdc(5.3, None, 1.912, 3.306, 2, 18),
    ("pigmentation.ita_deg", "zone"): Mdc(3.473, None, 1.253, 2.671, 9, 261),
    ("pigmentation.melanin_index", "aggregate"): Mdc(0.4393, None, 0.1585, 0.888, 1, 29),
    ("pigmentation.melanin_index", "skin"): Mdc(2.168, None, 0.7821, 5.348, 2, 18),
    ("pigmentation.melanin_index", "zone"): Mdc(0.6217, None, 0.2243, 1.175, 9, 261),
    ("pigmentation.spots.count", "aggregate"): Mdc(19.28, 0.6336, 6.956, 22.86, 1, 29),
    ("pigmentation.spots.count", "zone"): Mdc(3.141, 1.215, 1.618, 43.83, 9, 261),
    ("pigmentation.spots.area_pct", "aggregate"): Mdc(1.396, 0.6357, 0.5035, 22.93, 1, 29),
    ("pigmentation.spots.area_pct", "skin"): Mdc(0.06561, 0.1129, 0.04224, 4.071, 2, 18),
    ("pigmentation.spots.area_pct", "zone"): Mdc(2.491, 1.79, 1.208, 64.56, 9, 261),
    ("pigmentation.melasma.score", "aggregate"): Mdc(0.5216, None, 0.1882, 3.111, 1, 29),
    ("pigmentation.melasma.score", "skin"): Mdc(0.04126, None, 0.01489, 9.371, 2, 18),
    ("pigmentation.melasma.score", "zone"): Mdc(0.5321, None, 0.192, 7.293, 9, 261),
    ("redness.erythema_index", "aggregate"): Mdc(0.1908, None, 0.06882, 1.868, 1, 29),
    ("redness.erythema_index", "skin"): Mdc(1.926, None, 0.6947, 5.202, 2, 18),
    ("redness.erythema_index", "zone"): Mdc(0.2488, None, 0.08977, 2.831, 9, 261),
    ("redness.area_pct", "aggregate"): Mdc(0.381, 0.1003, 0.1375, 3.62, 1, 29),
    ("redness.area_pct", "skin"): Mdc(0.2412, 0.1422, 0.09509, 5.132, 2, 18),
    ("redness.area_pct", "zone"): Mdc(0.2848, 0.246, 0.3431, 8.875, 9, 261),
    ("redness.lesions.count", "aggregate"): Mdc(5.373, 1.001, 1.938, 36.12, 1, 29),
    ("redness.lesions.count", "zone"): Mdc(0.8551, 2.627, 0.5339, 94.77, 9, 261),
    ("pores.count", "skin"): Mdc(81.98, 0.1491, 25.64, 5.379, 2, 18),
    ("pores.density_per_cm2", "skin"): Mdc(1.281, 0.1491, 0.4006, 5.379, 2, 18),
    ("pores.mean_diameter_mm", "skin"): Mdc(0.01485, None, 0.005357, 1.335, 2, 18),
    ("pores.enlarged.count", "skin"): Mdc(81.69, 0.1444, 25.26, 5.209, 2, 18),
    ("wrinkles.count", "aggregate"): Mdc(5.249, 0.2625, 1.894, 9.469, 1, 29),
    ("wrinkles.count", "skin"): Mdc(0.8765, 0.5384, 0.5426, 19.42, 2, 18),
    ("wrinkles.count", "zone"): Mdc(1.073, 0.7885, 0.6608, 28.45, 9, 261),
    ("wrinkles.length_mm", "aggregate"): Mdc(38.22, 0.2009, 13.79, 7.249, 1, 29),
    ("wrinkles.length_mm", "skin"): Mdc(5.02, 0.2969, 3.839, 10.71, 2, 18),
    ("wrinkles.length_mm", "zone"): Mdc(4.436, 0.4701, 3.778, 16.96, 9, 261),
    ("wrinkles.area_pct", "aggregate"): Mdc(0.3278, 0.2091, 0.1183, 7.545, 1, 29),
    ("wrinkles.area_pct", "skin"): Mdc(0.0467, 0.1505, 0.02948, 5.428, 2, 18),
    ("wrinkles.area_pct", "zone"): Mdc(0.3653, 0.3885, 0.1989, 14.02, 9, 261),
    ("wrinkles.fine_lines.count", "skin"): Mdc(2.63, 0.2125, 0.7528, 7.667, 2, 18),
    ("wrinkles.fine_lines.length_mm", "skin"): Mdc(9.69, 0.2279, 3.093, 8.222, 2, 18),
    ("texture.roughness", "aggregate"): Mdc(0.1723, None, 0.06216, 1.146, 1, 29),
    ("texture.roughness", "skin"): Mdc(0.08395, None, 0.03029, 0.7299, 2, 18),
    ("texture.roughness", "zone"): Mdc(0.3657, None, 0.1319, 2.259, 9, 261),
    ("texture.uniformity", "aggregate"): Mdc(0.008696, None, 0.003137, 0.4965, 1, 29),
    ("texture.uniformity", "skin"): Mdc(0.003624, None, 0.001307, 0.1739, 2, 18),
    ("texture.uniformity", "zone"): Mdc(0.02587, None, 0.009331, 1.308, 9, 261),
    ("oil.shine_area_pct", "aggregate"): Mdc(1.108, 0.04579, 0.4002, 1.652, 3, 87),
    ("oil.shine_area_pct", "skin"): Mdc(0.1242, 0.1058, 0.04878, 3.818, 2, 18),
    ("oil.shine_area_pct", "zone"): Mdc(1.974, 0.09731, 0.8323, 3.511, 9, 261),
    ("pigmentation.ita_deg", "cheek_left"): Mdc(6.944, None, 2.505, 5.971, 1, 29),
    ("pigmentation.ita_deg", "cheek_right"): Mdc(2.09, None, 0.7542, 1.272, 1, 29),
    ("pigmentation.ita_deg", "chin"): Mdc(2.706, None, 0.9763, 1.657, 1, 29),
    ("pigmentation.ita_deg", "face"): Mdc(2.344, None, 0.8457, 1.463, 1, 29),
    ("pigmentation.ita_deg", "forehead"): Mdc(4.875, None, 1.759, 3.694, 1, 29),
    ("pigmentation.ita_deg", "glabella"): Mdc(1.238, None, 0.4465, 0.6057, 1, 29),
    ("pigmentation.ita_deg", "nose"): Mdc(2.259, None, 0.8151, 1.381, 1, 29),
    ("pigmentation.ita_deg", "perioral"): Mdc(1.857, None, 0.6698, 1.076, 1, 29),
    ("pigmentation.ita_deg", "periorbital_left"): Mdc(3.27, None, 1.18, 2.386, 1, 29),
    ("pigmentation.ita_deg", "periorbital_right"): Mdc(2.029, None, 0.7321, 1.19, 1, 29),
    ("pigmentation.melanin_index", "cheek_left"): Mdc(0.8443, None, 0.3046, 1.392, 1, 29),
    ("pigmentation.melanin_index", "cheek_right"): Mdc(0.4256, None, 0.1535, 0.9537, 1, 29),
    ("pigmentation.melanin_index", "chin"): Mdc(0.4995, None, 0.1802, 1.034, 1, 29),
    ("pigmentation.melanin_index", "face"): Mdc(0.4393, None, 0.1585, 0.888, 1, 29),
    ("pigmentation.melanin_index", "forehead"): Mdc(1.219, None, 0.4399, 1.983, 1, 29),
    ("pigmentation.melanin_index", "glabella"): Mdc(0.3644, None, 0.1315, 1.202, 1, 29),
    ("pigmentation.melanin_index", "nose"): Mdc(0.4129, None, 0.149, 0.8427, 1, 29),
    ("pigmentation.melanin_index", "perioral"): Mdc(0.4068, None, 0.1467, 0.9105, 1, 29),
    ("pigmentation.melanin_index", "periorbital_left"): Mdc(0.4684, None, 0.169, 0.8765, 1, 29),
    ("pigmentation.melanin_index", "periorbital_right"): Mdc(0.4011, None, 0.1447, 0.9094, 1, 29),
    ("pigmentation.spots.count", "cheek_left"): Mdc(6.816, 0.8776, 2.459, 31.66, 1, 29),
    ("pigmentation.spots.count", "cheek_right"): Mdc(5.667, 1.288, 2.044, 46.46, 1, 29),
    ("pigmentation.spots.count", "chin"): Mdc(5.56, 1.516, 2.006, 54.7, 1, 29),
    ("pigmentation.spots.count", "face"): Mdc(19.28, 0.6336, 6.956, 22.86, 1, 29),
    ("pigmentation.spots.count", "forehead"): Mdc(3.141, 15.18, 0.1826, 547.7, 1, 29),
    ("pigmentation.spots.count", "glabella"): Mdc(3.141, 15.18, 0.1826, 547.7, 1, 29),
    ("pigmentation.spots.count", "nose"): Mdc(4.714, 0.9959, 1.701, 35.93, 1, 29),
    ("pigmentation.spots.count", "perioral"): Mdc(4.638, 1.288, 1.673, 46.48, 1, 29),
    ("pigmentation.spots.count", "periorbital_left"): Mdc(3.141, 1.493, 0.9154, 53.85, 1, 29),
    ("pigmentation.spots.count", "periorbital_right"): Mdc(4.566, 1.575, 1.647, 56.81, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_left"): Mdc(5.275, 1.832, 1.903, 66.08, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_right"): Mdc(3.996, 1.96, 1.442, 70.72, 1, 29),
    ("pigmentation.spots.area_pct", "chin"): Mdc(2.491, 0.852, 0.4723, 30.74, 1, 29),
    ("pigmentation.spots.area_pct", "face"): Mdc(1.396, 0.6357, 0.5035, 22.93, 1, 29),
    ("pigmentation.spots.area_pct", "forehead"): Mdc(2.491, 15.18, 0.03834, 547.7, 1, 29),
    ("pigmentation.spots.area_pct", "glabella"): Mdc(2.491, 13.67, 0.8912, 493, 1, 29),
    ("pigmentation.spots.area_pct", "nose"): Mdc(4.383, 1.083, 1.581, 39.06, 1, 29),
    ("pigmentation.spots.area_pct", "perioral"): Mdc(2.618, 0.9938, 0.9444, 35.85, 1, 29),
    ("pigmentation.spots.area_pct", "periorbital_left"): Mdc(4.28, 2.58, 1.544, 93.08, 1, 29),
    ("pigmentation.spots.area_pct", "periorbital_right"): Mdc(2.491, 1.811, 0.7959, 65.32, 1, 29),
    ("pigmentation.melasma.score", "cheek_left"): Mdc(0.6612, None, 0.2385, 3.07, 1, 29),
    ("pigmentation.melasma.score", "cheek_right"): Mdc(0.1639, None, 0.05913, 1.769, 1, 29),
    ("pigmentation.melasma.score", "chin"): Mdc(0.2645, None, 0.09541, 2.465, 1, 29),
    ("pigmentation.melasma.score", "face"): Mdc(0.5216, None, 0.1882, 3.111, 1, 29),
    ("pigmentation.melasma.score", "forehead"): Mdc(1.294, None, 0.4669, 6.016, 1, 29),
    ("pigmentation.melasma.score", "glabella"): Mdc(0.3193, None, 0.1152, 20.07, 1, 29),
    ("pigmentation.melasma.score", "nose"): Mdc(0.1483, None, 0.05349, 1.948, 1, 29),
    ("pigmentation.melasma.score", "perioral"): Mdc(0.1787, None, 0.06446, 2.361, 1, 29),
    ("pigmentation.melasma.score", "periorbital_left"): Mdc(0.3491, None, 0.1259, 2.448, 1, 29),
    ("pigmentation.melasma.score", "periorbital_right"): Mdc(0.2475, None, 0.08931, 2.401, 1, 29),
    ("redness.erythema_index", "cheek_left"): Mdc(0.277, None, 0.09995, 2.394, 1, 29),
    ("redness.erythema_index", "cheek_right"): Mdc(0.1938, None, 0.06992, 2.162, 1, 29),
    ("redness.erythema_index", "chin"): Mdc(0.3049, None, 0.11, 3.051, 1, 29),
    ("redness.erythema_index", "face"): Mdc(0.1908, None, 0.06882, 1.868, 1, 29),
    ("redness.erythema_index", "forehead"): Mdc(0.2913, None, 0.1051, 3.703, 1, 29),
    ("redness.erythema_index", "glabella"): Mdc(0.242, None, 0.08731, 3.509, 1, 29),
    ("redness.erythema_index", "nose"): Mdc(0.2162, None, 0.07801, 1.488, 1, 29),
    ("redness.erythema_index", "perioral"): Mdc(0.23, None, 0.08296, 1.708, 1, 29),
    ("redness.erythema_index", "periorbital_left"): Mdc(0.2128, None, 0.07676, 2.946, 1, 29),
    ("redness.erythema_index", "periorbital_right"): Mdc(0.2481, None, 0.0895, 3.55, 1, 29),
    ("redness.area_pct", "cheek_left"): Mdc(1.007, 0.2257, 0.3631, 8.143, 1, 29),
    ("redness.area_pct", "cheek_right"): Mdc(0.9395, 0.3655, 0.339, 13.19, 1, 29),
    ("redness.area_pct", "chin"): Mdc(0.5865, 0.4721, 0.2116, 17.03, 1, 29),
    ("redness.area_pct", "face"): Mdc(0.381, 0.1003, 0.1375, 3.62, 1, 29),
    ("redness.area_pct", "nose"): Mdc(1.543, 0.1519, 0.5567, 5.48, 1, 29),
    ("redness.area_pct", "perioral"): Mdc(1.859, 0.1857, 0.6707, 6.699, 1, 29),
    ("redness.area_pct", "periorbital_left"): Mdc(0.2848, 6.685, 0.02316, 241.2, 1, 29),
    ("redness.area_pct", "periorbital_right"): Mdc(0.2848, 4.042, 0.08644, 145.8, 1, 29),
    ("redness.lesions.count", "cheek_left"): Mdc(2.342, 1.115, 0.8449, 40.23, 1, 29),
    ("redness.lesions.count", "cheek_right"): Mdc(1.515, 4.546, 0.5467, 164, 1, 29),
    ("redness.lesions.count", "chin"): Mdc(2.135, 3.558, 0.7701, 128.4, 1, 29),
    ("redness.lesions.count", "face"): Mdc(5.373, 1.001, 1.938, 36.12, 1, 29),
    ("redness.lesions.count", "forehead"): Mdc(0.8551, 15.18, 0.1826, 547.7, 1, 29),
    ("redness.lesions.count", "nose"): Mdc(1.723, 1.23, 0.6215, 44.39, 1, 29),
    ("redness.lesions.count", "perioral"): Mdc(1.746, 3.491, 0.6297, 125.9, 1, 29),
    ("redness.lesions.count", "periorbital_left"): Mdc(1.051, 6.304, 0.379, 227.4, 1, 29),
    ("wrinkles.count", "cheek_left"): Mdc(2.451, 0.6683, 0.8841, 24.11, 1, 29),
    ("wrinkles.count", "cheek_right"): Mdc(2.633, 0.8315, 0.9499, 30, 1, 29),
    ("wrinkles.count", "chin"): Mdc(3.202, 1.104, 1.155, 39.83, 1, 29),
    ("wrinkles.count", "face"): Mdc(5.249, 0.2625, 1.894, 9.469, 1, 29),
    ("wrinkles.count", "nose"): Mdc(1.584, 1.033, 0.5713, 37.26, 1, 29),
    ("wrinkles.count", "perioral"): Mdc(1.203, 0.4198, 0.4342, 15.15, 1, 29),
    ("wrinkles.count", "periorbital_left"): Mdc(1.342, 0.4794, 0.4842, 17.29, 1, 29),
    ("wrinkles.count", "periorbital_right"): Mdc(1.116, 0.36, 0.4026, 12.99, 1, 29),
    ("wrinkles.length_mm", "cheek_left"): Mdc(13.69, 0.5007, 4.938, 18.06, 1, 29),
    ("wrinkles.length_mm", "cheek_right"): Mdc(18.24, 0.3467, 6.582, 12.51, 1, 29),
    ("wrinkles.length_mm", "chin"): Mdc(18.33, 0.6859, 6.611, 24.75, 1, 29),
    ("wrinkles.length_mm", "face"): Mdc(38.22, 0.2009, 13.79, 7.249, 1, 29),
    ("wrinkles.length_mm", "nose"): Mdc(6.121, 0.767, 2.208, 27.67, 1, 29),
    ("wrinkles.length_mm", "perioral"): Mdc(4.83, 0.3421, 1.743, 12.34, 1, 29),
    ("wrinkles.length_mm", "periorbital_left"): Mdc(6.131, 0.2901, 2.212, 10.47, 1, 29),
    ("wrinkles.length_mm", "periorbital_right"): Mdc(5.716, 0.2065, 2.062, 7.45, 1, 29),
    ("wrinkles.area_pct", "cheek_left"): Mdc(0.6285, 0.4696, 0.2268, 16.94, 1, 29),
    ("wrinkles.area_pct", "cheek_right"): Mdc(0.8513, 0.3065, 0.3071, 11.06, 1, 29),
    ("wrinkles.area_pct", "chin"): Mdc(0.9628, 0.6312, 0.3473, 22.77, 1, 29),
    ("wrinkles.area_pct", "face"): Mdc(0.3278, 0.2091, 0.1183, 7.545, 1, 29),
    ("wrinkles.area_pct", "nose"): Mdc(0.4565, 0.6947, 0.1647, 25.06, 1, 29),
    ("wrinkles.area_pct", "perioral"): Mdc(0.3653, 0.2974, 0.09115, 10.73, 1, 29),
    ("wrinkles.area_pct", "periorbital_left"): Mdc(0.5436, 0.2943, 0.1961, 10.62, 1, 29),
    ("wrinkles.area_pct", "periorbital_right"): Mdc(0.3653, 0.1574, 0.1261, 5.68, 1, 29),
    ("texture.roughness", "cheek_left"): Mdc(0.1399, None, 0.05047, 1.062, 1, 29),
    ("texture.roughness", "cheek_right"): Mdc(0.3914, None, 0.1412, 2.416, 1, 29),
    ("texture.roughness", "chin"): Mdc(0.3166, None, 0.1142, 1.91, 1, 29),
    ("texture.roughness", "face"): Mdc(0.1723, None, 0.06216, 1.146, 1, 29),
    ("texture.roughness", "forehead"): Mdc(0.6611, None, 0.2385, 3.148, 1, 29),
    ("texture.roughness", "glabella"): Mdc(0.1164, None, 0.04198, 1.59, 1, 29),
    ("texture.roughness", "nose"): Mdc(0.25, None, 0.09018, 1.968, 1, 29),
    ("texture.roughness", "perioral"): Mdc(0.2283, None, 0.08237, 1.735, 1, 29),
    ("texture.roughness", "periorbital_left"): Mdc(0.4586, None, 0.1654, 3.149, 1, 29),
    ("texture.roughness", "periorbital_right"): Mdc(0.3937, None, 0.142, 2.468, 1, 29),
    ("texture.uniformity", "cheek_left"): Mdc(0.01302, None, 0.004699, 0.6913, 1, 29),
    ("texture.uniformity", "cheek_right"): Mdc(0.008237, None, 0.002972, 0.4911, 1, 29),
    ("texture.uniformity", "chin"): Mdc(0.01769, None, 0.006381, 1.093, 1, 29),
    ("texture.uniformity", "face"): Mdc(0.008696, None, 0.003137, 0.4965, 1, 29),
    ("texture.uniformity", "forehead"): Mdc(0.02339, None, 0.008437, 1.142, 1, 29),
    ("texture.uniformity", "glabella"): Mdc(0.01889, None, 0.006814, 0.8345, 1, 29),
    ("texture.uniformity", "nose"): Mdc(0.01803, None, 0.006505, 0.9139, 1, 29),
    ("texture.uniformity", "perioral"): Mdc(0.01869, None, 0.006744, 1.01, 1, 29),
    ("texture.uniformity", "periorbital_left"): Mdc(0.05923, None, 0.02137, 2.883, 1, 29),
    ("texture.uniformity", "periorbital_right"): Mdc(0.01962, None, 0.007078, 1.149, 1, 29),
    ("oil.shine_area_pct", "cheek_left"): Mdc(1.974, 0.08334, 0.5119, 3.006, 1, 29),
    ("oil.shine_area_pct", "cheek_right"): Mdc(1.974, 0.09396, 0.6679, 3.39, 1, 29),
    ("oil.shine_area_pct", "chin"): Mdc(1.974, 0.07582, 0.6241, 2.735, 1, 29),
    ("oil.shine_area_pct", "face"): Mdc(1.108, 0.04575, 0.3579, 1.651, 1, 29),
    ("oil.shine_area_pct", "forehead"): Mdc(2.418, 0.1247, 0.8723, 4.499, 1, 29),
    ("oil.shine_area_pct", "glabella"): Mdc(2.959, 0.07359, 1.068, 2.655, 1, 29),
    ("oil.shine_area_pct", "nose"): Mdc(2.281, 0.1042, 0.8231, 3.758, 1, 29),
    ("oil.shine_area_pct", "perioral"): Mdc(2.123, 0.09123, 0.7659, 3.291, 1, 29),
    ("oil.shine_area_pct", "periorbital_left"): Mdc(3.323, 0.1445, 1.199, 5.212, 1, 29),
    ("oil.shine_area_pct", "periorbital_right"): Mdc(2.028, 0.08356, 0.7317, 3.015, 1, 29),
    ("oil.shine_area_pct", "t_zone"): Mdc(1.111, 0.04583, 0.401, 1.653, 1, 29),
    ("oil.shine_area_pct", "u_zone"): Mdc(1.213, 0.06602, 0.4376, 2.382, 1, 29),
}
# END GENERATED
