"""Smoothing and Hessian filters shared by the concern measures.

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

The other shared helpers live beside this module, one job each: :mod:`.blobs` (multi-scale
blob detection), :mod:`.binary` (connected components, hysteresis, thinning, skeleton
length), :mod:`.chromophores` (optical-density unmixing) and :mod:`.regions` (per-region
iteration and the measurement builder).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812

__all__ = [
    "frangi_valley",
    "gaussian_blur",
    "hessian",
    "hessian_eigenvalues",
    "inner_mask",
    "masked_blur",
    "max_filter",
]

logger = logging.getLogger(__name__)

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


def hessian_eigenvalues(
    lxx: torch.Tensor, lxy: torch.Tensor, lyy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (large, small) by value of the symmetric 2x2 Hessian."""
    tr = lxx + lyy
    root = torch.sqrt((lxx - lyy) ** 2 + 4 * lxy**2)
    return 0.5 * (tr + root), 0.5 * (tr - root)


def _flank_symmetry(
    x: torch.Tensor,
    sigma: float,
    lxx: torch.Tensor,
    lxy: torch.Tensor,
    lyy: torch.Tensor,
    flank: float,
    symmetry: float,
    at: torch.Tensor,
) -> torch.Tensor:
    """``clip(d1 / (symmetry * d2), 0, 1)`` of the two flank rises (see :func:`frangi_valley`)
    at the pixels *at* (bool, shape of *x*) only; 0 elsewhere.

    The flanks are sampled (bilinear, border-clamped, ``align_corners``) for the selected
    pixels only: the gate only matters where the response can pass a threshold, a few per
    cent of a face's pixels.
    """
    xb, shape = _as_batch(x)
    h, w = shape[-2], shape[-1]
    sm = gaussian_blur(xb[:, 0], sigma).reshape(-1, 1, h, w)
    out = torch.zeros((sm.shape[0], h, w), dtype=torch.float32, device=x.device)
    at_b = at.reshape(-1, h, w)
    lxx_b, lxy_b, lyy_b = (t.reshape(-1, h, w) for t in (lxx, lxy, lyy))
    for b in range(sm.shape[0]):
        yi, xi = torch.nonzero(at_b[b], as_tuple=True)
        if yi.numel() == 0:
            continue
        theta = 0.5 * torch.atan2(2.0 * lxy_b[b, yi, xi], lxx_b[b, yi, xi] - lyy_b[b, yi, xi])
        cos_t, sin_t = torch.cos(theta), torch.sin(theta)
        yf, xf = yi.to(torch.float32), xi.to(torch.float32)
        img = sm[b : b + 1]
        centre = img[0, 0, yi, xi]
        rises = []
        for sign in (1.0, -1.0):
            best: torch.Tensor | None = None
            for k in range(3):
                d = sign * sigma * (1.0 + (flank - 1.0) * k / 2.0)
                grid = torch.stack(
                    (
                        2.0 * (xf + d * cos_t) / max(w - 1, 1) - 1.0,
                        2.0 * (yf + d * sin_t) / max(h - 1, 1) - 1.0,
                    ),
                    dim=-1,
                ).view(1, 1, -1, 2)
                side = F.grid_sample(
                    img, grid, mode="bilinear", padding_mode="border", align_corners=True
                )[0, 0, 0]
                best = side if best is None else torch.maximum(best, side)
            assert best is not None
            rises.append(best - centre)
        lo = torch.minimum(rises[0], rises[1])
        hi = torch.maximum(rises[0], rises[1]).clamp(min=1e-6)
        out[b, yi, xi] = (lo / (symmetry * hi)).clamp(0.0, 1.0)
    return out.reshape(shape)


def frangi_valley(
    x: torch.Tensor,
    sigmas: Sequence[float],
    beta: float = 0.5,
    c: float = 1.0,
    edge: float = 0.3,
    *,
    symmetry: float = 0.0,
    flank: float = 2.0,
    floor: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frangi vesselness for dark lines (valleys) over *sigmas* px.

    Step edges also make a valley of the second derivative on their dark side; there the
    normalised gradient ``sigma |grad L|`` is as large as the curvature ``sigma^2 lambda``,
    while at the centre of a line it is zero. The response is therefore multiplied by
    ``exp(-r^2 / (2 edge^2))`` with ``r = sigma |grad L| / (sigma^2 lambda)``; this also
    shortens lines by about one sigma at each end.

    With ``symmetry > 0`` a valley must also be darker than *both* its flanks: the image
    smoothed at the scale is sampled along the Hessian's normal on each side at 1, (1 +
    flank) / 2 and *flank* sigma, the highest sample is that flank (a neighbouring valley must
    not hide the crest between two), their rises above the centre are ``d1 <= d2``, and the
    response is multiplied
    by ``clip(d1 / (symmetry * d2), 0, 1)`` (Steger 1998's line model: a line is a valley on
    both sides; a shading step with a dip at its foot, such as a nose side or a jowl, rises on
    one side only).

    With ``floor > 0`` a response under *floor* (before the gate) is returned as 0 and the
    gate is evaluated only where it is at least *floor*: identical above it, several times
    faster on a face (the gate only lowers a response, so a caller thresholding at or above
    *floor* sees the same pixels).

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
        arg = -rb2 / (2 * beta**2) - r2 / (2 * edge**2)
        sarg = -s2 / (2 * c**2)
        if floor > 0.0:
            # the exponentials only where the response can reach the floor: exp(arg) >= floor
            # and 1 - exp(sarg) >= floor (each factor <= 1), with a margin; elsewhere it is 0
            # below the floor anyway, so the result is the same
            maybe = (tr > 0) & (arg >= math.log(floor) - 1e-3)
            maybe &= sarg <= math.log1p(-min(floor, 0.999)) + 1e-3
            at_px = torch.nonzero(maybe.reshape(-1)).squeeze(1)
            v = torch.zeros_like(arg)
            v.view(-1)[at_px] = torch.exp(arg.reshape(-1)[at_px]) * (
                1 - torch.exp(sarg.reshape(-1)[at_px])
            )
        else:
            v = torch.exp(arg) * (1 - torch.exp(sarg))
            v = torch.where(tr > 0, v, torch.zeros_like(v))
        if symmetry > 0.0:
            at = v >= floor if floor > 0.0 else torch.ones_like(v, dtype=torch.bool)
            v = v * _flank_symmetry(x, s, lxx, lxy, lyy, flank, symmetry, at)
        elif floor > 0.0:
            v = torch.where(v >= floor, v, torch.zeros_like(v))
        if best_v is None or best_i is None:
            best_v, best_i = v, torch.zeros_like(v, dtype=torch.int64)
        else:
            better = v > best_v
            best_v = torch.maximum(v, best_v)
            best_i = torch.where(better, torch.full_like(best_i, i), best_i)
    if best_v is None or best_i is None:
        raise ValueError("sigmas must not be empty")
    return best_v, best_i
