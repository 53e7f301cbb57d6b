"""Image filters and region helpers shared by the concern measures.

Every filter is written in PyTorch on ``(H, W)`` or ``(B, H, W)`` float32 tensors and runs on
the tensor's device (CPU or CUDA) with the same arithmetic, so results agree to float
rounding. Steps that are inherently sequential and cheap (connected components, thinning)
run on the CPU in NumPy/OpenCV after thresholding.

Methods
-------
* Gaussian smoothing is separable with a kernel truncated at 3 sigma and replicated borders.
  Large scales (sigma > 6 px; Hessians: > 4 px) are computed on an area-decimated image
  (factor 2^k so that the residual sigma stays >= 3 px; Hessians >= 2 px) and upsampled
  bilinearly: a documented approximation that keeps every blur O(pixels). Blob searches
  whose smallest scale is >= 2 px run on a decimated image as a whole.
* Masked (normalised) convolution ``blur(x * m) / blur(m)`` estimates a local background from
  skin pixels only (Knutsson & Westin 1993).
* Hessians use central differences of the smoothed image and Lindeberg's scale
  normalisation ``sigma^2 * d2`` (Lindeberg 1998, gamma = 1 for blobs and widths), so
  responses at different scales are comparable: a Gaussian blob of depth A gives A/2 at its
  own scale, a Gaussian line of depth A gives 0.385 A at ``sigma = sqrt(2) * sigma_line``.
* Ridge/valley strength is Frangi et al. (1998) vesselness with the structure term in
  absolute units (``c`` given in the image's units, not relative to the image maximum), so a
  threshold means the same contrast on every photo.
* Thinning is Zhang & Suen (1984); skeleton length counts 4-neighbour links as 1 and
  diagonal links not already bridged by a 4-path as sqrt(2) (Freeman chain-code length).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812

from analysis.keys import key_info
from analysis.measures.base import SkinImage
from analysis.types import Measurement

__all__ = [
    "Blobs",
    "RegionInfo",
    "blob_detect",
    "components",
    "disk_mask",
    "frangi_valley",
    "gaussian_blur",
    "hessian",
    "hysteresis",
    "inner_mask",
    "masked_blur",
    "max_filter",
    "measurement",
    "optical_density",
    "region_fraction",
    "region_items",
    "region_mean",
    "scale_series",
    "skeleton_length_map",
    "thin",
    "unmix_chromophores",
]

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
_TRUNCATE = 3.0
#: Use OpenCV for CPU blurs (tests switch it off to compare with the PyTorch path).
_USE_OPENCV = True
_DECIMATE_ABOVE = 6.0
#: Derivatives need less residual smoothing than blurs: decimate once sigma / f >= 2 px.
_HESSIAN_MIN_LOW = 2.0


# --------------------------------------------------------------------------- smoothing


def _as_batch(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    shape = tuple(x.shape)
    if x.ndim < 2:
        raise ValueError(f"x must be (H, W) or (B, H, W), got shape {shape}")
    return x.reshape(-1, 1, shape[-2], shape[-1]).to(torch.float32), shape


def _kernel1d(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, int(math.ceil(_TRUNCATE * sigma)))
    t = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _blur_nchw(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian of a (N, 1, H, W) tensor at the same resolution.

    On the CPU the same kernel is applied by OpenCV's ``sepFilter2D`` (several times faster
    than ``conv2d`` with one channel); on other devices by shifted multiply-adds in float32
    (see :func:`_blur_torch`). Both use replicated borders, so the two paths agree to float
    rounding.
    """
    if sigma <= 0.0:
        return x
    k = _kernel1d(sigma, x.device)
    if x.device.type == "cpu" and _USE_OPENCV:
        return _blur_cv2(x, k)
    return _blur_torch(x, k)


def _blur_cv2(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    kn = k.numpy().astype(np.float32)
    xn = np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)
    out = np.empty_like(xn)
    for i in range(xn.shape[0]):
        out[i, 0] = cv2.sepFilter2D(xn[i, 0], cv2.CV_32F, kn, kn, borderType=cv2.BORDER_REPLICATE)
    return torch.from_numpy(out)


def _blur_torch(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable convolution by shifted multiply-adds in plain float32.

    Not ``conv2d``: on recent GPUs cuDNN convolutions default to TF32 (10-bit mantissa),
    which would make CUDA results differ from the CPU's beyond float rounding.
    """
    r = (k.numel() - 1) // 2
    taps = [float(v) for v in k.cpu()]
    h, w = x.shape[-2:]
    p = F.pad(x, (r, r, 0, 0), mode="replicate")
    y = p[..., :, 0:w] * taps[0]
    for i in range(1, len(taps)):
        y = y + p[..., :, i : i + w] * taps[i]
    p = F.pad(y, (0, 0, r, r), mode="replicate")
    out = p[..., 0:h, :] * taps[0]
    for i in range(1, len(taps)):
        out = out + p[..., i : i + h, :] * taps[i]
    return out


def _decimation(sigma: float, min_low: float = _DECIMATE_ABOVE / 2) -> int:
    """Largest power of two f with sigma / f >= min_low (1 below _DECIMATE_ABOVE)."""
    f = 1
    while sigma / (2 * f) >= min_low and sigma > 2 * min_low:
        f *= 2
    return f


def _blur_low(
    x: torch.Tensor, sigma: float, min_low: float = _DECIMATE_ABOVE / 2
) -> tuple[torch.Tensor, int]:
    """Blur (N, 1, H, W) at *sigma* px; return the result at 1/f resolution and f."""
    f = _decimation(sigma, min_low)
    if f == 1:
        return _blur_nchw(x, sigma), 1
    h, w = x.shape[-2:]
    ph, pw = (-h) % f, (-w) % f
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    low = F.avg_pool2d(x, f)
    # a box of width f has variance (f^2 - 1) / 12 in full-resolution pixels
    residual = math.sqrt(max(sigma**2 - (f * f - 1) / 12.0, 0.25)) / f
    return _blur_nchw(low, residual), f


def _upsample(low: torch.Tensor, f: int, size: tuple[int, int]) -> torch.Tensor:
    if f == 1:
        return low
    up = F.interpolate(low, scale_factor=float(f), mode="bilinear", align_corners=False)
    return up[..., : size[0], : size[1]]


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing of an (H, W) or (B, H, W) tensor; *sigma* in pixels."""
    xb, shape = _as_batch(x)
    low, f = _blur_low(xb, sigma)
    return _upsample(low, f, (shape[-2], shape[-1])).reshape(shape)


def masked_blur(x: torch.Tensor, mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Normalised convolution: the Gaussian-weighted mean of *x* over *mask* pixels.

    *x* may be (H, W) or (B, H, W) (several maps share one blurred mask). Pixels far from
    any mask pixel get the mean of *x* over the mask.
    """
    m = mask.to(torch.float32)
    num = gaussian_blur(x * m, sigma)
    den = gaussian_blur(m, sigma)
    far = den <= 1e-3
    out = num / den.clamp(min=1e-3)
    if bool(far.any()):
        total = m.sum().clamp(min=1.0)
        fallback = (x * m).flatten(-2).sum(-1) / total
        fallback = fallback.reshape(*fallback.shape, 1, 1).expand_as(x)
        out = torch.where(far, fallback, out)
    return out


def max_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """Running maximum over a *size* x *size* window (odd) of (H, W) or (B, H, W) *x*.

    Separable, by shifted element-wise maxima (``max_pool2d`` with stride 1 is slow on the
    CPU), or on the CPU by ``cv2.dilate`` (the same maximum, exactly); outside the image
    counts as minus infinity.
    """
    if size % 2 != 1 or size < 1:
        raise ValueError(f"size must be a positive odd number, got {size!r}")
    if x.device.type == "cpu" and _USE_OPENCV and x.dtype == torch.float32:
        # OpenCV's dilation ignores outside pixels (its default border is the minimum)
        kernel = np.ones((size, size), dtype=np.uint8)
        arr = np.ascontiguousarray(x.detach().numpy()).reshape(-1, x.shape[-2], x.shape[-1])
        dilated = np.stack([cv2.dilate(a, kernel) for a in arr]).reshape(tuple(x.shape))
        return torch.from_numpy(dilated)
    h = size // 2
    y = x
    for dim in (-1, -2):
        n = y.shape[dim]
        pad = [0, 0, 0, 0]
        pad[0 if dim == -1 else 2] = h
        pad[1 if dim == -1 else 3] = h
        p = F.pad(y.unsqueeze(0), tuple(pad), value=-math.inf).squeeze(0)
        out = p.narrow(dim, 0, n)
        for i in range(1, size):
            out = torch.maximum(out, p.narrow(dim, i, n))
        y = out
    return y


def inner_mask(mask: torch.Tensor, margin_px: float) -> torch.Tensor:
    """Pixels of *mask* at least *margin_px* (Chebyshev distance) from any pixel outside it.

    The image border does not count as outside: a mask covering the whole image stays
    whole.
    """
    m = max(0, int(math.ceil(margin_px)))
    mask = mask.to(torch.bool)
    if m == 0:
        return mask
    outside = (~mask).to(torch.float32)
    return max_filter(outside, 2 * m + 1) <= 0


# --------------------------------------------------------------------------- Hessian


def _derivative_kernels(s_low: float, first: bool) -> list[npt.NDArray[np.float32]]:
    """Central-difference correlation kernels (3 x 3) with the scale normalisation folded in."""
    s2 = s_low * s_low
    z = np.zeros((3, 3), dtype=np.float64)
    kxx, kyy, kxy = z.copy(), z.copy(), z.copy()
    kxx[1] = (s2, -2 * s2, s2)
    kyy[:, 1] = (s2, -2 * s2, s2)
    kxy[0, 0] = kxy[2, 2] = 0.25 * s2
    kxy[0, 2] = kxy[2, 0] = -0.25 * s2
    ks = [kxx, kxy, kyy]
    if first:
        kx, ky = z.copy(), z.copy()
        kx[1] = (-0.5 * s_low, 0.0, 0.5 * s_low)
        ky[:, 1] = (-0.5 * s_low, 0.0, 0.5 * s_low)
        ks += [kx, ky]
    return [k.astype(np.float32) for k in ks]


def _derivatives_cv2(
    low: torch.Tensor, f: int, s_low: float, first: bool, shape: tuple[int, ...]
) -> list[torch.Tensor]:
    """CPU path of :func:`_derivatives`: OpenCV 3 x 3 correlations and bilinear upsampling.

    The same central differences with replicated borders as the PyTorch path, and
    ``cv2.resize(INTER_LINEAR)`` uses the same half-pixel convention as
    ``F.interpolate(align_corners=False)``; the two agree to float rounding. OpenCV is used
    because a handful of fused 3 x 3 filters is much cheaper than the PyTorch chain of
    padded slices and element-wise temporaries on a small CPU.
    """
    ks = _derivative_kernels(s_low, first)
    arr = low.detach().numpy()
    n, _, hl, wl = arr.shape
    h, w = shape[-2], shape[-1]
    outs = [np.empty((n, h, w), dtype=np.float32) for _ in ks]
    for i in range(n):
        src = np.ascontiguousarray(arr[i, 0], dtype=np.float32)
        for out, k in zip(outs, ks, strict=True):
            d = cv2.filter2D(src, cv2.CV_32F, k, borderType=cv2.BORDER_REPLICATE)
            if f > 1:
                d = cv2.resize(d, (wl * f, hl * f), interpolation=cv2.INTER_LINEAR)[:h, :w]
            out[i] = d
    return [torch.from_numpy(o).reshape(shape) for o in outs]


def _derivatives(x: torch.Tensor, sigma: float, first: bool) -> list[torch.Tensor]:
    """Scale-normalised ``sigma^2 (Lxx, Lxy, Lyy)`` [+ ``sigma (Lx, Ly)``] at *sigma* px."""
    xb, shape = _as_batch(x)
    low, f = _blur_low(xb, sigma, _HESSIAN_MIN_LOW)
    if low.device.type == "cpu" and _USE_OPENCV:
        return _derivatives_cv2(low, f, sigma / f, first, shape)
    p = F.pad(low, (1, 1, 1, 1), mode="replicate")
    c = p[..., 1:-1, 1:-1]
    lxx = p[..., 1:-1, 2:] - 2 * c + p[..., 1:-1, :-2]
    lyy = p[..., 2:, 1:-1] - 2 * c + p[..., :-2, 1:-1]
    lxy = 0.25 * (p[..., 2:, 2:] - p[..., 2:, :-2] - p[..., :-2, 2:] + p[..., :-2, :-2])
    s_low = sigma / f
    ds = [lxx * s_low**2, lxy * s_low**2, lyy * s_low**2]
    if first:
        ds.append(0.5 * (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) * s_low)
        ds.append(0.5 * (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) * s_low)
    size = (shape[-2], shape[-1])
    return [_upsample(d, f, size).reshape(shape) for d in ds]


def hessian(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scale-normalised Hessian ``sigma^2 * (Lxx, Lxy, Lyy)`` of *x* at *sigma* px.

    Large scales are differentiated on the decimated image and upsampled.
    """
    lxx, lxy, lyy = _derivatives(x, sigma, first=False)
    return lxx, lxy, lyy


def _eig(
    lxx: torch.Tensor, lxy: torch.Tensor, lyy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (large, small) by value of the symmetric 2x2 Hessian."""
    tr = lxx + lyy
    root = torch.sqrt((lxx - lyy) ** 2 + 4 * lxy**2)
    return 0.5 * (tr + root), 0.5 * (tr - root)


def frangi_valley(
    x: torch.Tensor,
    sigmas: Sequence[float],
    beta: float = 0.5,
    c: float = 1.0,
    edge: float = 0.3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frangi vesselness for dark lines (valleys) over *sigmas* px.

    Step edges also make a valley of the second derivative on their dark side; there the
    normalised gradient ``sigma |grad L|`` is as large as the curvature ``sigma^2 lambda``,
    while at the centre of a line it is zero. The response is therefore multiplied by
    ``exp(-r^2 / (2 edge^2))`` with ``r = sigma |grad L| / (sigma^2 lambda)``; this also
    shortens lines by about one sigma at each end.

    Returns
    -------
    (vesselness, best)
        ``vesselness`` in [0, 1], the maximum over scales, and ``best``, the int64 index
        of the scale that gave it.
    """
    best_v: torch.Tensor | None = None
    best_i: torch.Tensor | None = None
    for i, s in enumerate(sigmas):
        lxx, lxy, lyy, lx, ly = _derivatives(x, s, first=True)
        # Eigenvalues in closed form. A valley needs the eigenvalue of largest magnitude
        # (lam2) positive, i.e. a positive trace; then lam2 = (tr + root) / 2 and
        # lam1 = (tr - root) / 2, and lam1^2 + lam2^2 = (tr^2 + root^2) / 2.
        tr = lxx + lyy
        dd = lxx - lyy
        root2 = dd * dd + 4.0 * lxy * lxy
        root = torch.sqrt(root2)
        lam2 = (0.5 * (tr + root)).clamp(min=1e-6)
        lam1 = 0.5 * (tr - root)
        rb2 = (lam1 / lam2) ** 2
        s2 = 0.5 * (tr * tr + root2)
        # the full gradient, not only its part across the line: beside a curved edge (a
        # spot's rim) the largest curvature runs along the rim
        r2 = (lx * lx + ly * ly) / (lam2 * lam2)
        v = torch.exp(-rb2 / (2 * beta**2) - r2 / (2 * edge**2)) * (1 - torch.exp(-s2 / (2 * c**2)))
        v = torch.where(tr > 0, v, torch.zeros_like(v))
        if best_v is None or best_i is None:
            best_v, best_i = v, torch.zeros_like(v, dtype=torch.int64)
        else:
            better = v > best_v
            best_v = torch.maximum(v, best_v)
            best_i = torch.where(better, torch.full_like(best_i, i), best_i)
    if best_v is None or best_i is None:
        raise ValueError("sigmas must not be empty")
    return best_v, best_i


# --------------------------------------------------------------------------- blobs


@dataclass(frozen=True, slots=True, eq=False)
class Blobs:
    """Detected blobs (NumPy, CPU): centre row/column, diameter in px, response."""

    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    diameter_px: npt.NDArray[np.float64]
    response: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.rows.size)


def blob_detect(
    x: torch.Tensor,
    sigmas: Sequence[float],
    threshold: float,
    mask: torch.Tensor,
    *,
    dark: bool = True,
    min_ratio: float = 0.35,
    diameter_per_sigma: float = 2.0 * math.sqrt(2.0),
) -> Blobs:
    """Multi-scale scale-normalised Laplacian-of-Gaussian blob detection (Lindeberg 1998).

    Parameters
    ----------
    x
        (H, W) image.
    sigmas
        Increasing, geometrically spaced scales in px (at least two); a guard scale is
        added at each end so that a blob's scale must peak inside the range.
    threshold
        Minimum normalised response ``sigma^2 * |Laplacian|`` (image units; a Gaussian blob
        of depth A responds A/2).
    mask
        (H, W) bool: blob centres must lie in it.
    dark
        Detect dark blobs (minima) rather than bright ones.
    min_ratio
        Minimum ratio of the smaller to the larger Hessian eigenvalue at the blob's scale:
        rejects line segments and edges (a round blob has 1).
    diameter_per_sigma
        Diameter of the blob per selected scale (``2 sqrt 2`` for a uniform disk).
    """
    sign = 1.0 if dark else -1.0
    sigmas = list(sigmas)
    if len(sigmas) < 2:
        raise ValueError("sigmas must hold at least two scales")
    step = sigmas[1] / sigmas[0]
    f = 1
    while sigmas[0] / step / (2 * f) >= 1.0:
        f *= 2
    if f > 1:
        # large blobs: search on an area-decimated image, then map back to full resolution
        h, w = x.shape[-2:]
        ph, pw = (-h) % f, (-w) % f
        xl = F.avg_pool2d(F.pad(x[None, None], (0, pw, 0, ph), mode="replicate"), f)[0, 0]
        ml = F.avg_pool2d(F.pad(mask[None, None].float(), (0, pw, 0, ph)), f)[0, 0] > 0.5
        low = blob_detect(
            xl,
            [s / f for s in sigmas],
            threshold,
            ml,
            dark=dark,
            min_ratio=min_ratio,
            diameter_per_sigma=diameter_per_sigma,
        )
        return Blobs(
            rows=np.minimum(low.rows * f + f // 2, h - 1),
            cols=np.minimum(low.cols * f + f // 2, w - 1),
            diameter_px=low.diameter_px * f,
            response=low.response,
        )
    # one guard scale at each end: a blob must peak strictly inside the searched range
    ext = [sigmas[0] / step, *sigmas, sigmas[-1] * step]
    resp = []
    hxx, hxy, hyy = [], [], []
    for s in ext:
        lxx, lxy, lyy = hessian(x, s)
        # the sum of the eigenvalues is the trace: the scale-normalised Laplacian
        resp.append(sign * (lxx + lyy))
        hxx.append(lxx)
        hxy.append(lxy)
        hyy.append(lyy)
    r = torch.stack(resp)  # (S, H, W)
    # local maximum over 3x3 in space and the neighbouring scales
    pooled = max_filter(r, 3)
    across = pooled.clone()
    across[1:] = torch.maximum(across[1:], pooled[:-1])
    across[:-1] = torch.maximum(across[:-1], pooled[1:])
    peak = (r >= across) & (r >= threshold) & mask.unsqueeze(0)
    peak[0] = False
    peak[-1] = False
    idx = torch.nonzero(peak)
    if idx.numel() > 0:
        # roundness only where it matters: the eigenvalue ratio at the candidate peaks
        si, ri, ci = idx[:, 0], idx[:, 1], idx[:, 2]
        gxx = torch.stack(hxx)[si, ri, ci]
        gxy = torch.stack(hxy)[si, ri, ci]
        gyy = torch.stack(hyy)[si, ri, ci]
        big, small = _eig(sign * gxx, sign * gxy, sign * gyy)
        idx = idx[small / big.clamp(min=1e-6) >= min_ratio]
    if idx.numel() == 0:
        e = np.zeros(0, dtype=np.int64)
        return Blobs(e, e.copy(), np.zeros(0), np.zeros(0))
    si, ri, ci = idx[:, 0], idx[:, 1], idx[:, 2]
    val = r[si, ri, ci]
    # keep one scale per pixel (the strongest)
    order = torch.argsort(val, descending=True)
    si, ri, ci, val = si[order], ri[order], ci[order], val[order]
    flat = (ri * x.shape[-1] + ci).cpu().numpy()
    _, first = np.unique(flat, return_index=True)
    keep = torch.from_numpy(np.sort(first)).to(idx.device)
    si, ri, ci, val = si[keep], ri[keep], ci[keep], val[keep]
    # parabolic refinement of the scale in log-sigma
    log_s = torch.log(torch.tensor(ext, dtype=torch.float32, device=x.device))
    n = len(ext)
    lo = (si - 1).clamp(min=0)
    hi = (si + 1).clamp(max=n - 1)
    r0, rm, rp = r[si, ri, ci], r[lo, ri, ci], r[hi, ri, ci]
    denom = rm - 2 * r0 + rp
    inner = (si > 0) & (si < n - 1) & (denom < -1e-6)
    off = torch.where(inner, 0.5 * (rm - rp) / torch.where(inner, denom, -1.0), 0.0)
    half_step = (log_s[hi] - log_s[lo]) / 2
    sig = torch.exp(log_s[si] + off.clamp(-0.5, 0.5) * half_step)
    return Blobs(
        rows=ri.cpu().numpy().astype(np.int64),
        cols=ci.cpu().numpy().astype(np.int64),
        diameter_px=(sig * diameter_per_sigma).cpu().numpy().astype(np.float64),
        response=val.cpu().numpy().astype(np.float64),
    )


def scale_series(lo: float, hi: float, step: float = 1.3) -> list[float]:
    """Geometric scales from *lo* to *hi* px with a ratio of about *step* (at least two)."""
    if not 0 < lo <= hi:
        raise ValueError(f"need 0 < lo <= hi, got lo={lo!r}, hi={hi!r}")
    n = max(2, math.ceil(math.log(max(hi / lo, 1.0)) / math.log(step)) + 1)
    if hi / lo < step:
        hi = lo * step
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]


def disk_mask(shape: tuple[int, int], blobs: Blobs) -> BoolArray:
    """Draw the blobs as filled disks into an (H, W) bool mask."""
    canvas = np.zeros(shape, dtype=np.uint8)
    for r, c, d in zip(blobs.rows, blobs.cols, blobs.diameter_px, strict=True):
        cv2.circle(canvas, (int(c), int(r)), max(1, round(d / 2)), 1, thickness=-1)
    return canvas.astype(bool)


# --------------------------------------------------------------------------- binary tools


def components(
    mask: BoolArray,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """8-connected components: (labels, stats, centroids) of ``cv2.connectedComponentsWithStats``.

    Label 0 is the background; ``stats[:, cv2.CC_STAT_AREA]`` holds the areas.
    """
    n, labels, stats, cents = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    logger.debug("components: %d", n - 1)
    return (
        np.asarray(labels, dtype=np.int32),
        np.asarray(stats, dtype=np.int32),
        np.asarray(cents, dtype=np.float64),
    )


def hysteresis(weak: BoolArray, strong: BoolArray) -> BoolArray:
    """Keep the 8-connected components of *weak* that contain a *strong* pixel."""
    labels, _, _ = components(weak | strong)
    keep = np.zeros(labels.max() + 1, dtype=bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    return np.asarray(keep[labels], dtype=bool)


# neighbour offsets P2..P9: N, NE, E, SE, S, SW, W, NW
_NB = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _zs_luts() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Zhang-Suen deletion tables indexed by the 8-neighbour code P2..P9 (bits 0..7)."""
    lut1 = np.zeros(256, dtype=bool)
    lut2 = np.zeros(256, dtype=bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]  # P2, P3, ..., P9
        b = sum(p)
        a = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        if not (2 <= b <= 6 and a == 1):
            continue
        p2, _, p4, _, p6, _, p8, _ = p
        lut1[code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        lut2[code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return lut1, lut2


def _corner_lut() -> npt.NDArray[np.bool_]:
    """Removable skeleton pixels: >= 2 neighbours that stay 8-connected without the pixel."""
    lut = np.zeros(256, dtype=bool)
    for code in range(256):
        pts = [_NB[i] for i in range(8) if (code >> i) & 1]
        if len(pts) < 2:
            continue
        seen = {pts[0]}
        stack = [pts[0]]
        while stack:
            y, x = stack.pop()
            for q in pts:
                if q not in seen and max(abs(q[0] - y), abs(q[1] - x)) == 1:
                    seen.add(q)
                    stack.append(q)
        lut[code] = len(seen) == len(pts)
    return lut


_LUT1, _LUT2 = _zs_luts()
_LUT_CORNER = _corner_lut()


def _codes(
    img: npt.NDArray[np.uint8], ys: npt.NDArray[np.intp], xs: npt.NDArray[np.intp]
) -> npt.NDArray[np.int64]:
    code = np.zeros(ys.size, dtype=np.int64)
    for bit, (dy, dx) in enumerate(_NB):
        code |= img[ys + dy, xs + dx].astype(np.int64) << bit
    return code


def thin(mask: BoolArray, max_iter: int = 100) -> BoolArray:
    """Zhang-Suen (1984) thinning of an (H, W) bool mask to a one-pixel skeleton.

    Staircase corners that Zhang-Suen leaves (a pixel whose neighbours stay 8-connected
    without it) are then removed in two checkerboard passes, so that the skeleton is
    8-minimal and its chain-code length is not inflated.
    """
    img = np.pad(mask.astype(np.uint8), 1)
    for _ in range(max_iter):
        changed = False
        for lut in (_LUT1, _LUT2):
            ys, xs = np.nonzero(img)
            if ys.size == 0:
                break
            delete = lut[_codes(img, ys, xs)]
            if delete.any():
                img[ys[delete], xs[delete]] = 0
                changed = True
        if not changed:
            break
    for parity in (0, 1):
        ys, xs = np.nonzero(img)
        sel = (ys + xs) % 2 == parity
        ys, xs = ys[sel], xs[sel]
        delete = _LUT_CORNER[_codes(img, ys, xs)]
        img[ys[delete], xs[delete]] = 0
    return img[1:-1, 1:-1].astype(bool)


_KULPA_EVEN = 0.948
_KULPA_ODD = 1.343


def skeleton_length_map(skel: BoolArray) -> npt.NDArray[np.float32]:
    """Length carried by each skeleton pixel, in px (the map sums to the skeleton length).

    Chain-code length with Kulpa's (1977) unbiased weights: 4-neighbour links count 0.948
    and diagonal links 1.343 (unless a 4-path already joins the two pixels); each link is
    shared half and half by its two pixels. An isolated pixel counts 1. The error on a
    straight line is within about 5 % at any angle.
    """
    s = np.pad(skel.astype(np.float32), 1)
    c = s[1:-1, 1:-1]
    length = np.zeros_like(c)
    e, w = s[1:-1, 2:], s[1:-1, :-2]
    so, n = s[2:, 1:-1], s[:-2, 1:-1]
    length += 0.5 * _KULPA_EVEN * c * (e + w + so + n)
    for dy, dx in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        diag = s[1 + dy : s.shape[0] - 1 + dy, 1 + dx : s.shape[1] - 1 + dx]
        via_y = s[1 + dy : s.shape[0] - 1 + dy, 1:-1]
        via_x = s[1:-1, 1 + dx : s.shape[1] - 1 + dx]
        bridged = np.maximum(via_y, via_x)
        length += 0.5 * _KULPA_ODD * c * diag * (1 - bridged)
    length = np.where((c > 0) & (length == 0), 1.0, length)
    return length.astype(np.float32)


# --------------------------------------------------------------------------- colour


#: Optical-density spectra (R, G, B) of the chromophores in camera sRGB channels.
#: Melanin ~ lambda^-3.3 at 610/540/465 nm, normalised to 1 in red (Diffey-scaled MI);
#: oxy-haemoglobin normalised so that green - red = 1 (Dawson-scaled EI).
MELANIN_OD = (1.0, 1.5, 2.4)
HAEMOGLOBIN_OD = (0.1, 1.1, 0.65)


def optical_density(rgb_linear: torch.Tensor) -> torch.Tensor:
    """Apparent optical density ``-log10(reflectance)`` of (3, H, W) linear RGB."""
    return -torch.log10(rgb_linear.clamp(min=1e-3))


def unmix_chromophores(
    rgb_linear: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split optical density into shading, melanin and haemoglobin (Tsumura et al. 2003).

    ``OD = s (1, 1, 1) + m MELANIN_OD + h HAEMOGLOBIN_OD`` is solved per pixel; the grey
    term ``s`` absorbs shading and exposure, so ``m`` and ``h`` do not change when the
    light gets brighter or darker.

    Returns
    -------
    (shading, melanin, haemoglobin)
        (H, W) tensors in optical-density units.
    """
    od = optical_density(rgb_linear)
    basis = torch.tensor(
        [(1.0, 1.0, 1.0), MELANIN_OD, HAEMOGLOBIN_OD], dtype=torch.float64
    ).T  # columns: grey, melanin, haemoglobin
    inv = torch.linalg.inv(basis).to(device=od.device, dtype=torch.float32)
    coef = torch.einsum("ij,jhw->ihw", inv, od)
    return coef[0], coef[1], coef[2]


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True, slots=True, eq=False)
class RegionInfo:
    """A region's mask on the device and on the CPU, and its area in px."""

    name: str
    mask: torch.Tensor
    mask_np: BoolArray
    area_px: int


def region_items(img: SkinImage) -> Iterator[RegionInfo]:
    """Yield the regions of *img* that hold at least one pixel."""
    for name, m in img.regions.items():
        mask_np = m.detach().cpu().numpy().astype(bool)
        area = int(mask_np.sum())
        if area > 0:
            yield RegionInfo(name, m.to(torch.bool), mask_np, area)


def region_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of *x* over *mask* (0.0 for an empty mask)."""
    n = int(mask.sum().item())
    if n == 0:
        return 0.0
    return float((x * mask).sum().item()) / n


def region_fraction(feature: BoolArray, region: BoolArray) -> float:
    """Percentage of *region* covered by *feature*."""
    area = int(region.sum())
    if area == 0:
        return 0.0
    return 100.0 * float(np.count_nonzero(feature & region)) / area


def measurement(key: str, region: str, value: float, img: SkinImage) -> Measurement:
    """Build a :class:`Measurement` in the key's unit (its pixel unit without spacing)."""
    info = key_info(key)
    unit = info.unit_px if (img.spacing_mm is None and info.unit_px) else info.unit
    return Measurement(key, region, float(value), unit)
