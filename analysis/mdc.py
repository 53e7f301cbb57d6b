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
    ("pigmentation.ita_deg", "aggregate"): Mdc(2.314, None, 0.8347, 1.43, 1, 29),
    ("pigmentation.ita_deg", "skin"): Mdc(5.3, None, 1.912, 3.306, 2, 18),
    ("pigmentation.ita_deg", "zone"): Mdc(3.492, None, 1.26, 2.646, 11, 319),
    ("pigmentation.melanin_index", "aggregate"): Mdc(0.6278, None, 0.2265, 1.27, 1, 29),
    ("pigmentation.melanin_index", "skin"): Mdc(2.168, None, 0.7821, 5.348, 2, 18),
    ("pigmentation.melanin_index", "zone"): Mdc(0.8248, None, 0.2976, 1.689, 11, 319),
    ("pigmentation.spots.count", "aggregate"): Mdc(11.75, 0.4544, 4.24, 16.39, 1, 29),
    ("pigmentation.spots.count", "zone"): Mdc(2.204, 1.142, 1.078, 41.2, 11, 319),
    ("pigmentation.spots.area_pct", "aggregate"): Mdc(3.058, 0.7904, 1.103, 28.52, 1, 29),
    ("pigmentation.spots.area_pct", "skin"): Mdc(0.07414, 0.1043, 0.03826, 3.763, 2, 18),
    ("pigmentation.spots.area_pct", "zone"): Mdc(6.584, 2.249, 3.746, 81.15, 11, 319),
    ("pigmentation.melasma.score", "aggregate"): Mdc(0.2665, None, 0.09615, 1.834, 1, 29),
    ("pigmentation.melasma.score", "skin"): Mdc(0.04126, None, 0.01489, 9.371, 2, 18),
    ("pigmentation.melasma.score", "zone"): Mdc(0.4083, None, 0.1473, 165.2, 11, 319),
    ("redness.erythema_index", "aggregate"): Mdc(0.2399, None, 0.08655, 2.356, 1, 29),
    ("redness.erythema_index", "skin"): Mdc(1.926, None, 0.6947, 5.202, 2, 18),
    ("redness.erythema_index", "zone"): Mdc(0.3053, None, 0.1102, 3.26, 11, 319),
    ("redness.area_pct", "aggregate"): Mdc(0.392, 0.1221, 0.1414, 4.406, 1, 29),
    ("redness.area_pct", "skin"): Mdc(0.2412, 0.1422, 0.09509, 5.132, 2, 18),
    ("redness.area_pct", "zone"): Mdc(0.5656, 0.4822, 0.7, 17.4, 11, 319),
    ("redness.lesions.count", "aggregate"): Mdc(9.038, 0.7998, 3.261, 28.85, 1, 29),
    ("redness.lesions.count", "zone"): Mdc(0.5931, 1.677, 0.8546, 60.49, 11, 319),
    ("pores.count", "skin"): Mdc(81.98, 0.1491, 25.64, 5.379, 2, 18),
    ("pores.density_per_cm2", "skin"): Mdc(1.281, 0.1491, 0.4006, 5.379, 2, 18),
    ("pores.mean_diameter_mm", "skin"): Mdc(0.01485, None, 0.005357, 1.335, 2, 18),
    ("pores.enlarged.count", "skin"): Mdc(81.69, 0.1444, 25.26, 5.209, 2, 18),
    ("wrinkles.count", "aggregate"): Mdc(8.161, 0.4033, 2.944, 14.55, 1, 29),
    ("wrinkles.count", "skin"): Mdc(0.8765, 0.5384, 0.5426, 19.42, 2, 18),
    ("wrinkles.count", "zone"): Mdc(1.289, 0.7943, 0.7126, 28.66, 11, 319),
    ("wrinkles.length_mm", "aggregate"): Mdc(42.29, 0.2595, 15.26, 9.363, 1, 29),
    ("wrinkles.length_mm", "skin"): Mdc(5.02, 0.2969, 3.839, 10.71, 2, 18),
    ("wrinkles.length_mm", "zone"): Mdc(6.988, 0.4979, 3.446, 17.96, 11, 319),
    ("wrinkles.area_pct", "aggregate"): Mdc(0.2577, 0.2204, 0.09295, 7.95, 1, 29),
    ("wrinkles.area_pct", "skin"): Mdc(0.0467, 0.1505, 0.02948, 5.428, 2, 18),
    ("wrinkles.area_pct", "zone"): Mdc(0.3849, 0.3652, 0.3279, 13.17, 11, 319),
    ("wrinkles.fine_lines.count", "skin"): Mdc(2.63, 0.2125, 0.7528, 7.667, 2, 18),
    ("wrinkles.fine_lines.length_mm", "skin"): Mdc(9.69, 0.2279, 3.093, 8.222, 2, 18),
    ("texture.roughness", "aggregate"): Mdc(0.3346, None, 0.1207, 2.201, 1, 29),
    ("texture.roughness", "skin"): Mdc(0.08395, None, 0.03029, 0.7299, 2, 18),
    ("texture.roughness", "zone"): Mdc(0.6929, None, 0.25, 5.201, 11, 319),
    ("texture.uniformity", "aggregate"): Mdc(0.01718, None, 0.006198, 1.01, 1, 29),
    ("texture.uniformity", "skin"): Mdc(0.003624, None, 0.001307, 0.1739, 2, 18),
    ("texture.uniformity", "zone"): Mdc(0.05811, None, 0.02097, 3.092, 11, 319),
    ("oil.shine_area_pct", "aggregate"): Mdc(1.313, 0.04826, 0.4637, 1.741, 3, 87),
    ("oil.shine_area_pct", "skin"): Mdc(0.1242, 0.1058, 0.04878, 3.818, 2, 18),
    ("oil.shine_area_pct", "zone"): Mdc(2.79, 0.1393, 1.226, 5.027, 11, 319),
    ("pigmentation.ita_deg", "cheek_left"): Mdc(4.264, None, 1.538, 3.77, 1, 29),
    ("pigmentation.ita_deg", "cheek_right"): Mdc(2.073, None, 0.7479, 1.221, 1, 29),
    ("pigmentation.ita_deg", "chin"): Mdc(1.815, None, 0.6548, 1.027, 1, 29),
    ("pigmentation.ita_deg", "face"): Mdc(2.314, None, 0.8347, 1.43, 1, 29),
    ("pigmentation.ita_deg", "forehead"): Mdc(4.705, None, 1.697, 3.004, 1, 29),
    ("pigmentation.ita_deg", "glabella"): Mdc(1.353, None, 0.4881, 0.6543, 1, 29),
    ("pigmentation.ita_deg", "nasolabial_left"): Mdc(4.382, None, 1.581, 3.498, 1, 29),
    ("pigmentation.ita_deg", "nasolabial_right"): Mdc(2.359, None, 0.8509, 1.378, 1, 29),
    ("pigmentation.ita_deg", "nose"): Mdc(2.282, None, 0.8233, 1.387, 1, 29),
    ("pigmentation.ita_deg", "perioral"): Mdc(2.41, None, 0.8694, 1.469, 1, 29),
    ("pigmentation.ita_deg", "periorbital_left"): Mdc(6.44, None, 2.323, 5.433, 1, 29),
    ("pigmentation.ita_deg", "periorbital_right"): Mdc(2.665, None, 0.9614, 1.75, 1, 29),
    ("pigmentation.melanin_index", "cheek_left"): Mdc(0.6196, None, 0.2235, 1.029, 1, 29),
    ("pigmentation.melanin_index", "cheek_right"): Mdc(0.5294, None, 0.191, 1.246, 1, 29),
    ("pigmentation.melanin_index", "chin"): Mdc(0.7247, None, 0.2615, 1.64, 1, 29),
    ("pigmentation.melanin_index", "face"): Mdc(0.6278, None, 0.2265, 1.27, 1, 29),
    ("pigmentation.melanin_index", "forehead"): Mdc(1.692, None, 0.6104, 3.27, 1, 29),
    ("pigmentation.melanin_index", "glabella"): Mdc(0.5593, None, 0.2018, 2.034, 1, 29),
    ("pigmentation.melanin_index", "nasolabial_left"): Mdc(0.6456, None, 0.2329, 1.094, 1, 29),
    ("pigmentation.melanin_index", "nasolabial_right"): Mdc(0.5772, None, 0.2082, 1.249, 1, 29),
    ("pigmentation.melanin_index", "nose"): Mdc(0.5602, None, 0.2021, 1.141, 1, 29),
    ("pigmentation.melanin_index", "perioral"): Mdc(0.6027, None, 0.2174, 1.23, 1, 29),
    ("pigmentation.melanin_index", "periorbital_left"): Mdc(1.144, None, 0.4126, 2.016, 1, 29),
    ("pigmentation.melanin_index", "periorbital_right"): Mdc(0.62, None, 0.2237, 1.271, 1, 29),
    ("pigmentation.spots.count", "cheek_left"): Mdc(4.368, 1.456, 1.576, 52.52, 1, 29),
    ("pigmentation.spots.count", "cheek_right"): Mdc(3.718, 0.8922, 1.341, 32.19, 1, 29),
    ("pigmentation.spots.count", "chin"): Mdc(4.097, 0.8972, 1.478, 32.37, 1, 29),
    ("pigmentation.spots.count", "face"): Mdc(11.75, 0.4544, 4.24, 16.39, 1, 29),
    ("pigmentation.spots.count", "forehead"): Mdc(2.204, 3.491, 0.6297, 125.9, 1, 29),
    ("pigmentation.spots.count", "glabella"): Mdc(2.887, 1.547, 1.042, 55.8, 1, 29),
    ("pigmentation.spots.count", "nasolabial_left"): Mdc(2.592, 2.102, 0.9353, 75.83, 1, 29),
    ("pigmentation.spots.count", "nasolabial_right"): Mdc(2.204, 3.224, 0.504, 116.3, 1, 29),
    ("pigmentation.spots.count", "nose"): Mdc(3.718, 0.9698, 1.341, 34.99, 1, 29),
    ("pigmentation.spots.count", "perioral"): Mdc(2.34, 0.8775, 0.8442, 31.66, 1, 29),
    ("pigmentation.spots.count", "periorbital_left"): Mdc(2.204, 1.356, 0.6687, 48.93, 1, 29),
    ("pigmentation.spots.count", "periorbital_right"): Mdc(2.379, 1.929, 0.8584, 69.6, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_left"): Mdc(6.584, 1.614, 1.168, 58.24, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_right"): Mdc(6.584, 1.146, 1.997, 41.33, 1, 29),
    ("pigmentation.spots.area_pct", "chin"): Mdc(6.584, 1.459, 1.78, 52.65, 1, 29),
    ("pigmentation.spots.area_pct", "face"): Mdc(3.058, 0.7904, 1.103, 28.52, 1, 29),
    ("pigmentation.spots.area_pct", "forehead"): Mdc(6.584, 7.604, 1.058, 274.3, 1, 29),
    ("pigmentation.spots.area_pct", "glabella"): Mdc(14.14, 3.032, 5.101, 109.4, 1, 29),
    ("pigmentation.spots.area_pct", "nasolabial_left"): Mdc(12.11, 2.118, 4.369, 76.42, 1, 29),
    ("pigmentation.spots.area_pct", "nasolabial_right"): Mdc(22.24, 3.015, 8.024, 108.8, 1, 29),
    ("pigmentation.spots.area_pct", "nose"): Mdc(7.342, 1.087, 2.649, 39.21, 1, 29),
    ("pigmentation.spots.area_pct", "perioral"): Mdc(7.965, 2.258, 2.874, 81.45, 1, 29),
    ("pigmentation.spots.area_pct", "periorbital_left"): Mdc(10.02, 3.177, 3.613, 114.6, 1, 29),
    ("pigmentation.spots.area_pct", "periorbital_right"): Mdc(7.275, 4.202, 2.625, 151.6, 1, 29),
    ("pigmentation.melasma.score", "cheek_left"): Mdc(0.5612, None, 0.2025, 2.651, 1, 29),
    ("pigmentation.melasma.score", "cheek_right"): Mdc(0.1638, None, 0.05909, 1.64, 1, 29),
    ("pigmentation.melasma.score", "chin"): Mdc(0.2938, None, 0.106, 4.779, 1, 29),
    ("pigmentation.melasma.score", "face"): Mdc(0.2665, None, 0.09615, 1.834, 1, 29),
    ("pigmentation.melasma.score", "forehead"): Mdc(0.6649, None, 0.2399, 4.366, 1, 29),
    ("pigmentation.melasma.score", "glabella"): Mdc(0.006502, None, 0.002346, 547.7, 1, 29),
    ("pigmentation.melasma.score", "nasolabial_left"): Mdc(0.5172, None, 0.1866, 2.402, 1, 29),
    ("pigmentation.melasma.score", "nasolabial_right"): Mdc(0.4067, None, 0.1467, 4.117, 1, 29),
    ("pigmentation.melasma.score", "nose"): Mdc(0.2186, None, 0.07888, 2.453, 1, 29),
    ("pigmentation.melasma.score", "perioral"): Mdc(0.3999, None, 0.1443, 4.501, 1, 29),
    ("pigmentation.melasma.score", "periorbital_left"): Mdc(0.4985, None, 0.1798, 2.739, 1, 29),
    ("pigmentation.melasma.score", "periorbital_right"): Mdc(0.2734, None, 0.09864, 2.095, 1, 29),
    ("redness.erythema_index", "cheek_left"): Mdc(0.2125, None, 0.07665, 2.587, 1, 29),
    ("redness.erythema_index", "cheek_right"): Mdc(0.2291, None, 0.08264, 3.185, 1, 29),
    ("redness.erythema_index", "chin"): Mdc(0.2588, None, 0.09336, 2.164, 1, 29),
    ("redness.erythema_index", "face"): Mdc(0.2399, None, 0.08655, 2.356, 1, 29),
    ("redness.erythema_index", "forehead"): Mdc(0.3082, None, 0.1112, 4.19, 1, 29),
    ("redness.erythema_index", "glabella"): Mdc(0.3203, None, 0.1156, 4.407, 1, 29),
    ("redness.erythema_index", "nasolabial_left"): Mdc(0.3248, None, 0.1172, 2.168, 1, 29),
    ("redness.erythema_index", "nasolabial_right"): Mdc(0.3071, None, 0.1108, 2.225, 1, 29),
    ("redness.erythema_index", "nose"): Mdc(0.3411, None, 0.1231, 2.153, 1, 29),
    ("redness.erythema_index", "perioral"): Mdc(0.3829, None, 0.1381, 2.547, 1, 29),
    ("redness.erythema_index", "periorbital_left"): Mdc(0.3527, None, 0.1272, 4.644, 1, 29),
    ("redness.erythema_index", "periorbital_right"): Mdc(0.2757, None, 0.09947, 4.007, 1, 29),
    ("redness.area_pct", "cheek_left"): Mdc(0.5656, 0.705, 0.1144, 25.44, 1, 29),
    ("redness.area_pct", "cheek_right"): Mdc(0.5656, 0.8467, 0.1072, 30.54, 1, 29),
    ("redness.area_pct", "chin"): Mdc(0.8743, 0.5033, 0.3154, 18.16, 1, 29),
    ("redness.area_pct", "face"): Mdc(0.392, 0.1221, 0.1414, 4.406, 1, 29),
    ("redness.area_pct", "nasolabial_left"): Mdc(2.978, 0.5489, 1.074, 19.8, 1, 29),
    ("redness.area_pct", "nasolabial_right"): Mdc(3.498, 0.4339, 1.262, 15.65, 1, 29),
    ("redness.area_pct", "nose"): Mdc(2.535, 0.1781, 0.9147, 6.426, 1, 29),
    ("redness.area_pct", "perioral"): Mdc(3.17, 0.3967, 1.143, 14.31, 1, 29),
    ("redness.area_pct", "periorbital_left"): Mdc(1.381, 0.6957, 0.4983, 25.1, 1, 29),
    ("redness.area_pct", "periorbital_right"): Mdc(0.9829, 0.9287, 0.3546, 33.5, 1, 29),
    ("redness.lesions.count", "cheek_left"): Mdc(3.13, 1.188, 1.129, 42.87, 1, 29),
    ("redness.lesions.count", "cheek_right"): Mdc(2.495, 1.663, 0.9002, 60.01, 1, 29),
    ("redness.lesions.count", "chin"): Mdc(4.916, 1.446, 1.773, 52.16, 1, 29),
    ("redness.lesions.count", "face"): Mdc(9.038, 0.7998, 3.261, 28.85, 1, 29),
    ("redness.lesions.count", "forehead"): Mdc(0.5931, 15.18, 0.1826, 547.7, 1, 29),
    ("redness.lesions.count", "nasolabial_left"): Mdc(0.7032, 10.55, 0.2537, 380.6, 1, 29),
    ("redness.lesions.count", "nasolabial_right"): Mdc(1.051, 6.304, 0.379, 227.4, 1, 29),
    ("redness.lesions.count", "nose"): Mdc(3.835, 1.534, 1.383, 55.34, 1, 29),
    ("redness.lesions.count", "perioral"): Mdc(2.176, 2.331, 0.7849, 84.1, 1, 29),
    ("redness.lesions.count", "periorbital_right"): Mdc(0.5931, 15.18, 0.1826, 547.7, 1, 29),
    ("wrinkles.count", "cheek_left"): Mdc(3.862, 0.8217, 1.393, 29.65, 1, 29),
    ("wrinkles.count", "cheek_right"): Mdc(1.332, 0.6344, 0.4807, 22.89, 1, 29),
    ("wrinkles.count", "chin"): Mdc(2.34, 1.755, 0.8442, 63.31, 1, 29),
    ("wrinkles.count", "face"): Mdc(8.161, 0.4033, 2.944, 14.55, 1, 29),
    ("wrinkles.count", "nose"): Mdc(2.12, 1.043, 0.7649, 37.62, 1, 29),
    ("wrinkles.count", "perioral"): Mdc(2.584, 0.9938, 0.9322, 35.85, 1, 29),
    ("wrinkles.count", "periorbital_left"): Mdc(1.973, 0.6366, 0.712, 22.97, 1, 29),
    ("wrinkles.count", "periorbital_right"): Mdc(2.385, 0.6749, 0.8604, 24.35, 1, 29),
    ("wrinkles.length_mm", "cheek_left"): Mdc(19.13, 0.8254, 6.902, 29.78, 1, 29),
    ("wrinkles.length_mm", "cheek_right"): Mdc(9.239, 0.2688, 3.333, 9.699, 1, 29),
    ("wrinkles.length_mm", "chin"): Mdc(8.484, 1.51, 3.061, 54.49, 1, 29),
    ("wrinkles.length_mm", "face"): Mdc(42.29, 0.2595, 15.26, 9.363, 1, 29),
    ("wrinkles.length_mm", "nasolabial_left"): Mdc(10.01, 0.4769, 3.613, 17.21, 1, 29),
    ("wrinkles.length_mm", "nose"): Mdc(8.8, 0.9733, 3.175, 35.11, 1, 29),
    ("wrinkles.length_mm", "perioral"): Mdc(11.98, 0.9519, 4.323, 34.34, 1, 29),
    ("wrinkles.length_mm", "periorbital_left"): Mdc(9.779, 0.4293, 3.528, 15.49, 1, 29),
    ("wrinkles.length_mm", "periorbital_right"): Mdc(7.967, 0.2316, 2.874, 8.356, 1, 29),
    ("wrinkles.area_pct", "cheek_left"): Mdc(0.6019, 0.6488, 0.2171, 23.41, 1, 29),
    ("wrinkles.area_pct", "cheek_right"): Mdc(0.4058, 0.2609, 0.1464, 9.413, 1, 29),
    ("wrinkles.area_pct", "chin"): Mdc(0.3849, 1.413, 0.1347, 50.96, 1, 29),
    ("wrinkles.area_pct", "face"): Mdc(0.2577, 0.2204, 0.09295, 7.95, 1, 29),
    ("wrinkles.area_pct", "nasolabial_left"): Mdc(2.341, 0.5117, 0.8444, 18.46, 1, 29),
    ("wrinkles.area_pct", "nose"): Mdc(0.6223, 0.8793, 0.2245, 31.72, 1, 29),
    ("wrinkles.area_pct", "perioral"): Mdc(0.9671, 0.8433, 0.3489, 30.42, 1, 29),
    ("wrinkles.area_pct", "periorbital_left"): Mdc(1.122, 0.4145, 0.4046, 14.95, 1, 29),
    ("wrinkles.area_pct", "periorbital_right"): Mdc(0.6004, 0.1781, 0.2166, 6.425, 1, 29),
    ("texture.roughness", "cheek_left"): Mdc(0.9711, None, 0.3503, 8.231, 1, 29),
    ("texture.roughness", "cheek_right"): Mdc(0.4981, None, 0.1797, 4.672, 1, 29),
    ("texture.roughness", "chin"): Mdc(1.387, None, 0.5003, 12.06, 1, 29),
    ("texture.roughness", "face"): Mdc(0.3346, None, 0.1207, 2.201, 1, 29),
    ("texture.roughness", "forehead"): Mdc(0.3636, None, 0.1312, 1.974, 1, 29),
    ("texture.roughness", "glabella"): Mdc(0.1302, None, 0.04696, 1.831, 1, 29),
    ("texture.roughness", "nasolabial_left"): Mdc(0.3427, None, 0.1236, 1.768, 1, 29),
    ("texture.roughness", "nasolabial_right"): Mdc(0.4893, None, 0.1765, 2.294, 1, 29),
    ("texture.roughness", "nose"): Mdc(0.5004, None, 0.1805, 4.092, 1, 29),
    ("texture.roughness", "perioral"): Mdc(0.3956, None, 0.1427, 3.285, 1, 29),
    ("texture.roughness", "periorbital_left"): Mdc(0.7125, None, 0.2571, 3.004, 1, 29),
    ("texture.roughness", "periorbital_right"): Mdc(0.8644, None, 0.3118, 3.219, 1, 29),
    ("texture.uniformity", "cheek_left"): Mdc(0.1342, None, 0.04841, 6.908, 1, 29),
    ("texture.uniformity", "cheek_right"): Mdc(0.02363, None, 0.008524, 1.326, 1, 29),
    ("texture.uniformity", "chin"): Mdc(0.1239, None, 0.0447, 6.863, 1, 29),
    ("texture.uniformity", "face"): Mdc(0.01718, None, 0.006198, 1.01, 1, 29),
    ("texture.uniformity", "forehead"): Mdc(0.01941, None, 0.007001, 1.064, 1, 29),
    ("texture.uniformity", "glabella"): Mdc(0.02047, None, 0.007383, 0.8688, 1, 29),
    ("texture.uniformity", "nasolabial_left"): Mdc(0.009633, None, 0.003475, 0.5014, 1, 29),
    ("texture.uniformity", "nasolabial_right"): Mdc(0.01251, None, 0.004512, 0.713, 1, 29),
    ("texture.uniformity", "nose"): Mdc(0.0277, None, 0.009994, 1.374, 1, 29),
    ("texture.uniformity", "perioral"): Mdc(0.02098, None, 0.007569, 1.067, 1, 29),
    ("texture.uniformity", "periorbital_left"): Mdc(0.02745, None, 0.009905, 1.458, 1, 29),
    ("texture.uniformity", "periorbital_right"): Mdc(0.01518, None, 0.005476, 0.9009, 1, 29),
    ("oil.shine_area_pct", "cheek_left"): Mdc(2.79, 0.1226, 0.7089, 4.425, 1, 29),
    ("oil.shine_area_pct", "cheek_right"): Mdc(2.79, 0.0924, 0.6775, 3.334, 1, 29),
    ("oil.shine_area_pct", "chin"): Mdc(2.79, 0.08047, 0.7037, 2.903, 1, 29),
    ("oil.shine_area_pct", "face"): Mdc(1.313, 0.04829, 0.3771, 1.742, 1, 29),
    ("oil.shine_area_pct", "forehead"): Mdc(3.165, 0.1077, 1.142, 3.887, 1, 29),
    ("oil.shine_area_pct", "glabella"): Mdc(3.495, 0.1055, 1.261, 3.807, 1, 29),
    ("oil.shine_area_pct", "nasolabial_left"): Mdc(4.758, 0.1881, 1.717, 6.787, 1, 29),
    ("oil.shine_area_pct", "nasolabial_right"): Mdc(5.628, 0.2035, 2.03, 7.342, 1, 29),
    ("oil.shine_area_pct", "nose"): Mdc(2.79, 0.1022, 0.7991, 3.687, 1, 29),
    ("oil.shine_area_pct", "perioral"): Mdc(2.897, 0.1358, 1.045, 4.901, 1, 29),
    ("oil.shine_area_pct", "periorbital_left"): Mdc(2.79, 0.1462, 1.005, 5.273, 1, 29),
    ("oil.shine_area_pct", "periorbital_right"): Mdc(4.273, 0.2789, 1.541, 10.06, 1, 29),
    ("oil.shine_area_pct", "t_zone"): Mdc(1.313, 0.04824, 0.4428, 1.74, 1, 29),
    ("oil.shine_area_pct", "u_zone"): Mdc(1.535, 0.08485, 0.5538, 3.061, 1, 29),
}
# END GENERATED
