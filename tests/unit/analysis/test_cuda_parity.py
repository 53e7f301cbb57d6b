"""CPU/CUDA parity of every measure on a phantom (the CUDA test is skipped without CUDA).

The CPU smooths with OpenCV and CUDA with PyTorch multiply-adds; a second test runs the
PyTorch path on the CPU too, so the two code paths are compared on every machine.

Tolerances: indices and percentages within 1 % relative (or 0.05 absolute); counts within
1 or 2 % (a threshold decision can flip on float rounding); maps agree on >= 99.5 % of
pixels (binary) or within 1e-3 (continuous).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.measures import MEASURES, filters
from analysis.measures.base import SkinImage
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from analysis.types import MapKind
from tests.unit.analysis.measures_helpers import halves

SPEC = PhantomSpec(
    size_px=(600, 640),
    n_spots=6,
    n_pores=80,
    n_fine_lines=3,
    n_wrinkles=2,
    red_patch_radius_mm=5.0,
    n_lesions=3,
    shine_radius_mm=4.0,
    texture=0.01,
)


def _compare(cpu: SkinImage, other: SkinImage, monkeypatch=None) -> None:
    for fn in MEASURES:
        a = fn(cpu)
        if monkeypatch is not None:
            with monkeypatch.context() as mp:
                mp.setattr(filters, "_USE_OPENCV", False)
                b = fn(other)
        else:
            b = fn(other)
        va = {(m.key, m.region): m for m in a.measurements}
        vb = {(m.key, m.region): m for m in b.measurements}
        assert va.keys() == vb.keys()
        for k, ma in va.items():
            mb = vb[k]
            assert ma.unit == mb.unit
            if ma.unit == "{count}":
                assert abs(ma.value - mb.value) <= max(1.0, 0.02 * ma.value), k
            else:
                assert mb.value == pytest.approx(ma.value, rel=0.01, abs=0.05), k
        for ma, mb in zip(a.maps, b.maps, strict=True):
            assert ma.name == mb.name
            if ma.kind is MapKind.BINARY:
                assert np.mean(ma.data == mb.data) >= 0.995, ma.name
            else:
                assert np.abs(ma.data - mb.data).max() < 1e-3, ma.name


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_every_measure_agrees_on_cpu_and_cuda():
    ph = make_phantom(SPEC)
    regions = halves(ph.image.shape[:2])
    cpu = phantom_skin_image(ph, regions=regions, device="cpu")
    gpu = phantom_skin_image(ph, regions=regions, device="cuda")
    _compare(cpu, gpu)


def test_opencv_and_torch_smoothing_paths_agree_on_cpu(monkeypatch):
    ph = make_phantom(SPEC)
    img = phantom_skin_image(ph, regions=halves(ph.image.shape[:2]))
    _compare(img, img, monkeypatch)
