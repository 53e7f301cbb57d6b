"""The shared filters: smoothing, Hessian scale normalisation, blobs, thinning, unmixing."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from analysis.measures import chromophores, filters
from analysis.measures.binary import skeleton_length_map, thin
from analysis.measures.blobs import blob_detect, scale_series
from analysis.measures.chromophores import unmix_chromophores
from analysis.measures.filters import (
    frangi_valley,
    gaussian_blur,
    hessian,
    inner_mask,
    masked_blur,
    max_filter,
)


def _gauss_blob(shape, r, c, sigma, depth):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return -depth * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * sigma**2))


@pytest.mark.parametrize("sigma", [0.8, 2.0, 5.0, 9.0, 20.0])
def test_gaussian_blur_matches_opencv_reference(sigma):
    rng = np.random.default_rng(0)
    x = rng.random((96, 120)).astype(np.float32)
    ours = gaussian_blur(torch.from_numpy(x), sigma).numpy()
    ref = cv2.GaussianBlur(x.astype(np.float64), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    inner = (slice(30, -30), slice(30, -30))
    # large sigmas are computed on a decimated image: a documented approximation
    tol = 2e-3 if sigma <= 6 else 2e-2
    assert np.abs(ours[inner] - ref[inner]).max() < tol


def test_cpu_opencv_and_torch_paths_agree(monkeypatch):
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((2, 80, 90)).astype(np.float32))
    fast = gaussian_blur(x, 2.5)
    monkeypatch.setattr(filters, "_USE_OPENCV", False)
    slow = gaussian_blur(x, 2.5)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_masked_blur_ignores_pixels_outside_mask():
    x = torch.full((60, 60), 10.0)
    x[:, 30:] = 1000.0  # e.g. hair next to the skin
    mask = torch.zeros((60, 60), dtype=torch.bool)
    mask[:, :30] = True
    out = masked_blur(x, mask, 5.0)
    assert torch.allclose(out[:, :30], torch.full((60, 30), 10.0), atol=1e-3)


def test_max_filter_equals_naive_maximum():
    rng = np.random.default_rng(2)
    x = rng.random((20, 25)).astype(np.float32)
    out = max_filter(torch.from_numpy(x), 5).numpy()
    pad = np.pad(x, 2, constant_values=-np.inf)
    naive = np.max([pad[i : i + 20, j : j + 25] for i in range(5) for j in range(5)], axis=0)
    assert np.array_equal(out, naive)


def test_scale_normalised_laplacian_of_gaussian_blob_is_half_its_depth():
    # Lindeberg: sigma^2 * Laplacian of a Gaussian blob of depth A peaks at A/2, sigma = s0
    x = torch.from_numpy(_gauss_blob((101, 101), 50, 50, 4.0, 10.0).astype(np.float32))
    lxx, _, lyy = hessian(x, 4.0)
    assert float((lxx + lyy)[50, 50]) == pytest.approx(5.0, rel=0.03)


def test_blob_detect_finds_blob_with_its_size():
    x = torch.from_numpy(_gauss_blob((101, 101), 40, 60, 3.0, 10.0).astype(np.float32))
    mask = torch.ones((101, 101), dtype=torch.bool)
    blobs = blob_detect(x, scale_series(1.5, 6.0), 1.0, mask, diameter_per_sigma=1.0)
    assert len(blobs) == 1
    assert (blobs.rows[0], blobs.cols[0]) == (40, 60)
    assert blobs.diameter_px[0] == pytest.approx(3.0, rel=0.1)  # sigma of the blob


def test_frangi_valley_line_not_edge():
    yy, xx = np.mgrid[0:80, 0:120].astype(np.float32)
    img = 60.0 - 6.0 * np.exp(-((yy - 40) ** 2) / (2 * 1.5**2))  # horizontal dark line
    img[:, 90:] -= 8.0  # a step edge (e.g. a spot border) further right
    v, _ = frangi_valley(torch.from_numpy(img), [1.0, 2.0, 3.0], c=1.0)
    assert float(v[40, 40]) > 0.8  # the line
    assert float(v[10:30, 92:110].max()) < 0.2  # beside the edge, away from the line


def test_frangi_symmetry_gate_drops_a_dip_at_the_foot_of_a_step_not_a_line():
    yy, xx = np.mgrid[0:80, 0:160].astype(np.float32)
    img = np.full((80, 160), 60.0, np.float32)
    img -= 4.0 * np.exp(-((xx - 40) ** 2) / (2 * 1.5**2))  # a vertical line (both flanks rise)
    # a shading step (dark left, 30 L* brighter right) with a shallow dip at its foot: a
    # valley whose right flank rises ~30 L*, its left one ~2 L* (a nose side wall, a jowl)
    img += 30.0 / (1.0 + np.exp(-np.clip(xx - 116, -50, 50)))
    img -= 3.0 * np.exp(-((xx - 112) ** 2) / (2 * 1.5**2))
    t = torch.from_numpy(img)
    plain, _ = frangi_valley(t, [2.0, 3.0], c=1.0)
    gated, _ = frangi_valley(t, [2.0, 3.0], c=1.0, symmetry=0.5)
    assert float(plain[40, 40]) > 0.5
    assert float(gated[40, 40]) == pytest.approx(float(plain[40, 40]), rel=0.02)  # line kept
    dip_plain = float(plain[20:60, 108:116].max())
    dip_gated = float(gated[20:60, 108:116].max())
    assert dip_plain > 0.3  # the plain filter answers at the dip
    assert dip_gated < 0.5 * dip_plain


def test_thinning_and_length_of_lines_at_angles():
    for angle in (0, 20, 45, 70):
        m = np.zeros((240, 240), np.uint8)
        a = math.radians(angle)
        p0 = (int(120 - 80 * math.cos(a)), int(120 - 80 * math.sin(a)))
        p1 = (int(120 + 80 * math.cos(a)), int(120 + 80 * math.sin(a)))
        cv2.line(m, p0, p1, 1, 7)
        skel = thin(m.astype(bool))
        assert skel.sum() < 0.3 * m.sum()
        true = math.hypot(p1[0] - p0[0], p1[1] - p0[1])
        assert float(skeleton_length_map(skel).sum()) == pytest.approx(true, rel=0.09)


def test_unmixing_is_invariant_to_exposure_and_separates_chromophores():
    rgb = torch.tensor([0.55, 0.35, 0.27]).view(3, 1, 1).expand(3, 4, 4).clone()
    _, m1, h1 = unmix_chromophores(rgb)
    _, m2, h2 = unmix_chromophores(rgb * 0.7)  # darker light / shading
    assert torch.allclose(m1, m2, atol=1e-5)
    assert torch.allclose(h1, h2, atol=1e-5)
    mel = torch.tensor(chromophores.MELANIN_OD).view(3, 1, 1)
    _, m3, h3 = unmix_chromophores(rgb * 10 ** (-0.1 * mel))  # add 0.1 OD of melanin
    assert float((m3 - m1).mean()) == pytest.approx(0.1, abs=1e-4)
    assert float((h3 - h1).abs().max()) < 1e-4


def test_inner_mask_keeps_pixels_far_from_the_outside_but_not_from_the_border():
    mask = torch.ones(40, 50, dtype=torch.bool)
    mask[10:20, 20:30] = False  # a hole
    inner = inner_mask(mask, 3.0)
    ys, xs = np.mgrid[0:40, 0:50]
    # Chebyshev distance to the hole's nearest pixel
    dy = np.maximum(np.maximum(10 - ys, ys - 19), 0)
    dx = np.maximum(np.maximum(20 - xs, xs - 29), 0)
    expected = np.maximum(dy, dx) > 3
    assert np.array_equal(inner.numpy(), expected)
    assert bool(inner_mask(torch.ones(8, 8, dtype=torch.bool), 3.0).all())  # border is not outside
    assert torch.equal(inner_mask(mask, 0.0), mask)


def test_frangi_floor_gives_the_same_gated_response_above_the_floor() -> None:
    # the sparse flank gate (floor > 0) samples the same points as the dense one: equal
    # wherever the ungated response reaches the floor, 0 below it
    rng = np.random.default_rng(3)
    x = torch.from_numpy(
        cv2.GaussianBlur(rng.normal(60, 6, (96, 128)).astype(np.float32), (0, 0), 1.5)
    )
    x[40:44, 10:120] -= 8.0  # a line
    x[60:, 64:] += 10.0  # a step
    dense, _ = frangi_valley(x, [1.0, 2.0], symmetry=0.25, flank=2.0)
    sparse, _ = frangi_valley(x, [1.0, 2.0], symmetry=0.25, flank=2.0, floor=0.1)
    ungated, _ = frangi_valley(x, [1.0, 2.0], floor=0.1)
    above = ungated >= 0.1
    assert bool(above.any()) and float(dense[42, 20:100].min()) > 0.1
    torch.testing.assert_close(sparse[dense >= 0.1], dense[dense >= 0.1])
    assert float(sparse[~above].abs().max()) == 0.0
