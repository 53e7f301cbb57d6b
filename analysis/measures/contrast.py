"""Perceptual colour difference against the local skin background (spots and red lesions).

A spot or lesion is what a person sees: a patch whose colour differs from the skin *around
it* by a clearly visible amount. This module measures that difference in CIEDE2000 units
(CIE 142-2001; formula and test data of Sharma, Wu & Dalal 2005) between each pixel (smoothed
a little, against sensor noise) and a local background (a masked Gaussian mean over the
surrounding skin, recomputed without the first-pass candidates so that a large spot does not
raise its own background), and splits it by cause with the chromophore unmixing
(:mod:`analysis.measures.chromophores`): a pixel whose optical density rose mostly through
melanin is *pigment*, mostly through haemoglobin *red*. Shading (the grey term) is neither,
so shadows and folds, which change lightness only, are not spots.

Thresholds (docs/methods/measures.md, "Visible difference"): the 50:50 perceptibility
threshold of CIEDE2000 for tissue colours is about 0.8 and the acceptability threshold about
1.8 (Paravina et al. 2015, on tooth and gingiva shades, the closest published panel data for
skin-like colours); a spot must reach :data:`VISIBLE_DE00` = 2.5 at its peak (above the
acceptability threshold: clearly visible, not merely perceptible) and is grown down to half
of that.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import torch

from analysis.color import linear_rgb_to_lab
from analysis.measures.base import SkinImage
from analysis.measures.binary import components, hysteresis
from analysis.measures.chromophores import HAEMOGLOBIN_OD, MELANIN_OD, unmix_chromophores
from analysis.measures.filters import gaussian_blur, inner_mask, masked_blur, max_filter

__all__ = [
    "VISIBLE_DE00",
    "LocalContrast",
    "ciede2000",
    "contrast_of",
    "dark_macules",
    "elongation",
    "fill_small_holes",
    "filled_regions",
    "local_contrast",
    "patch_difference",
    "patches",
    "ring_difference",
]

BoolArray = npt.NDArray[np.bool_]

#: Peak CIEDE2000 difference from the local background that makes a spot "clearly visible".
VISIBLE_DE00 = 2.0
#: CIEDE2000 from the skin right around a patch (its ring) that it must also reach.
RING_DE00 = 1.8
#: The ring starts RING_GAP x the patch's radius outside it (past a soft edge) and is
#: max(radius, RING_MM) wide.
RING_GAP = 0.3
RING_MM = 1.0
#: Candidates: chromophore excess (MI / EI units) that seeds a candidate and that it grows to.
CANDIDATE_STRONG = 3.0
CANDIDATE_WEAK = 1.5
#: Radius (mm) of the neighbourhood whose peak sets a patch's half-maximum cut.
PEAK_MM = 4.0
#: Fractions of the local peak at which candidates are cut: the first is the half maximum; a
#: patch too large, elongated or ragged at one level (a macule merged with its pigmented
#: surroundings) is cut again at the next (a component tree climbed only where needed).
CUT_LEVELS = (0.5, 0.6)
#: Largest elongation of a patch kept from a re-cut (above the first level).
RECUT_MAX_ELONGATION = 2.0
#: Smallest area / convex-hull area of a patch: macules are compact, JPEG-block and texture
#: noise is ragged.
MIN_SOLIDITY = 0.7
#: A patch's chromophore excess must be at least this times its grey (shading) excess.
SHADING_RATIO = 0.5
#: A *dark macule* (a dense naevus, a seborrhoeic keratosis, a lentigo whose melanin
#: darkens every channel) is judged on its colour as seen, without the shading match, when
#: it is compact and round: elongation and solidity limits, largest diameter (mm). A shadow
#: (the side of the nose, a fold, the curvature of the face) is elongated or larger.
DARK_MAX_ELONGATION = 1.6
DARK_MIN_SOLIDITY = 0.85
DARK_MAX_MM = 10.0
#: Dark-macule candidates: grey optical-density excess (x 100) that seeds and grows one. An
#: L* drop of ~2.5 on skin (L* ~ 65) is a luminance drop of ~11 %, ~5 OD x 100.
DARK_STRONG = 5.0
DARK_WEAK = 2.5
#: Fractions of the local peak at which dark candidates are cut, climbed while a patch is
#: too large or elongated (touching macules).
DARK_CUT_LEVELS = (0.5, 0.6, 0.7, 0.8)
#: Radius (mm) of the neighbourhood whose peak sets a dark candidate's half maximum: smaller
#: than :data:`PEAK_MM`, so a small naevus next to a darker one keeps its own half maximum
#: (a soft macule's edge still sees its own plateau within this radius).
DARK_PEAK_MM = 1.5
#: Without the chromatic evidence a dark macule must be clearly darker than the skin right
#: around it: at least this CIEDE2000 from its ring, and at least this fraction of its
#: difference from the background. A macule sits on skin like its surroundings, so both
#: differences are alike; a shading pocket (nostril rim, inner canthus, mouth corner) is the
#: darkest part of a darker area, so its ring is dark already.
DARK_RING_DE00 = 4.0
DARK_RING_FRACTION = 0.5
#: Smallest equivalent diameter of a dark macule in PIXELS: a dark dot only a few pixels
#: across is a sub-resolution feature (a beard-stubble follicle, a pore's shadow) blurred to
#: the size of the optics and the smoothing, whose size and colour cannot be measured. On a
#: 0.3 mm/px face photo a dark macule must be >= 1.8 mm; on a close-up the mm limit rules.
DARK_MIN_PX = 6.0
#: Every pixel of a dark macule at least this far (mm) from skin that the skin mask left out
#: (other than candidates): nostrils, eye corners, lip commissures are holes or rims of it.
DARK_CLEAR_MM = 1.5
#: Smoothing of the pixel colour (mm) and of the background (mm).
SMOOTH_MM = 0.25
BACKGROUND_MM = 5.0
#: Smoothing of the colour (chromophore) terms, mm: coarser than lightness (S-CIELAB).
CHROMA_MM = 0.75
#: Holes of the skin mask up to the area of a disk this wide (mm) are filled (macules).
HOLE_MM = 15.0


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference of two ``(3, ...)`` CIELAB tensors (kL = kC = kH = 1).

    Implements Sharma, Wu & Dalal (2005), eqs. 1-22, including the hue-angle conventions
    they test; the module's tests reproduce their 34 published pairs to 1e-4.
    """
    l1, a1, b1 = lab1[0], lab1[1], lab1[2]
    l2, a2, b2 = lab2[0], lab2[1], lab2[2]
    c1 = torch.sqrt(a1 * a1 + b1 * b1)
    c2 = torch.sqrt(a2 * a2 + b2 * b2)
    cbar7 = ((c1 + c2) / 2) ** 7
    g = 0.5 * (1 - torch.sqrt(cbar7 / (cbar7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p = torch.sqrt(a1p * a1p + b1 * b1)
    c2p = torch.sqrt(a2p * a2p + b2 * b2)
    h1p = torch.remainder(torch.atan2(b1, a1p), 2 * math.pi)
    h2p = torch.remainder(torch.atan2(b2, a2p), 2 * math.pi)
    h1p = torch.where(c1p == 0, torch.zeros_like(h1p), h1p)
    h2p = torch.where(c2p == 0, torch.zeros_like(h2p), h2p)
    dl = l2 - l1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = torch.where(dh > math.pi, dh - 2 * math.pi, dh)
    dh = torch.where(dh < -math.pi, dh + 2 * math.pi, dh)
    zero_c = (c1p * c2p) == 0
    dh = torch.where(zero_c, torch.zeros_like(dh), dh)
    dhh = 2 * torch.sqrt(c1p * c2p) * torch.sin(dh / 2)
    lbar = (l1 + l2) / 2
    cbarp = (c1p + c2p) / 2
    hsum = h1p + h2p
    hbar = torch.where(
        (h1p - h2p).abs() <= math.pi,
        hsum / 2,
        torch.where(hsum < 2 * math.pi, (hsum + 2 * math.pi) / 2, (hsum - 2 * math.pi) / 2),
    )
    hbar = torch.where(zero_c, hsum, hbar)
    t = (
        1
        - 0.17 * torch.cos(hbar - math.radians(30))
        + 0.24 * torch.cos(2 * hbar)
        + 0.32 * torch.cos(3 * hbar + math.radians(6))
        - 0.20 * torch.cos(4 * hbar - math.radians(63))
    )
    dtheta = math.radians(30) * torch.exp(-(((torch.rad2deg(hbar) - 275) / 25) ** 2))
    cbarp7 = cbarp**7
    rc = 2 * torch.sqrt(cbarp7 / (cbarp7 + 25.0**7))
    lm = (lbar - 50) ** 2
    sl = 1 + 0.015 * lm / torch.sqrt(20 + lm)
    sc = 1 + 0.045 * cbarp
    sh = 1 + 0.015 * cbarp * t
    rt = -torch.sin(2 * dtheta) * rc
    tl, tc, th = dl / sl, dc / sc, dhh / sh
    return torch.sqrt((tl * tl + tc * tc + th * th + rt * tc * th).clamp(min=0))


@dataclass(frozen=True, slots=True, eq=False)
class LocalContrast:
    """A photo's colour and its local skin background (all on the device).

    Attributes
    ----------
    smooth, background
        (3, H, W) linear RGB smoothed at :data:`SMOOTH_MM`, and its local background.
    melanin, haemoglobin
        (H, W) excess over the background of the unmixed chromophores (x 100: MI / EI
        units); 0 outside the skin. They propose candidates; the decision is perceptual.
    darkening
        (H, W) excess of the grey (shading) term over the background's, x 100 optical
        density; 0 outside the skin. It proposes dark macules (:func:`dark_macules`).
    skin_given
        (H, W) bool: the skin mask as given, before its small holes were filled (the
        nostrils, the landmark exclusions and strong macules are holes in it).
    skin
        (H, W) bool: the skin mask with its small holes filled (:func:`fill_small_holes`).
    """

    smooth: torch.Tensor
    background: torch.Tensor
    melanin: torch.Tensor
    haemoglobin: torch.Tensor
    skin: torch.Tensor
    darkening: torch.Tensor
    skin_given: torch.Tensor


def local_contrast(
    rgb_linear: torch.Tensor,
    skin: torch.Tensor,
    scale_mm: float,
    *,
    smooth_mm: float = SMOOTH_MM,
    background_mm: float = BACKGROUND_MM,
    chroma_mm: float = CHROMA_MM,
) -> LocalContrast:
    """Colour, local background and chromophore excess of each skin pixel.

    Parameters
    ----------
    rgb_linear
        (3, H, W) linear, white-balanced RGB.
    skin
        (H, W) bool skin mask: the background is estimated over it only.
    scale_mm
        mm per pixel (sizes the smoothing and the background window).
    """
    px = 1.0 / scale_mm
    given = skin.to(torch.bool)
    skin = fill_small_holes(given, math.pi * (HOLE_MM * px / 2) ** 2)
    rgb = rgb_linear.to(torch.float32).clamp(min=1e-4)
    smooth = masked_blur(rgb, skin, max(smooth_mm * px, 0.5))
    # colour at a coarser scale than lightness, as the eye sees it (S-CIELAB, Zhang & Wandell
    # 1996) and because camera JPEGs carry colour in 8 x 8 DCT blocks at half resolution: the
    # chromophore terms are smoothed at CHROMA_MM, the grey (lightness) term is not
    s, m, h = unmix_chromophores(smooth)
    ch = masked_blur(torch.stack((m, h)), skin, max(chroma_mm * px, smooth_mm * px, 0.5))
    od = s.unsqueeze(0) + ch[0].unsqueeze(0) * _spectrum(MELANIN_OD, s)
    od = od + ch[1].unsqueeze(0) * _spectrum(HAEMOGLOBIN_OD, s)
    smooth = torch.pow(10.0, -od)
    b_sig = background_mm * px
    bg = masked_blur(smooth, skin, b_sig)
    s1, m1, h1 = unmix_chromophores(smooth)
    s0, m0, h0 = unmix_chromophores(bg)
    excess = 100.0 * torch.maximum(m1 - m0, h1 - h0)
    # second pass: the background without the first-pass candidates (dilated ~1 mm)
    first = (excess >= CANDIDATE_WEAK) & skin
    clean = skin & ~(gaussian_blur(first.float(), 1.0 * px) > 0.05)
    if int(clean.sum().item()) > 0.2 * max(1, int(skin.sum().item())):
        bg = masked_blur(smooth, clean, b_sig)
        s0, m0, h0 = unmix_chromophores(bg)
    zero = torch.zeros_like(m1)
    return LocalContrast(
        smooth=smooth,
        background=bg,
        melanin=torch.where(skin, 100.0 * (m1 - m0), zero),
        haemoglobin=torch.where(skin, 100.0 * (h1 - h0), zero),
        skin=skin,
        darkening=torch.where(skin, 100.0 * (s1 - s0), zero),
        skin_given=given,
    )


def filled_regions(img: SkinImage) -> dict[str, BoolArray]:
    """The regions of *img* (NumPy) with their small holes filled, to count macules in.

    A region mask is intersected with the skin mask, which leaves strong macules out
    (:func:`fill_small_holes`); a macule counts in the region that holds its centre.
    """
    with _FILLED_LOCK:  # computed once per image (spots and red lesions both count in it)
        got = _FILLED.get(img)
        if got is None:
            area = math.pi * (HOLE_MM / img.scale_mm / 2) ** 2
            got = {
                name: fill_small_holes(m.to(torch.bool), area).cpu().numpy()
                for name, m in img.regions.items()
            }
            _FILLED[img] = got
        return got


_FILLED: weakref.WeakKeyDictionary[SkinImage, dict[str, BoolArray]] = weakref.WeakKeyDictionary()
_FILLED_LOCK = threading.Lock()


def fill_small_holes(skin: torch.Tensor, max_area_px: float) -> torch.Tensor:
    """*skin* with its holes (non-skin components not touching the border) of at most
    *max_area_px* pixels filled.

    The skin colour model leaves a strongly pigmented or red macule out of the skin mask;
    it is exactly what is to be found, so it must be skin here. Eyes, lips and brows are
    larger than the largest spot and stay out; nostrils are dark through shading, which the
    decision rejects (:data:`SHADING_RATIO`).
    """
    m = skin.detach().cpu().numpy().astype(bool)
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        return skin
    # only the mask's bounding box, framed by one pixel of non-mask that stands for everything
    # outside it: a non-mask component reaching the box's edge reaches that frame, as in the
    # whole image it reaches the image border or the outside of the mask (the same holes)
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = np.pad(m[y0:y1, x0:x1], 1)
    labels, stats, _ = components(~crop)
    h, w = crop.shape
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    inner = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    fill = inner & (area <= max_area_px)
    fill[0] = False
    if not fill.any():
        return skin
    out = m.copy()
    out[y0:y1, x0:x1] |= fill[labels[1:-1, 1:-1]]
    return torch.from_numpy(out).to(skin.device)


def _spectrum(spec: tuple[float, float, float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(spec, dtype=like.dtype, device=like.device).view(3, 1, 1)


_CACHE: weakref.WeakKeyDictionary[SkinImage, LocalContrast] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def contrast_of(img: SkinImage) -> LocalContrast:
    """:func:`local_contrast` of *img*, computed once per image and shared by the measures
    that need it (brown spots and red lesions run concurrently; the second waits and reuses)."""
    with _CACHE_LOCK:
        lc = _CACHE.get(img)
        if lc is None:
            lc = local_contrast(img.rgb_linear, img.skin, img.scale_mm)
            _CACHE[img] = lc
        return lc


def patch_difference(
    lc: LocalContrast, labels: npt.NDArray[np.int32], n: int, *, match_shading: bool = True
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Per labelled patch: CIEDE2000 of its mean colour against its background's, and its
    mean melanin, haemoglobin and shading (grey) excess, x 100 (index 0 unused).

    The means are taken over the patch's pixels (which averages out sensor and JPEG chroma
    noise, as the eye does over a spot). The background's mean is first brought to the
    patch's own shading (the grey term of the unmixing: a grey optical density scales the
    three linear channels alike), so light falling off over the face's curvature, folds and
    the side of the nose do not count: only a change of the skin's own colour does.
    With *match_shading* False the background is taken as it is (a darkening counts too).
    """
    flat = labels.ravel()
    idx = np.flatnonzero(flat)  # only the labelled pixels (a few per cent of a face)
    lab = flat[idx]
    cnt = np.bincount(lab, minlength=n + 1).astype(np.float64).clip(min=1)

    def means(x: torch.Tensor) -> npt.NDArray[np.float64]:
        arr = x.detach().cpu().numpy().reshape(x.shape[0], -1)[:, idx].astype(np.float64)
        return np.stack([np.bincount(lab, a, n + 1) / cnt for a in arr]).astype(np.float32)

    fg = torch.from_numpy(means(lc.smooth)).clamp(min=1e-4)[:, :, None]
    bg = torch.from_numpy(means(lc.background)).clamp(min=1e-4)[:, :, None]
    s1, m1, h1 = unmix_chromophores(fg)
    s0, m0, h0 = unmix_chromophores(bg)
    shaded = bg * torch.pow(10.0, -(s1 - s0)).unsqueeze(0) if match_shading else bg
    de = ciede2000(linear_rgb_to_lab(fg.clamp(0.0, 1.0)), linear_rgb_to_lab(shaded.clamp(0.0, 1.0)))
    return (
        de[:, 0].numpy().astype(np.float64),
        (100.0 * (m1 - m0))[:, 0].numpy().astype(np.float64),
        (100.0 * (h1 - h0))[:, 0].numpy().astype(np.float64),
        (100.0 * (s1 - s0))[:, 0].numpy().astype(np.float64),
    )


def ring_difference(
    lc: LocalContrast,
    labels: npt.NDArray[np.int32],
    n: int,
    taken: BoolArray,
    scale_mm: float,
    *,
    match_shading: bool = True,
) -> npt.NDArray[np.float64]:
    """Per labelled patch: CIEDE2000 of its mean colour against the mean colour of the skin
    in a ring around it (index 0 unused).

    The ring of a patch of equivalent radius ``R`` lies between ``RING_GAP * R + 1 px`` and
    that plus ``max(R, RING_MM)`` from the patch (outside its soft edge), over skin pixels
    that are in no patch (*taken*) and nearer to this patch than to any other. The ring's
    mean is brought to the patch's shading, as in :func:`patch_difference` (unless
    *match_shading* is False).
    """
    free = (labels == 0).astype(np.uint8)
    dist, near = cv2.distanceTransformWithLabels(
        free, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # the label of the nearest patch pixel, through the index of that zero pixel
    flat = labels.ravel()
    zeros = np.flatnonzero(flat)  # the patch pixels
    near_flat = np.asarray(near).ravel()
    lut = np.zeros(int(near_flat[zeros].max()) + 1 if zeros.size else 1, dtype=np.int32)
    order = np.argsort(near_flat[zeros], kind="stable")
    lut[near_flat[zeros][order]] = flat[zeros][order]
    area = np.bincount(flat, minlength=n + 1).astype(np.float64)
    rad = np.sqrt(area / math.pi)
    gap = RING_GAP * rad + 1.0
    outer = gap + np.maximum(rad, RING_MM / scale_mm)
    # only the pixels within the widest ring's reach are looked at (a band around the patches)
    d_flat = dist.ravel()
    cand = np.flatnonzero(d_flat <= outer[1:].max()) if n > 0 else np.zeros(0, np.int64)
    owner = lut[near_flat[cand]]
    d_own = d_flat[cand]
    skin = lc.skin.detach().cpu().numpy().astype(bool).ravel()
    ok = (owner > 0) & (d_own > gap[owner]) & (d_own <= outer[owner])
    ok &= skin[cand] & ~taken.ravel()[cand]
    ring_idx, ring_lab = cand[ok], owner[ok]
    smooth = lc.smooth.detach().cpu().numpy().reshape(3, -1)

    def means(
        idx: npt.NDArray[np.int64], lab: npt.NDArray[np.int32]
    ) -> tuple[torch.Tensor, npt.NDArray[np.float64]]:
        cnt = np.bincount(lab, minlength=n + 1).astype(np.float64)
        arr = smooth[:, idx].astype(np.float64)
        m = np.stack([np.bincount(lab, a, n + 1) / cnt.clip(min=1) for a in arr])
        return torch.from_numpy(m.astype(np.float32)).clamp(min=1e-4)[:, :, None], cnt

    (fg, _), (bg, cnt_r) = means(zeros, flat[zeros]), means(ring_idx, ring_lab)
    s1, _, _ = unmix_chromophores(fg)
    s0, _, _ = unmix_chromophores(bg)
    shaded = bg * torch.pow(10.0, -(s1 - s0)).unsqueeze(0) if match_shading else bg
    de = ciede2000(linear_rgb_to_lab(fg.clamp(0.0, 1.0)), linear_rgb_to_lab(shaded.clamp(0.0, 1.0)))
    out = de[:, 0].numpy().astype(np.float64)
    # no ring (a patch filling its surroundings): not judged here
    out[cnt_r < 4] = np.inf
    return out


def elongation(labels: npt.NDArray[np.int32], n: int) -> npt.NDArray[np.float64]:
    """Major/minor axis ratio of each labelled component from its second moments."""
    flat = labels.ravel()
    sel = np.flatnonzero(flat)
    rows_i, cols_i = np.divmod(sel, labels.shape[1])
    lab, rows, cols = flat[sel], rows_i.astype(np.float64), cols_i.astype(np.float64)
    cnt = np.bincount(lab, minlength=n + 1).astype(np.float64).clip(min=1)
    mr = np.bincount(lab, rows, n + 1) / cnt
    mc = np.bincount(lab, cols, n + 1) / cnt
    dr, dc = rows - mr[lab], cols - mc[lab]
    srr = np.bincount(lab, dr * dr, n + 1) / cnt + 1 / 12
    scc = np.bincount(lab, dc * dc, n + 1) / cnt + 1 / 12
    src = np.bincount(lab, dr * dc, n + 1) / cnt
    root = np.sqrt((srr - scc) ** 2 + 4 * src**2)
    big = 0.5 * (srr + scc + root)
    small = (0.5 * (srr + scc - root)).clip(min=1e-6)
    return np.asarray(np.sqrt(big / small))


@dataclass(frozen=True, slots=True, eq=False)
class _Cut:
    """The patches of one cut level (:func:`patches`, :func:`dark_macules`)."""

    labels: npt.NDArray[np.int32]
    stats: npt.NDArray[np.int32]
    n: int
    dia_mm: npt.NDArray[np.float64]  # equivalent diameter, per label
    elong: npt.NDArray[np.float64]  # :func:`elongation`, per label
    climb: npt.NDArray[np.bool_]  # too large or too elongated: cut again higher up
    centre_inside: npt.NDArray[np.bool_]  # its centroid's pixel is in *inner*

    @staticmethod
    def of(
        core: BoolArray, scale_mm: float, max_mm: float, max_elongation: float, inner: BoolArray
    ) -> _Cut | None:
        """The components of *core* (None when there are none)."""
        labels, stats, cents = components(core)
        n = int(labels.max())
        if n == 0:
            return None
        dia_mm = 2.0 * np.sqrt(stats[:, 4].astype(np.float64) / math.pi) * scale_mm
        elong = elongation(labels, n)
        cr = np.clip(np.round(cents[:, 1]).astype(int), 0, labels.shape[0] - 1)
        cc = np.clip(np.round(cents[:, 0]).astype(int), 0, labels.shape[1] - 1)
        climb = (dia_mm > max_mm) | (elong > max_elongation)
        return _Cut(labels, stats, n, dia_mm, elong, climb, inner[cr, cc])


def _solidity(labels: npt.NDArray[np.int32], stat: npt.NDArray[np.int32], i: int) -> float:
    """Area / convex-hull area of component *i* (1 for a convex blob, low for a ragged one)."""
    x, y, w, h, area = (int(v) for v in stat[:5])
    sub = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
    pts = cv2.findNonZero(sub)
    if pts is None or area < 3:
        return 1.0
    hull = (
        float(cv2.contourArea(cv2.convexHull(pts)))
        + 0.5 * float(cv2.arcLength(cv2.convexHull(pts), True))
        + 1.0
    )
    return min(1.0, area / hull)


def patches(
    lc: LocalContrast,
    kind: str,
    scale_mm: float,
    *,
    diameter_mm: tuple[float, float],
    max_elongation: float,
    edge_mm: float,
    visible: float = VISIBLE_DE00,
    ring_visible: float = RING_DE00,
) -> BoolArray:
    """Visible patches of one *kind* (``"pigment"`` or ``"red"``) as an (H, W) bool mask.

    Candidates: the chromophore excess (melanin for pigment, haemoglobin for red) seeds at
    :data:`CANDIDATE_STRONG` and grows (hysteresis, 8-connected) down to
    :data:`CANDIDATE_WEAK`; each candidate is cut at half of its local peak excess (the
    maximum within :data:`PEAK_MM`: full width at half maximum, so its area does not depend
    on its contrast, and neighbouring macules stay apart). Kept: equivalent diameter
    within *diameter_mm*, elongation (moment axis ratio) <= *max_elongation* (lines are
    wrinkles), centroid at least *edge_mm* inside the skin mask (at the hairline, eyelids,
    nostrils and lips the background is one-sided), and -- the decision -- a mean colour
    at least *visible* CIEDE2000 from its shading-matched background
    (:func:`patch_difference`) and at least *ring_visible* from the skin ring around it
    (:func:`ring_difference`), with that chromophore's excess the larger of the two and at
    least :data:`SHADING_RATIO` times the grey (shading) excess. A candidate too large,
    elongated or ragged at the half maximum is cut again at the next of
    :data:`CUT_LEVELS` and judged again.
    """
    if kind not in ("pigment", "red"):
        raise ValueError(f"kind must be 'pigment' or 'red', got {kind!r}")
    skin = lc.skin
    ex_t = lc.melanin if kind == "pigment" else lc.haemoglobin
    ex = ex_t.cpu().numpy()
    cand = hysteresis(ex >= CANDIDATE_WEAK, ex >= CANDIDATE_STRONG)
    out = np.zeros(ex.shape, dtype=bool)
    if not cand.any():
        return out
    # half of the *local* peak (the maximum within PEAK_MM): two macules joined by a mildly
    # red or brown area are cut apart instead of being judged as one ragged patch
    r = max(1, int(round(PEAK_MM / scale_mm)))
    peak = max_filter(ex_t.to(torch.float32), 2 * r + 1).cpu().numpy()
    inner = inner_mask(skin.to(torch.bool), edge_mm / scale_mm).cpu().numpy()
    todo = cand
    for frac in CUT_LEVELS:
        # too large, elongated or ragged: a macule merged with pigmented surroundings (or
        # a neighbour); it is cut again at the next, higher fraction of its peak
        core = todo & (ex >= frac * peak)
        cut = _Cut.of(core, scale_mm, diameter_mm[1], max_elongation, inner)
        if cut is None:
            break
        labels, stats, n, climb = cut.labels, cut.stats, cut.n, cut.climb
        keep = (cut.dia_mm >= diameter_mm[0]) & ~climb & cut.centre_inside
        if frac > CUT_LEVELS[0]:
            # a piece cut out of a larger patch must be a compact macule: pieces of the
            # shading along the nose or a fold stay elongated
            keep &= cut.elong <= min(max_elongation, RECUT_MAX_ELONGATION)
        keep[0] = climb[0] = False
        for i in np.nonzero(keep)[0]:
            if _solidity(labels, stats[i], int(i)) < MIN_SOLIDITY:
                keep[i], climb[i] = False, True
        if keep.any():
            de, mel, hb, shade = patch_difference(
                lc, np.where(keep[labels], labels, 0).astype(np.int32), n
            )
            mine, other = (mel, hb) if kind == "pigment" else (hb, mel)
            keep &= (de >= visible) & (mine > 0) & (mine >= other)
            # ... and visible against the skin right around it: a piece of a larger
            # pigmented area is not a spot
            keep &= ring_difference(lc, labels, n, core, scale_mm) >= ring_visible
            # a shadow (nose side wall, fold) darkens mostly through the grey term
            keep &= mine >= SHADING_RATIO * shade
            keep[0] = False
            out |= keep[labels]
        todo = climb[labels]
        if not todo.any():
            break
    return out


def dark_macules(
    lc: LocalContrast,
    scale_mm: float,
    *,
    diameter_mm: tuple[float, float],
    edge_mm: float,
    visible: float = VISIBLE_DE00,
    ring_visible: float = RING_DE00,
    exclude: BoolArray | None = None,
) -> BoolArray:
    """Dark macules: compact, round patches darker than the skin all around them, whose
    darkening is mostly grey (an (H, W) bool mask).

    :func:`patches` judges a patch against its *shading-matched* background, which removes
    whatever darkens the three channels alike: right for a shadow, but a dense naevus, a
    seborrhoeic keratosis or a lentigo whose melanin saturates also darkens every channel and
    is a spot a person sees. Candidates grow from the grey excess (:data:`DARK_STRONG` down
    to :data:`DARK_WEAK`), are cut at half their local peak (within :data:`DARK_PEAK_MM`),
    and cut again higher (:data:`DARK_CUT_LEVELS`) while too large or elongated; they
    are kept when their grey excess is at least their melanin and haemoglobin excess
    (the chromatic ones are the other paths'), their equivalent diameter is within
    ``(max(diameter_mm[0], DARK_MIN_PX pixels), min(diameter_mm[1], DARK_MAX_MM))``, they
    are round and solid (:data:`DARK_MAX_ELONGATION`, :data:`DARK_MIN_SOLIDITY`), their
    centre is *edge_mm* inside the skin, they stand clear of what the given skin mask left
    out (:func:`_clear`: a nostril, an eye corner; a naevus the skin model left out is its
    own hole), and their colour *as seen* (no shading match) is at least *visible*
    CIEDE2000 from the background and, from the skin ring around them, at least
    :data:`DARK_RING_DE00` (and *ring_visible*) and :data:`DARK_RING_FRACTION` of that. A
    shadow on a face (a fold, the side of the nose, the curvature) is elongated or wide,
    never a small round disc darker than the skin on every side. *exclude*: pixels already
    taken (patches found by :func:`patches`).
    """
    ex_t = lc.darkening
    ex = ex_t.cpu().numpy()
    cand = hysteresis(ex >= DARK_WEAK, ex >= DARK_STRONG)
    if exclude is not None:
        cand &= ~exclude
    out = np.zeros(ex.shape, dtype=bool)
    if not cand.any():
        return out
    holes, hole_stats, _ = components(~lc.skin_given.cpu().numpy().astype(bool))
    r = max(1, int(round(DARK_PEAK_MM / scale_mm)))
    peak = max_filter(ex_t.to(torch.float32), 2 * r + 1).cpu().numpy()
    inner = inner_mask(lc.skin.to(torch.bool), edge_mm / scale_mm).cpu().numpy()
    todo = cand
    for frac in DARK_CUT_LEVELS:
        core = todo & (ex >= frac * peak)
        # two touching macules make one elongated patch: cut it again higher up
        cut = _Cut.of(core, scale_mm, min(diameter_mm[1], DARK_MAX_MM), DARK_MAX_ELONGATION, inner)
        if cut is None:
            break
        labels, stats, n, climb = cut.labels, cut.stats, cut.n, cut.climb
        sel = (cut.dia_mm >= max(diameter_mm[0], DARK_MIN_PX * scale_mm)) & ~climb
        sel &= cut.centre_inside
        sel[0] = climb[0] = False
        for i in np.nonzero(sel)[0]:
            if _solidity(labels, stats[i], int(i)) < DARK_MIN_SOLIDITY or not _clear(
                labels, stats[i], int(i), holes, hole_stats, scale_mm
            ):
                sel[i] = False
        if sel.any():
            only = np.where(sel[labels], labels, 0).astype(np.int32)
            de, mel, hb, shade = patch_difference(lc, only, n, match_shading=False)
            sel &= (shade > 0) & (shade >= mel) & (shade >= hb) & (de >= visible)
        if sel.any():
            taken = core if exclude is None else core | exclude
            ring = ring_difference(lc, labels, n, taken, scale_mm, match_shading=False)
            sel &= (ring >= max(ring_visible, DARK_RING_DE00)) & (ring >= DARK_RING_FRACTION * de)
            sel[0] = False
            out |= sel[labels]
        todo = climb[labels]
        if not todo.any():
            break
    return out


def _clear(
    labels: npt.NDArray[np.int32],
    stat: npt.NDArray[np.int32],
    i: int,
    holes: npt.NDArray[np.int32],
    hole_stats: npt.NDArray[np.int32],
    scale_mm: float,
) -> bool:
    """Whether patch *i* stands clear of what the given skin mask left out: every hole of
    the mask within :data:`DARK_CLEAR_MM` of it lies wholly within that distance (the
    macule's own hole, when the skin model left a strong naevus out). A dark core in a
    nostril, at an eye corner or a lip commissure has the rest of that larger hole beside it.
    """
    pad = int(math.ceil(DARK_CLEAR_MM / scale_mm)) + 1
    x, y, w, h = (int(v) for v in stat[:4])
    y0, x0 = max(0, y - pad), max(0, x - pad)
    y1, x1 = min(labels.shape[0], y + h + pad), min(labels.shape[1], x + w + pad)
    own = (labels[y0:y1, x0:x1] == i).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pad - 1, 2 * pad - 1))
    near = cv2.dilate(own, k).astype(bool)
    sub = holes[y0:y1, x0:x1]
    ids, inside = np.unique(sub[near & (sub > 0)], return_counts=True)
    return bool(np.all(inside == hole_stats[ids, 4]))
