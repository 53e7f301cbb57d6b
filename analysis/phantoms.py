"""Synthetic skin phantoms with known truth, for tests and the accuracy benchmark.

A phantom is rendered in apparent optical density (OD = -log10 reflectance), the model the
measures invert: ``OD = shading + melanin * MEL + haemoglobin * HB`` per sRGB channel, with
chromophore spectra deliberately a little different from the ones the measures assume
(``analysis.measures.chromophores.MELANIN_OD`` / ``HAEMOGLOBIN_OD``), so the tests do not merely
invert their own forward model. Onto a skin-coloured background with smooth shading,
optional band-limited texture and sensor noise go: brown spots (melanin disks), pores
(small neutral dark disks), lines (neutral valleys of Gaussian cross-section: thin "fine"
lines and wide "wrinkles"), a red patch and red lesions (haemoglobin disks), and a shiny
area (white specular light added in linear RGB, as in the dichromatic reflection model).
Everything is drawn from one seed; :class:`PhantomTruth` records what was drawn.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
import torch

from analysis.color import linear_rgb_to_lab, linear_to_srgb, srgb_to_linear, to_unit_float
from analysis.measures.base import SkinImage

__all__ = [
    "Disk",
    "DrawnLine",
    "SoftSpot",
    "draw_on_photo",
    "free_positions",
    "soft_profile",
    "Line",
    "Phantom",
    "PhantomSpec",
    "PhantomTruth",
    "make_phantom",
    "phantom_skin_image",
]

logger = logging.getLogger(__name__)

#: The phantom's own chromophore spectra (R, G, B), close to but not equal to the measures'.
PHANTOM_MELANIN = (1.0, 1.6, 2.3)
PHANTOM_HAEMOGLOBIN = (0.12, 1.1, 0.6)


@dataclass(frozen=True, slots=True)
class PhantomSpec:
    """What to draw. Lengths in mm, strengths in optical density (OD) unless noted.

    Attributes
    ----------
    size_px
        (rows, columns).
    spacing_mm
        mm per pixel.
    seed
        Random seed for positions, noise and texture.
    melanin, haemoglobin
        Background chromophore OD (red-channel melanin, green-minus-red haemoglobin).
    noise
        Std of additive sensor noise in sRGB units (0-1).
    texture
        Std (OD) of neutral band-limited texture (features 0.2-2 mm).
    n_spots, spot_diameter_mm, spot_melanin
        Brown spots: count, diameter range, added melanin OD.
    n_pores, pore_diameter_mm, pore_depth
        Pores: count, diameter range, neutral OD depth.
    n_fine_lines, fine_length_mm, fine_width_mm, fine_depth
        Fine lines: count, length, width (FWHM), neutral OD depth at the centre.
    n_wrinkles, wrinkle_length_mm, wrinkle_width_mm, wrinkle_depth
        Wrinkles: as fine lines.
    red_patch_radius_mm, red_patch_haemoglobin
        A red patch (0 radius = none) and its added haemoglobin OD.
    red_patch_side
        ``left``: the patch is placed in the left half of the image, ``any``: anywhere.
    n_lesions, lesion_diameter_mm, lesion_haemoglobin
        Small inflamed (haemoglobin) lesions.
    shine_radius_mm, shine_strength
        A shiny disk (0 radius = none) and the white light added, as a fraction of the
        background's linear luminance.
    """

    size_px: tuple[int, int] = (640, 640)
    spacing_mm: float = 0.1
    seed: int = 0
    melanin: float = 0.18
    haemoglobin: float = 0.10
    noise: float = 0.004
    texture: float = 0.0
    n_spots: int = 0
    spot_diameter_mm: tuple[float, float] = (2.0, 4.0)
    spot_melanin: float = 0.12
    n_pores: int = 0
    pore_diameter_mm: tuple[float, float] = (0.3, 0.5)
    pore_depth: float = 0.12
    n_fine_lines: int = 0
    fine_length_mm: float = 10.0
    fine_width_mm: float = 0.3
    fine_depth: float = 0.06
    n_wrinkles: int = 0
    wrinkle_length_mm: float = 15.0
    wrinkle_width_mm: float = 1.2
    wrinkle_depth: float = 0.12
    red_patch_radius_mm: float = 0.0
    red_patch_haemoglobin: float = 0.10
    red_patch_side: str = "any"
    n_lesions: int = 0
    lesion_diameter_mm: float = 3.0
    lesion_haemoglobin: float = 0.15
    shine_radius_mm: float = 0.0
    shine_strength: float = 0.35

    def __post_init__(self) -> None:
        if self.spacing_mm <= 0:
            raise ValueError(f"spacing_mm must be positive, got {self.spacing_mm!r}")
        if min(self.size_px) < 32:
            raise ValueError(f"size_px must be at least 32 x 32, got {self.size_px!r}")
        if self.red_patch_side not in ("any", "left"):
            raise ValueError(f"red_patch_side must be 'any' or 'left', got {self.red_patch_side!r}")


@dataclass(frozen=True, slots=True)
class Disk:
    """A drawn disk: centre (row, col) in px, diameter in mm."""

    row: float
    col: float
    diameter_mm: float


@dataclass(frozen=True, slots=True)
class Line:
    """A drawn line segment: end points in px, length and width (FWHM) in mm, kind."""

    r0: float
    c0: float
    r1: float
    c1: float
    length_mm: float
    width_mm: float
    kind: str  # "fine" | "wrinkle"


@dataclass(frozen=True, slots=True, eq=False)
class PhantomTruth:
    """What a phantom contains."""

    spacing_mm: float
    spots: tuple[Disk, ...] = ()
    pores: tuple[Disk, ...] = ()
    lines: tuple[Line, ...] = ()
    red_patch: Disk | None = None
    lesions: tuple[Disk, ...] = ()
    shine: Disk | None = None
    masks: Mapping[str, npt.NDArray[np.bool_]] = field(default_factory=dict)

    @property
    def fine_lines(self) -> tuple[Line, ...]:
        """The fine lines."""
        return tuple(ln for ln in self.lines if ln.kind == "fine")

    @property
    def wrinkles(self) -> tuple[Line, ...]:
        """The wrinkles."""
        return tuple(ln for ln in self.lines if ln.kind == "wrinkle")

    def area_pct(self, name: str) -> float:
        """Percentage of the image covered by truth mask *name*.

        Names: ``spots``, ``red_patch``, ``red`` (the patch plus the lesions' half-maximum
        disks), ``shine``.
        """
        m = self.masks[name]
        return 100.0 * float(m.mean())


@dataclass(frozen=True, slots=True, eq=False)
class Phantom:
    """An (H, W, 3) uint8 sRGB image, its spec and its truth."""

    image: npt.NDArray[np.uint8]
    spec: PhantomSpec
    truth: PhantomTruth


class _Placer:
    """Rejection sampling of non-overlapping circles."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int]) -> None:
        self.rng = rng
        self.shape = shape
        self.taken: list[tuple[float, float, float]] = []

    def place(
        self, radius_px: float, gap_px: float, cols: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        h, w = self.shape
        margin = radius_px + gap_px
        c_lo, c_hi = (
            (cols[0] + margin, cols[1] - margin) if cols is not None else (margin, w - margin)
        )
        for _ in range(2000):
            r = self.rng.uniform(margin, h - margin)
            c = self.rng.uniform(max(c_lo, margin), min(c_hi, w - margin))
            if all(
                math.hypot(r - r2, c - c2) > radius_px + rad2 + gap_px
                for r2, c2, rad2 in self.taken
            ):
                self.taken.append((r, c, radius_px))
                return r, c
        raise ValueError("phantom too crowded: enlarge size_px or draw fewer features")


_Win = tuple[slice, slice]


def _window(shape: tuple[int, int], r0: float, c0: float, r1: float, c1: float, pad: float) -> _Win:
    rows = slice(max(0, int(min(r0, r1) - pad)), min(shape[0], int(max(r0, r1) + pad) + 2))
    cols = slice(max(0, int(min(c0, c1) - pad)), min(shape[1], int(max(c0, c1) + pad) + 2))
    return rows, cols


def _grid(win: _Win) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    yy, xx = np.mgrid[win[0], win[1]].astype(np.float64)
    return yy, xx


def _disk(
    shape: tuple[int, int], r: float, c: float, radius: float
) -> tuple[_Win, npt.NDArray[np.float64]]:
    """Anti-aliased disk in [0, 1], in a window around it."""
    win = _window(shape, r, c, r, c, radius + 2)
    yy, xx = _grid(win)
    return win, np.clip(radius - np.hypot(yy - r, xx - c) + 0.5, 0.0, 1.0)


def _segment_distance(
    shape: tuple[int, int], r0: float, c0: float, r1: float, c1: float, pad: float
) -> tuple[_Win, npt.NDArray[np.float64]]:
    win = _window(shape, r0, c0, r1, c1, pad)
    yy, xx = _grid(win)
    dy, dx = r1 - r0, c1 - c0
    t = np.clip(((yy - r0) * dy + (xx - c0) * dx) / (dy * dy + dx * dx), 0.0, 1.0)
    return win, np.hypot(yy - (r0 + t * dy), xx - (c0 + t * dx))


def _texture(
    rng: np.random.Generator, shape: tuple[int, int], spacing_mm: float
) -> npt.NDArray[np.float64]:
    """Zero-mean unit-std noise band-limited to ~0.2-2 mm (difference of Gaussian blurs)."""
    white = rng.standard_normal(shape).astype(np.float32)
    s1 = max(0.1 / spacing_mm, 0.5)
    s2 = 1.0 / spacing_mm
    band = cv2.GaussianBlur(white, (0, 0), s1) - cv2.GaussianBlur(white, (0, 0), s2)
    out = band.astype(np.float64)
    norm: npt.NDArray[np.float64] = (out - out.mean()) / max(float(out.std()), 1e-9)
    return norm


def make_phantom(spec: PhantomSpec | None = None) -> Phantom:
    """Render a phantom from *spec* (defaults: plain skin). Deterministic for a given seed."""
    spec = spec or PhantomSpec()
    rng = np.random.default_rng(spec.seed)
    shape = spec.size_px
    h, w = shape
    px = 1.0 / spec.spacing_mm  # px per mm
    placer = _Placer(rng, shape)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)

    # smooth shading (a gentle gradient, like curvature under frontal light) in OD
    shading = 0.05 + 0.03 * (xx / w) + 0.02 * np.sin(math.pi * yy / h)
    melanin = np.full(shape, spec.melanin)
    haem = np.full(shape, spec.haemoglobin)
    masks: dict[str, npt.NDArray[np.bool_]] = {}

    red_patch = None
    if spec.red_patch_radius_mm > 0:
        rad = spec.red_patch_radius_mm * px
        cols = (0.0, w / 2.0) if spec.red_patch_side == "left" else None
        r, c = placer.place(rad, 3 * px, cols)
        win, prof = _disk(shape, r, c, rad)
        haem[win] += spec.red_patch_haemoglobin * prof
        masks["red_patch"] = np.zeros(shape, dtype=bool)
        masks["red_patch"][win] = prof >= 0.5
        red_patch = Disk(r, c, 2 * spec.red_patch_radius_mm)

    shine = None
    shine_prof = np.zeros(shape)
    if spec.shine_radius_mm > 0:
        rad = spec.shine_radius_mm * px
        r, c = placer.place(rad, 3 * px)
        win, prof = _disk(shape, r, c, rad)
        shine_prof[win] = prof
        masks["shine"] = shine_prof >= 0.5
        shine = Disk(r, c, 2 * spec.shine_radius_mm)

    lines: list[Line] = []
    line_od = np.zeros(shape)
    for kind, n, length, width, depth in (
        (
            "wrinkle",
            spec.n_wrinkles,
            spec.wrinkle_length_mm,
            spec.wrinkle_width_mm,
            spec.wrinkle_depth,
        ),
        ("fine", spec.n_fine_lines, spec.fine_length_mm, spec.fine_width_mm, spec.fine_depth),
    ):
        for _ in range(n):
            half = 0.5 * length * px
            r, c = placer.place(half + width * px, 2 * px)
            angle = rng.uniform(0, math.pi)
            dr, dc = half * math.sin(angle), half * math.cos(angle)
            r0, c0, r1, c1 = r - dr, c - dc, r + dr, c + dc
            sigma = width * px / (2 * math.sqrt(2 * math.log(2)))
            win, d = _segment_distance(shape, r0, c0, r1, c1, 5 * sigma + 2)
            line_od[win] = np.maximum(line_od[win], depth * np.exp(-0.5 * (d / sigma) ** 2))
            lines.append(Line(r0, c0, r1, c1, length, width, kind))

    spots: list[Disk] = []
    spot_mask = np.zeros(shape, dtype=bool)
    for _ in range(spec.n_spots):
        dia = rng.uniform(*spec.spot_diameter_mm)
        r, c = placer.place(0.5 * dia * px, 2 * px)
        win, prof = _disk(shape, r, c, 0.5 * dia * px)
        melanin[win] += spec.spot_melanin * prof
        spot_mask[win] |= prof >= 0.5
        spots.append(Disk(r, c, dia))
    if spec.n_spots:
        masks["spots"] = spot_mask

    lesions: list[Disk] = []
    lesion_mask = np.zeros(shape, dtype=bool)
    for _ in range(spec.n_lesions):
        rad = 0.5 * spec.lesion_diameter_mm * px
        r, c = placer.place(rad, 2 * px)
        sigma = rad / 1.5
        win = _window(shape, r, c, r, c, 5 * sigma)
        ly, lx = _grid(win)
        haem[win] += spec.lesion_haemoglobin * np.exp(
            -0.5 * ((ly - r) ** 2 + (lx - c) ** 2) / sigma**2
        )
        lesions.append(Disk(r, c, spec.lesion_diameter_mm))
        lesion_mask[win] |= np.hypot(ly - r, lx - c) <= 1.1774 * sigma  # half maximum

    if spec.n_lesions or red_patch is not None:
        masks["red"] = masks.get("red_patch", np.zeros(shape, dtype=bool)) | lesion_mask
    pores: list[Disk] = []
    pore_od = np.zeros(shape)
    for _ in range(spec.n_pores):
        dia = rng.uniform(*spec.pore_diameter_mm)
        r, c = placer.place(0.5 * dia * px, 1.0 * px)
        win, prof = _disk(shape, r, c, 0.5 * dia * px)
        pore_od[win] = np.maximum(pore_od[win], spec.pore_depth * prof)
        pores.append(Disk(r, c, dia))

    neutral = shading + line_od + pore_od
    if spec.texture > 0:
        neutral = neutral + spec.texture * _texture(rng, shape, spec.spacing_mm)
    mel = np.asarray(PHANTOM_MELANIN).reshape(3, 1, 1)
    hb = np.asarray(PHANTOM_HAEMOGLOBIN).reshape(3, 1, 1)
    od = neutral[None] + melanin[None] * mel + haem[None] * hb
    lin = np.power(10.0, -od)
    if shine is not None:
        base_y = float(np.mean(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]))
        lin = lin + spec.shine_strength * base_y * shine_prof[None]
    srgb = linear_to_srgb(torch.from_numpy(lin)).numpy()
    srgb = srgb + rng.normal(0.0, spec.noise, srgb.shape)
    image = np.clip(np.round(srgb * 255.0), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    truth = PhantomTruth(
        spacing_mm=spec.spacing_mm,
        spots=tuple(spots),
        pores=tuple(pores),
        lines=tuple(lines),
        red_patch=red_patch,
        lesions=tuple(lesions),
        shine=shine,
        masks=masks,
    )
    logger.debug(
        "phantom %dx%d: %d spots, %d pores, %d lines", h, w, len(spots), len(pores), len(lines)
    )
    return Phantom(np.ascontiguousarray(image), spec, truth)


def phantom_skin_image(
    phantom: Phantom,
    *,
    device: torch.device | str | None = None,
    regions: Mapping[str, npt.NDArray[np.bool_]] | None = None,
    spacing_known: bool = True,
) -> SkinImage:
    """Build the :class:`SkinImage` the pipeline would prepare for *phantom*.

    The whole phantom is skin. Regions default to ``{"skin": everything}``; extra regions
    (e.g. two halves standing in for zones) are intersected with the skin mask. No white
    balance is applied: the phantom is rendered white-balanced.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    rgb = srgb_to_linear(to_unit_float(phantom.image, dev))
    lab = linear_rgb_to_lab(rgb)
    h, w = phantom.image.shape[:2]
    skin = torch.ones((h, w), dtype=torch.bool, device=dev)
    reg: dict[str, torch.Tensor] = {"skin": skin}
    for name, m in (regions or {}).items():
        if m.shape != (h, w):
            raise ValueError(f"regions[{name!r}] must have shape {(h, w)}, got {m.shape}")
        reg[name] = torch.from_numpy(np.asarray(m, dtype=bool)).to(dev) & skin
    spacing = phantom.spec.spacing_mm
    return SkinImage(
        rgb_linear=rgb,
        lab=lab,
        skin=skin,
        regions=reg,
        spacing_mm=spacing if spacing_known else None,
        scale_mm=spacing,
    )


# --------------------------------------------------------------------------- real faces


@dataclass(frozen=True, slots=True)
class SoftSpot:
    """A soft-edged macule to draw into a real photo.

    Attributes
    ----------
    row, col
        Centre in source pixels.
    diameter_mm
        Full width at half maximum of the profile (the diameter a person would draw).
    amplitude
        Added optical density at the centre: melanin (``kind="brown"``) or haemoglobin
        (``kind="red"``), in red-channel / green-minus-red OD units.
    kind
        ``"brown"`` (a lentigo-like macule) or ``"red"`` (an inflamed papule-like macule).
    """

    row: float
    col: float
    diameter_mm: float
    amplitude: float
    kind: str = "brown"

    def __post_init__(self) -> None:
        if self.kind not in ("brown", "red"):
            raise ValueError(f"kind must be 'brown' or 'red', got {self.kind!r}")
        if self.diameter_mm <= 0:
            raise ValueError(f"diameter_mm must be positive, got {self.diameter_mm!r}")


@dataclass(frozen=True, slots=True)
class DrawnLine:
    """A neutral dark line (a wrinkle) to draw into a real photo.

    End points in source pixels; width is the FWHM of its Gaussian cross-section in mm;
    depth the added neutral optical density at its centre.
    """

    r0: float
    c0: float
    r1: float
    c1: float
    width_mm: float
    depth: float


#: Width of a soft spot's edge (raised-cosine ramp) as a fraction of its radius.
SOFT_EDGE = 0.6


def soft_profile(distance_px: npt.NDArray[np.float64], radius_px: float) -> npt.NDArray[np.float64]:
    """Soft disk profile: 1 inside, a raised-cosine ramp of width ``SOFT_EDGE * radius``
    centred on *radius_px* (so the half maximum is at the radius), 0 outside."""
    w = max(SOFT_EDGE * radius_px, 1.0)
    t = np.clip((distance_px - (radius_px - w / 2)) / w, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(math.pi * t))


def draw_on_photo(
    image: npt.NDArray[np.uint8],
    spacing_mm: float,
    *,
    spots: tuple[SoftSpot, ...] = (),
    lines: tuple[DrawnLine, ...] = (),
) -> npt.NDArray[np.uint8]:
    """Draw soft spots and lines into a real sRGB photo, in optical density.

    The photo is decoded to linear light; each feature adds optical density with the
    chromophore spectra of :data:`PHANTOM_MELANIN` / :data:`PHANTOM_HAEMOGLOBIN` (brown /
    red spots) or a neutral one (lines), so the skin's own texture, shading and noise stay
    under and around the feature, as in a real lentigo or papule. Only a window around each
    feature is touched. Returns a new uint8 image.
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError("image must be (H, W, 3) uint8")
    h, w = image.shape[:2]
    px = 1.0 / spacing_mm
    od_add = np.zeros((3, h, w), dtype=np.float64)
    touched = np.zeros((h, w), dtype=bool)
    for s in spots:
        rad = 0.5 * s.diameter_mm * px
        win = _window((h, w), s.row, s.col, s.row, s.col, rad * (1 + SOFT_EDGE) + 2)
        yy, xx = _grid(win)
        prof = soft_profile(np.hypot(yy - s.row, xx - s.col), rad)
        spec = PHANTOM_MELANIN if s.kind == "brown" else PHANTOM_HAEMOGLOBIN
        od_add[:, win[0], win[1]] += s.amplitude * prof[None] * np.asarray(spec).reshape(3, 1, 1)
        touched[win] = True
    for ln in lines:
        sigma = ln.width_mm * px / (2 * math.sqrt(2 * math.log(2)))
        win, d = _segment_distance((h, w), ln.r0, ln.c0, ln.r1, ln.c1, 4 * sigma + 2)
        od_add[:, win[0], win[1]] += ln.depth * np.exp(-0.5 * (d / sigma) ** 2)[None]
        touched[win] = True
    out = image.copy()
    if not touched.any():
        return out
    ys, xs = np.nonzero(touched)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = torch.from_numpy(np.ascontiguousarray(image[y0:y1, x0:x1]))
    lin = srgb_to_linear(crop.permute(2, 0, 1).to(torch.float64) / 255.0)
    lin = lin * torch.from_numpy(np.power(10.0, -od_add[:, y0:y1, x0:x1]))
    srgb = linear_to_srgb(lin.clamp(0.0, 1.0)).permute(1, 2, 0).numpy()
    out[y0:y1, x0:x1] = np.clip(np.round(srgb * 255.0), 0, 255).astype(np.uint8)
    return out


def free_positions(
    mask: npt.NDArray[np.bool_],
    n: int,
    radius_px: float,
    *,
    avoid: npt.NDArray[np.bool_] | None = None,
    seed: int = 0,
) -> list[tuple[float, float]]:
    """Up to *n* centres (row, col) whose whole disk of *radius_px* lies in *mask*, clear
    of *avoid* and of each other (rejection sampling, deterministic for a *seed*)."""
    rng = np.random.default_rng(seed)
    r = int(math.ceil(radius_px))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    ok = cv2.erode(mask.astype(np.uint8), kernel, borderValue=0).astype(bool)
    if avoid is not None:
        ok &= ~cv2.dilate(avoid.astype(np.uint8), kernel).astype(bool)
    out: list[tuple[float, float]] = []
    ys, xs = np.nonzero(ok)
    for _ in range(50 * max(n, 1)):
        if len(out) >= n or ys.size == 0:
            break
        i = int(rng.integers(ys.size))
        y, x = float(ys[i]), float(xs[i])
        if all(math.hypot(y - a, x - b) > 3 * radius_px for a, b in out):
            out.append((y, x))
    return out
