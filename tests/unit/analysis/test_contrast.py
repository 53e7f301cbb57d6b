"""CIEDE2000 and the visible-patch detector of analysis.measures.contrast."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from analysis.measures.chromophores import MELANIN_OD
from analysis.measures.contrast import (
    ciede2000,
    dark_macules,
    fill_small_holes,
    local_contrast,
    patches,
    ring_difference,
)
from analysis.measures.pigmentation import spot_mask
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image

#: Sharma, Wu & Dalal (2005), Table 1: pairs 1, 7, 9, 11, 17, 18, 25, 34 (L*, a*, b*; ΔE00).
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0011), 7.2195),
    ((50.0, -0.0010, 2.4900), (50.0, 0.0009, -2.4900), 4.8045),
    ((50.0, -0.0010, 2.4900), (50.0, 0.0011, -2.4900), 4.7461),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_reproduces_the_published_pairs() -> None:
    a = torch.tensor([p[0] for p in SHARMA], dtype=torch.float64).T
    b = torch.tensor([p[1] for p in SHARMA], dtype=torch.float64).T
    expected = np.array([p[2] for p in SHARMA])
    np.testing.assert_allclose(ciede2000(a, b).numpy(), expected, atol=1e-4)
    # symmetric
    np.testing.assert_allclose(ciede2000(b, a).numpy(), expected, atol=1e-4)


def test_small_holes_are_filled_large_ones_and_border_ones_kept() -> None:
    skin = torch.ones((60, 60), dtype=torch.bool)
    skin[10:14, 10:14] = False  # 16 px: a macule the colour model left out
    skin[30:50, 30:50] = False  # 400 px: an eye
    skin[0:5, 20:25] = False  # touches the border
    out = fill_small_holes(skin, 50.0)
    assert bool(out[10:14, 10:14].all())
    assert not bool(out[30:50, 30:50].any())
    assert not bool(out[0:5, 20:25].any())


def test_holes_of_a_region_inside_the_image() -> None:
    # a zone mask that covers part of the image (the function works on its bounding box)
    region = torch.zeros((80, 100), dtype=torch.bool)
    region[20:60, 30:80] = True
    region[30:34, 40:44] = False  # a hole: filled
    region[20:26, 60:63] = False  # a notch open to the outside at the box's top edge: kept
    region[40:44, 77:80] = False  # a notch at the right edge: kept
    region[50:52, 50:52] = False  # a hole of 4 px ...
    region[50:52, 53:56] = False  # ... and one of 6 px beside it (not joined: 1 px between)
    out = fill_small_holes(region, 5.0)
    assert not bool(out[30:34, 40:44].any())  # 16 px > 5: a large hole stays open
    assert bool(out[50:52, 50:52].all())  # 4 px: filled
    assert not bool(out[50:52, 53:56].any())  # 6 px: kept
    out = fill_small_holes(region, 50.0)
    assert bool(out[30:34, 40:44].all()) and bool(out[50:52, 50:56].all())
    assert not bool(out[20:26, 60:63].any()) and not bool(out[40:44, 77:80].any())
    assert not bool(out[:20].any()) and not bool(out[:, :30].any())  # nothing outside it
    assert torch.equal(out | region, out)  # only ever adds pixels
    empty = torch.zeros((10, 10), dtype=torch.bool)
    assert torch.equal(fill_small_holes(empty, 50.0), empty)


def test_spot_visibility_threshold_on_a_phantom() -> None:
    # the same five spots: invisible (0.004 OD, < 1 ΔE00) -> none; visible (0.06 OD) -> all
    found = []
    for strength in (0.004, 0.06):
        spec = PhantomSpec(
            size_px=(300, 300), n_spots=5, spot_diameter_mm=(3.0, 5.0), spot_melanin=strength
        )
        mask = spot_mask(phantom_skin_image(make_phantom(spec)))
        found.append(cv2.connectedComponents(mask.astype(np.uint8))[0] - 1)
    assert found == [0, 5]


@pytest.mark.parametrize("kind", ["pigment", "red"])
def test_plain_skin_has_no_patches_and_unknown_kinds_are_refused(kind: str) -> None:
    img = phantom_skin_image(make_phantom(PhantomSpec(size_px=(64, 64))))
    lc = local_contrast(img.rgb_linear, img.skin, img.scale_mm)
    out = patches(lc, kind, img.scale_mm, diameter_mm=(1, 15), max_elongation=4, edge_mm=1)
    assert out.shape == (64, 64) and not out.any()
    with pytest.raises(ValueError, match="kind"):
        patches(lc, "blue", img.scale_mm, diameter_mm=(1, 15), max_elongation=4, edge_mm=1)


def _skin_with(od_melanin: np.ndarray) -> torch.Tensor:
    """Linear RGB of light skin with *od_melanin* (H, W) added in melanin optical density."""
    base = torch.tensor([0.45, 0.30, 0.22]).view(3, 1, 1)
    spec = torch.tensor(MELANIN_OD).view(3, 1, 1)
    od = torch.from_numpy(od_melanin.astype(np.float32))[None] * spec
    return base * torch.pow(10.0, -od)


def _soft_disk(shape: tuple[int, int], row: float, col: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d = np.hypot(yy - row, xx - col)
    return np.clip((radius + 2.0 - d) / 4.0, 0.0, 1.0)


def test_a_spot_merged_with_a_pigmented_band_is_cut_out_of_it() -> None:
    # a 4 mm macule on the end of a mildly pigmented 30 x 5 mm band: at half its peak the
    # two are one elongated patch; cut again higher, the macule stands alone and is kept,
    # the band (elongated) is not
    scale = 0.2
    shape = (200, 200)
    band = np.zeros(shape)
    band[88:113, 25:175] = 1.0
    band = cv2.GaussianBlur(band, (0, 0), 2.0)
    od = 0.06 * band + 0.05 * _soft_disk(shape, 100, 160, 10.0)
    lc = local_contrast(_skin_with(od), torch.ones(shape, dtype=torch.bool), scale)
    out = patches(lc, "pigment", scale, diameter_mm=(1, 15), max_elongation=2.5, edge_mm=1)
    assert out[100, 160]
    assert not out[100, 60:120].any()
    labels = cv2.connectedComponents(out.astype(np.uint8))[0] - 1
    assert labels == 1


def test_ring_difference_isolated_spot_versus_piece_of_a_patch() -> None:
    scale = 0.2
    shape = (160, 160)
    od = 0.08 * _soft_disk(shape, 50, 50, 10.0) + 0.08 * _soft_disk(shape, 110, 110, 45.0)
    lc = local_contrast(_skin_with(od), torch.ones(shape, dtype=torch.bool), scale)
    labels = np.zeros(shape, dtype=np.int32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels[np.hypot(yy - 50, xx - 50) <= 9] = 1  # the isolated spot
    labels[np.hypot(yy - 110, xx - 110) <= 9] = 2  # a piece of the middle of a 18 mm patch
    de = ring_difference(lc, labels, 2, labels > 0, scale)
    assert de[1] > 4.0  # as visible against its ring as it is
    assert de[2] < 1.0  # no different from the skin around it


def _skin_darkened(od_grey: np.ndarray) -> torch.Tensor:
    """Linear RGB of light skin darkened by *od_grey* (H, W) of NEUTRAL optical density."""
    base = torch.tensor([0.45, 0.30, 0.22]).view(3, 1, 1)
    return base * torch.pow(10.0, -torch.from_numpy(od_grey.astype(np.float32))[None])


def _count(mask: np.ndarray) -> int:
    return int(cv2.connectedComponents(mask.astype(np.uint8))[0] - 1)


def test_dark_achromatic_macules_are_spots_shading_pockets_and_dots_are_not() -> None:
    # a dense naevus darkens every channel alike: the shading-matched judgement of patches()
    # sees nothing, dark_macules() counts it. A pocket as dark in a darker area (a nostril
    # rim) and a sub-resolution dot (a stubble follicle) are not spots.
    scale = 0.1
    shape = (300, 300)
    od = 0.15 * _soft_disk(shape, 60, 60, 12.0)  # 2.4 mm naevus on plain skin
    od += 0.2 * _soft_disk(shape, 200, 200, 60.0)  # a 12 mm shadowed area ...
    od += 0.06 * _soft_disk(shape, 200, 200, 12.0)  # ... darkest in a pocket
    lc = local_contrast(_skin_darkened(od), torch.ones(shape, dtype=torch.bool), scale)
    kw = {"diameter_mm": (1.0, 15.0), "edge_mm": 1.0}
    assert not patches(lc, "pigment", scale, max_elongation=4, **kw)[60, 60]
    dark = dark_macules(lc, scale, **kw)
    assert dark[60, 60] and _count(dark) == 1
    # the same naevus 3 px across on a 0.4 mm/px photo: a dot, not a measurable macule
    small = np.zeros((120, 120))
    small += 0.3 * _soft_disk((120, 120), 60, 60, 1.0)
    lc = local_contrast(_skin_darkened(small), torch.ones((120, 120), dtype=torch.bool), 0.4)
    assert not dark_macules(lc, 0.4, **kw).any()


def test_demo_close_ups_count_their_visible_spots() -> None:
    # the issue's first complaint: `make demo`'s close-ups show several dark macules (six
    # drawn, 0.6-1.5 mm at half maximum, one under the 1 mm lower size) and said 0
    from analysis.pipeline import Analyzer
    from analysis.types import ImageDescription
    from dicom_node.demo import synthetic_closeup

    analyzer = Analyzer("cpu")
    for seed in (7, 11):
        r = analyzer.analyze(
            synthetic_closeup(seed=seed), ImageDescription(view="close-up", spacing_mm=0.05)
        )
        count = next(m.value for m in r.measurements if m.key == "pigmentation.spots.count")
        assert 4 <= count <= 6
