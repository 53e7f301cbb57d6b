"""Multi-scale blob detection (Lindeberg 1998) on the shared Hessian filters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812

from analysis.measures.filters import hessian, hessian_eigenvalues, max_filter

__all__ = ["Blobs", "blob_detect", "disk_mask", "scale_series"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Blobs:
    """Detected blobs (NumPy, CPU): centre row/column, diameter in px, response."""

    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    diameter_px: npt.NDArray[np.float64]
    response: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.rows.size)


def _at(
    planes: Sequence[torch.Tensor], si: torch.Tensor, ri: torch.Tensor, ci: torch.Tensor
) -> torch.Tensor:
    """``stack(planes)[si, ri, ci]`` without stacking the planes (a copy of all of them)."""
    out = torch.empty(si.shape, dtype=planes[0].dtype, device=planes[0].device)
    for i, p in enumerate(planes):
        sel = si == i
        if bool(sel.any()):
            out[sel] = p[ri[sel], ci[sel]]
    return out


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
    # local maximum over 3x3 in space and the neighbouring scales, tested only at the
    # pixels over the threshold (plane by plane: no stack of all scales is made)
    pooled = [max_filter(p, 3) for p in resp]
    mask_b = mask.to(torch.bool)
    found = []
    for i in range(1, len(resp) - 1):
        p = resp[i]
        cand = torch.nonzero((p >= threshold) & mask_b)
        if cand.numel() == 0:
            continue
        cr, cc = cand[:, 0], cand[:, 1]
        v = p[cr, cc]
        ok = (v >= pooled[i][cr, cc]) & (v >= pooled[i - 1][cr, cc]) & (v >= pooled[i + 1][cr, cc])
        cand = cand[ok]
        if cand.numel():
            found.append(torch.cat([torch.full_like(cand[:, :1], i), cand], dim=1))
    # scale-major, then row-major: the order of torch.nonzero over a (S, H, W) stack
    idx = torch.cat(found) if found else torch.zeros((0, 3), dtype=torch.int64, device=x.device)
    if idx.numel() > 0:
        # roundness only where it matters: the eigenvalue ratio at the candidate peaks
        si, ri, ci = idx[:, 0], idx[:, 1], idx[:, 2]
        gxx, gxy, gyy = (_at(planes, si, ri, ci) for planes in (hxx, hxy, hyy))
        big, small = hessian_eigenvalues(sign * gxx, sign * gxy, sign * gyy)
        idx = idx[small / big.clamp(min=1e-6) >= min_ratio]
    if idx.numel() == 0:
        e = np.zeros(0, dtype=np.int64)
        return Blobs(e, e.copy(), np.zeros(0), np.zeros(0))
    si, ri, ci = idx[:, 0], idx[:, 1], idx[:, 2]
    val = _at(resp, si, ri, ci)
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
    r0, rm, rp = val, _at(resp, lo, ri, ci), _at(resp, hi, ri, ci)
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
