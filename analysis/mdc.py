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
    ("pigmentation.ita_deg", "aggregate"): Mdc(2.402, None, 0.8666, 1.482, 1, 29),
    ("pigmentation.ita_deg", "skin"): Mdc(5.3, None, 1.912, 3.306, 2, 18),
    ("pigmentation.ita_deg", "zone"): Mdc(3.571, None, 1.288, 2.696, 9, 261),
    ("pigmentation.melanin_index", "aggregate"): Mdc(0.6506, None, 0.2347, 1.349, 1, 29),
    ("pigmentation.melanin_index", "skin"): Mdc(2.168, None, 0.7821, 5.348, 2, 18),
    ("pigmentation.melanin_index", "zone"): Mdc(0.7916, None, 0.2856, 1.585, 9, 261),
    ("pigmentation.spots.count", "aggregate"): Mdc(10.56, 0.457, 3.809, 16.49, 1, 29),
    ("pigmentation.spots.count", "zone"): Mdc(2.339, 1.095, 1.074, 39.52, 9, 261),
    ("pigmentation.spots.area_pct", "aggregate"): Mdc(2.699, 0.6526, 0.9738, 23.54, 1, 29),
    ("pigmentation.spots.area_pct", "skin"): Mdc(0.07414, 0.1043, 0.03826, 3.763, 2, 18),
    ("pigmentation.spots.area_pct", "zone"): Mdc(4.362, 1.784, 2.566, 64.36, 9, 261),
    ("pigmentation.melasma.score", "aggregate"): Mdc(0.5474, None, 0.1975, 3.27, 1, 29),
    ("pigmentation.melasma.score", "skin"): Mdc(0.04126, None, 0.01489, 9.371, 2, 18),
    ("pigmentation.melasma.score", "zone"): Mdc(0.5538, None, 0.1998, 7.323, 9, 261),
    ("redness.erythema_index", "aggregate"): Mdc(0.2732, None, 0.09858, 2.633, 1, 29),
    ("redness.erythema_index", "skin"): Mdc(1.926, None, 0.6947, 5.202, 2, 18),
    ("redness.erythema_index", "zone"): Mdc(0.3136, None, 0.1131, 3.456, 9, 261),
    ("redness.area_pct", "aggregate"): Mdc(0.3904, 0.1028, 0.1408, 3.707, 1, 29),
    ("redness.area_pct", "skin"): Mdc(0.2412, 0.1422, 0.09509, 5.132, 2, 18),
    ("redness.area_pct", "zone"): Mdc(0.2868, 0.2468, 0.3431, 8.904, 9, 261),
    ("redness.lesions.count", "aggregate"): Mdc(7.994, 0.6891, 2.884, 24.86, 1, 29),
    ("redness.lesions.count", "zone"): Mdc(1.628, 1.619, 0.9474, 58.4, 9, 261),
    ("pores.count", "skin"): Mdc(81.98, 0.1491, 25.64, 5.379, 2, 18),
    ("pores.density_per_cm2", "skin"): Mdc(1.281, 0.1491, 0.4006, 5.379, 2, 18),
    ("pores.mean_diameter_mm", "skin"): Mdc(0.01485, None, 0.005357, 1.335, 2, 18),
    ("pores.enlarged.count", "skin"): Mdc(81.69, 0.1444, 25.26, 5.209, 2, 18),
    ("wrinkles.count", "aggregate"): Mdc(5.216, 0.2621, 1.882, 9.457, 1, 29),
    ("wrinkles.count", "skin"): Mdc(0.8765, 0.5384, 0.5426, 19.42, 2, 18),
    ("wrinkles.count", "zone"): Mdc(1.071, 0.7858, 0.6586, 28.35, 9, 261),
    ("wrinkles.length_mm", "aggregate"): Mdc(38.49, 0.2026, 13.88, 7.31, 1, 29),
    ("wrinkles.length_mm", "skin"): Mdc(5.02, 0.2969, 3.839, 10.71, 2, 18),
    ("wrinkles.length_mm", "zone"): Mdc(4.458, 0.4777, 3.784, 17.23, 9, 261),
    ("wrinkles.area_pct", "aggregate"): Mdc(0.3236, 0.2066, 0.1168, 7.453, 1, 29),
    ("wrinkles.area_pct", "skin"): Mdc(0.0467, 0.1505, 0.02948, 5.428, 2, 18),
    ("wrinkles.area_pct", "zone"): Mdc(0.3828, 0.3874, 0.1987, 13.98, 9, 261),
    ("wrinkles.fine_lines.count", "skin"): Mdc(2.63, 0.2125, 0.7528, 7.667, 2, 18),
    ("wrinkles.fine_lines.length_mm", "skin"): Mdc(9.69, 0.2279, 3.093, 8.222, 2, 18),
    ("texture.roughness", "aggregate"): Mdc(0.1847, None, 0.06664, 1.23, 1, 29),
    ("texture.roughness", "skin"): Mdc(0.08395, None, 0.03029, 0.7299, 2, 18),
    ("texture.roughness", "zone"): Mdc(0.3809, None, 0.1374, 2.328, 9, 261),
    ("texture.uniformity", "aggregate"): Mdc(0.008152, None, 0.002941, 0.4652, 1, 29),
    ("texture.uniformity", "skin"): Mdc(0.003624, None, 0.001307, 0.1739, 2, 18),
    ("texture.uniformity", "zone"): Mdc(0.02578, None, 0.0093, 1.306, 9, 261),
    ("oil.shine_area_pct", "aggregate"): Mdc(1.094, 0.04777, 0.4157, 1.723, 3, 87),
    ("oil.shine_area_pct", "skin"): Mdc(0.1242, 0.1058, 0.04878, 3.818, 2, 18),
    ("oil.shine_area_pct", "zone"): Mdc(2.025, 0.09505, 0.8485, 3.429, 9, 261),
    ("pigmentation.ita_deg", "cheek_left"): Mdc(7.112, None, 2.566, 6.006, 1, 29),
    ("pigmentation.ita_deg", "cheek_right"): Mdc(2.184, None, 0.7881, 1.315, 1, 29),
    ("pigmentation.ita_deg", "chin"): Mdc(2.858, None, 1.031, 1.73, 1, 29),
    ("pigmentation.ita_deg", "face"): Mdc(2.402, None, 0.8666, 1.482, 1, 29),
    ("pigmentation.ita_deg", "forehead"): Mdc(4.977, None, 1.796, 3.726, 1, 29),
    ("pigmentation.ita_deg", "glabella"): Mdc(1.574, None, 0.568, 0.7635, 1, 29),
    ("pigmentation.ita_deg", "nose"): Mdc(2.361, None, 0.8519, 1.428, 1, 29),
    ("pigmentation.ita_deg", "perioral"): Mdc(1.909, None, 0.6886, 1.095, 1, 29),
    ("pigmentation.ita_deg", "periorbital_left"): Mdc(3.264, None, 1.177, 2.347, 1, 29),
    ("pigmentation.ita_deg", "periorbital_right"): Mdc(2.029, None, 0.7321, 1.177, 1, 29),
    ("pigmentation.melanin_index", "cheek_left"): Mdc(1.06, None, 0.3826, 1.786, 1, 29),
    ("pigmentation.melanin_index", "cheek_right"): Mdc(0.5756, None, 0.2077, 1.326, 1, 29),
    ("pigmentation.melanin_index", "chin"): Mdc(0.7107, None, 0.2564, 1.51, 1, 29),
    ("pigmentation.melanin_index", "face"): Mdc(0.6506, None, 0.2347, 1.349, 1, 29),
    ("pigmentation.melanin_index", "forehead"): Mdc(1.398, None, 0.5043, 2.32, 1, 29),
    ("pigmentation.melanin_index", "glabella"): Mdc(0.5432, None, 0.196, 1.866, 1, 29),
    ("pigmentation.melanin_index", "nose"): Mdc(0.619, None, 0.2233, 1.295, 1, 29),
    ("pigmentation.melanin_index", "perioral"): Mdc(0.5694, None, 0.2054, 1.31, 1, 29),
    ("pigmentation.melanin_index", "periorbital_left"): Mdc(0.6745, None, 0.2433, 1.293, 1, 29),
    ("pigmentation.melanin_index", "periorbital_right"): Mdc(0.5163, None, 0.1863, 1.204, 1, 29),
    ("pigmentation.spots.count", "cheek_left"): Mdc(4.389, 1.416, 1.583, 51.07, 1, 29),
    ("pigmentation.spots.count", "cheek_right"): Mdc(3.693, 0.6294, 1.332, 22.71, 1, 29),
    ("pigmentation.spots.count", "chin"): Mdc(3.262, 0.851, 1.177, 30.7, 1, 29),
    ("pigmentation.spots.count", "face"): Mdc(10.56, 0.457, 3.809, 16.49, 1, 29),
    ("pigmentation.spots.count", "forehead"): Mdc(2.339, 8.458, 0.3051, 305.1, 1, 29),
    ("pigmentation.spots.count", "glabella"): Mdc(2.522, 1.261, 0.9097, 45.49, 1, 29),
    ("pigmentation.spots.count", "nose"): Mdc(2.973, 0.866, 1.073, 31.24, 1, 29),
    ("pigmentation.spots.count", "perioral"): Mdc(3.206, 1.457, 1.157, 52.58, 1, 29),
    ("pigmentation.spots.count", "periorbital_left"): Mdc(2.955, 2.162, 1.066, 78.01, 1, 29),
    ("pigmentation.spots.count", "periorbital_right"): Mdc(2.339, 5.638, 0.4068, 203.4, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_left"): Mdc(4.362, 1.308, 1.319, 47.18, 1, 29),
    ("pigmentation.spots.area_pct", "cheek_right"): Mdc(9.458, 1.173, 3.412, 42.31, 1, 29),
    ("pigmentation.spots.area_pct", "chin"): Mdc(4.362, 0.6371, 0.5976, 22.98, 1, 29),
    ("pigmentation.spots.area_pct", "face"): Mdc(2.699, 0.6526, 0.9738, 23.54, 1, 29),
    ("pigmentation.spots.area_pct", "forehead"): Mdc(7.393, 8.514, 2.667, 307.1, 1, 29),
    ("pigmentation.spots.area_pct", "glabella"): Mdc(7.959, 2.111, 2.871, 76.17, 1, 29),
    ("pigmentation.spots.area_pct", "nose"): Mdc(8.3, 1.147, 2.994, 41.37, 1, 29),
    ("pigmentation.spots.area_pct", "perioral"): Mdc(11.77, 2.656, 4.247, 95.83, 1, 29),
    ("pigmentation.spots.area_pct", "periorbital_left"): Mdc(4.362, 2.103, 1.275, 75.86, 1, 29),
    ("pigmentation.spots.area_pct", "periorbital_right"): Mdc(4.362, 2.868, 1.244, 103.5, 1, 29),
    ("pigmentation.melasma.score", "cheek_left"): Mdc(0.667, None, 0.2406, 3.104, 1, 29),
    ("pigmentation.melasma.score", "cheek_right"): Mdc(0.1629, None, 0.05878, 1.758, 1, 29),
    ("pigmentation.melasma.score", "chin"): Mdc(0.2644, None, 0.0954, 2.462, 1, 29),
    ("pigmentation.melasma.score", "face"): Mdc(0.5474, None, 0.1975, 3.27, 1, 29),
    ("pigmentation.melasma.score", "forehead"): Mdc(1.372, None, 0.4948, 6.392, 1, 29),
    ("pigmentation.melasma.score", "glabella"): Mdc(0.3204, None, 0.1156, 20.04, 1, 29),
    ("pigmentation.melasma.score", "nose"): Mdc(0.1539, None, 0.05552, 2.018, 1, 29),
    ("pigmentation.melasma.score", "perioral"): Mdc(0.1805, None, 0.06514, 2.382, 1, 29),
    ("pigmentation.melasma.score", "periorbital_left"): Mdc(0.3442, None, 0.1242, 2.416, 1, 29),
    ("pigmentation.melasma.score", "periorbital_right"): Mdc(0.2464, None, 0.0889, 2.388, 1, 29),
    ("redness.erythema_index", "cheek_left"): Mdc(0.3616, None, 0.1305, 3.075, 1, 29),
    ("redness.erythema_index", "cheek_right"): Mdc(0.2621, None, 0.09456, 2.874, 1, 29),
    ("redness.erythema_index", "chin"): Mdc(0.3783, None, 0.1365, 3.724, 1, 29),
    ("redness.erythema_index", "face"): Mdc(0.2732, None, 0.09858, 2.633, 1, 29),
    ("redness.erythema_index", "forehead"): Mdc(0.35, None, 0.1263, 4.363, 1, 29),
    ("redness.erythema_index", "glabella"): Mdc(0.3068, None, 0.1107, 4.35, 1, 29),
    ("redness.erythema_index", "nose"): Mdc(0.2783, None, 0.1004, 1.895, 1, 29),
    ("redness.erythema_index", "perioral"): Mdc(0.3055, None, 0.1102, 2.242, 1, 29),
    ("redness.erythema_index", "periorbital_left"): Mdc(0.2803, None, 0.1011, 3.794, 1, 29),
    ("redness.erythema_index", "periorbital_right"): Mdc(0.2763, None, 0.09969, 3.867, 1, 29),
    ("redness.area_pct", "cheek_left"): Mdc(1.02, 0.2293, 0.3681, 8.273, 1, 29),
    ("redness.area_pct", "cheek_right"): Mdc(0.941, 0.366, 0.3395, 13.2, 1, 29),
    ("redness.area_pct", "chin"): Mdc(0.5913, 0.4771, 0.2133, 17.21, 1, 29),
    ("redness.area_pct", "face"): Mdc(0.3904, 0.1028, 0.1408, 3.707, 1, 29),
    ("redness.area_pct", "nose"): Mdc(1.538, 0.1517, 0.5548, 5.471, 1, 29),
    ("redness.area_pct", "perioral"): Mdc(1.855, 0.1847, 0.6691, 6.664, 1, 29),
    ("redness.area_pct", "periorbital_left"): Mdc(0.2868, 6.691, 0.02327, 241.4, 1, 29),
    ("redness.area_pct", "periorbital_right"): Mdc(0.2868, 4.042, 0.08646, 145.8, 1, 29),
    ("redness.lesions.count", "cheek_left"): Mdc(2.693, 1.049, 0.9714, 37.85, 1, 29),
    ("redness.lesions.count", "cheek_right"): Mdc(3.054, 2.181, 1.102, 78.69, 1, 29),
    ("redness.lesions.count", "chin"): Mdc(3.966, 1.227, 1.431, 44.25, 1, 29),
    ("redness.lesions.count", "face"): Mdc(7.994, 0.6891, 2.884, 24.86, 1, 29),
    ("redness.lesions.count", "nose"): Mdc(4.063, 1.766, 1.466, 63.73, 1, 29),
    ("redness.lesions.count", "perioral"): Mdc(3.015, 2.319, 1.088, 83.66, 1, 29),
    ("redness.lesions.count", "periorbital_left"): Mdc(1.628, 10.55, 0.2537, 380.6, 1, 29),
    ("redness.lesions.count", "periorbital_right"): Mdc(1.917, 2.614, 0.6915, 94.29, 1, 29),
    ("wrinkles.count", "cheek_left"): Mdc(2.431, 0.6569, 0.8769, 23.7, 1, 29),
    ("wrinkles.count", "cheek_right"): Mdc(2.558, 0.8252, 0.9229, 29.77, 1, 29),
    ("wrinkles.count", "chin"): Mdc(3.25, 1.108, 1.172, 39.97, 1, 29),
    ("wrinkles.count", "face"): Mdc(5.216, 0.2621, 1.882, 9.457, 1, 29),
    ("wrinkles.count", "nose"): Mdc(1.575, 1.099, 0.5683, 39.65, 1, 29),
    ("wrinkles.count", "perioral"): Mdc(1.203, 0.4198, 0.4342, 15.15, 1, 29),
    ("wrinkles.count", "periorbital_left"): Mdc(1.342, 0.4794, 0.4842, 17.29, 1, 29),
    ("wrinkles.count", "periorbital_right"): Mdc(1.116, 0.36, 0.4026, 12.99, 1, 29),
    ("wrinkles.length_mm", "cheek_left"): Mdc(14.6, 0.535, 5.269, 19.3, 1, 29),
    ("wrinkles.length_mm", "cheek_right"): Mdc(17.62, 0.3324, 6.356, 11.99, 1, 29),
    ("wrinkles.length_mm", "chin"): Mdc(18.3, 0.6885, 6.603, 24.84, 1, 29),
    ("wrinkles.length_mm", "face"): Mdc(38.49, 0.2026, 13.88, 7.31, 1, 29),
    ("wrinkles.length_mm", "nose"): Mdc(6.258, 0.8233, 2.258, 29.7, 1, 29),
    ("wrinkles.length_mm", "perioral"): Mdc(4.83, 0.3421, 1.743, 12.34, 1, 29),
    ("wrinkles.length_mm", "periorbital_left"): Mdc(6.074, 0.2877, 2.191, 10.38, 1, 29),
    ("wrinkles.length_mm", "periorbital_right"): Mdc(5.663, 0.2047, 2.043, 7.385, 1, 29),
    ("wrinkles.area_pct", "cheek_left"): Mdc(0.6693, 0.5011, 0.2415, 18.08, 1, 29),
    ("wrinkles.area_pct", "cheek_right"): Mdc(0.8017, 0.2866, 0.2892, 10.34, 1, 29),
    ("wrinkles.area_pct", "chin"): Mdc(0.9718, 0.6394, 0.3506, 23.07, 1, 29),
    ("wrinkles.area_pct", "face"): Mdc(0.3236, 0.2066, 0.1168, 7.453, 1, 29),
    ("wrinkles.area_pct", "nose"): Mdc(0.4702, 0.7514, 0.1696, 27.11, 1, 29),
    ("wrinkles.area_pct", "perioral"): Mdc(0.3828, 0.2971, 0.09102, 10.72, 1, 29),
    ("wrinkles.area_pct", "periorbital_left"): Mdc(0.5384, 0.2911, 0.1942, 10.5, 1, 29),
    ("wrinkles.area_pct", "periorbital_right"): Mdc(0.3828, 0.157, 0.1258, 5.664, 1, 29),
    ("texture.roughness", "cheek_left"): Mdc(0.136, None, 0.04908, 1.032, 1, 29),
    ("texture.roughness", "cheek_right"): Mdc(0.4023, None, 0.1451, 2.485, 1, 29),
    ("texture.roughness", "chin"): Mdc(0.3124, None, 0.1127, 1.888, 1, 29),
    ("texture.roughness", "face"): Mdc(0.1847, None, 0.06664, 1.23, 1, 29),
    ("texture.roughness", "forehead"): Mdc(0.7143, None, 0.2577, 3.403, 1, 29),
    ("texture.roughness", "glabella"): Mdc(0.1164, None, 0.042, 1.591, 1, 29),
    ("texture.roughness", "nose"): Mdc(0.2516, None, 0.09077, 1.98, 1, 29),
    ("texture.roughness", "perioral"): Mdc(0.2257, None, 0.08144, 1.715, 1, 29),
    ("texture.roughness", "periorbital_left"): Mdc(0.4491, None, 0.162, 3.087, 1, 29),
    ("texture.roughness", "periorbital_right"): Mdc(0.4335, None, 0.1564, 2.73, 1, 29),
    ("texture.uniformity", "cheek_left"): Mdc(0.01297, None, 0.00468, 0.6886, 1, 29),
    ("texture.uniformity", "cheek_right"): Mdc(0.008181, None, 0.002952, 0.4874, 1, 29),
    ("texture.uniformity", "chin"): Mdc(0.01766, None, 0.006371, 1.091, 1, 29),
    ("texture.uniformity", "face"): Mdc(0.008152, None, 0.002941, 0.4652, 1, 29),
    ("texture.uniformity", "forehead"): Mdc(0.02365, None, 0.008531, 1.155, 1, 29),
    ("texture.uniformity", "glabella"): Mdc(0.01859, None, 0.006708, 0.8216, 1, 29),
    ("texture.uniformity", "nose"): Mdc(0.01786, None, 0.006443, 0.9055, 1, 29),
    ("texture.uniformity", "perioral"): Mdc(0.01825, None, 0.006584, 0.9862, 1, 29),
    ("texture.uniformity", "periorbital_left"): Mdc(0.05862, None, 0.02115, 2.853, 1, 29),
    ("texture.uniformity", "periorbital_right"): Mdc(0.02097, None, 0.007567, 1.226, 1, 29),
    ("oil.shine_area_pct", "cheek_left"): Mdc(2.025, 0.08845, 0.5555, 3.191, 1, 29),
    ("oil.shine_area_pct", "cheek_right"): Mdc(2.025, 0.08934, 0.6398, 3.223, 1, 29),
    ("oil.shine_area_pct", "chin"): Mdc(2.025, 0.0755, 0.6325, 2.724, 1, 29),
    ("oil.shine_area_pct", "face"): Mdc(1.094, 0.04409, 0.3507, 1.591, 1, 29),
    ("oil.shine_area_pct", "forehead"): Mdc(2.459, 0.1257, 0.8873, 4.535, 1, 29),
    ("oil.shine_area_pct", "glabella"): Mdc(3.237, 0.07951, 1.168, 2.869, 1, 29),
    ("oil.shine_area_pct", "nose"): Mdc(2.42, 0.1089, 0.8731, 3.93, 1, 29),
    ("oil.shine_area_pct", "perioral"): Mdc(2.025, 0.08027, 0.6851, 2.896, 1, 29),
    ("oil.shine_area_pct", "periorbital_left"): Mdc(3.297, 0.1402, 1.189, 5.057, 1, 29),
    ("oil.shine_area_pct", "periorbital_right"): Mdc(2.083, 0.08402, 0.7516, 3.031, 1, 29),
    ("oil.shine_area_pct", "t_zone"): Mdc(1.26, 0.05119, 0.4546, 1.847, 1, 29),
    ("oil.shine_area_pct", "u_zone"): Mdc(1.204, 0.06462, 0.4345, 2.331, 1, 29),
}
# END GENERATED
