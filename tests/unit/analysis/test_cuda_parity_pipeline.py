"""The same photo on CPU and CUDA gives the same results, to a tolerance (skipped without CUDA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from analysis.pipeline import Analyzer
from analysis.types import ImageDescription

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

#: Relative tolerance for continuous values; counts may differ by one feature at a threshold.
RTOL = 0.01


def test_cpu_and_cuda_agree() -> None:
    img = data.astronaut()
    cpu = Analyzer("cpu").analyze(img, ImageDescription(source="a"))
    gpu = Analyzer("cuda").analyze(img, ImageDescription(source="a"))
    assert cpu.quality == gpu.quality
    a = {(m.key, m.region): m.value for m in cpu.measurements}
    b = {(m.key, m.region): m.value for m in gpu.measurements}
    assert a.keys() == b.keys()
    bad = []
    for k, v in a.items():
        w = b[k]
        limit = 1.0 if k[0].endswith("count") else RTOL * max(abs(v), 1e-3)
        if abs(v - w) > limit:
            bad.append((k, v, w))
    assert bad == []
    for z1, z2 in zip(cpu.zones, gpu.zones, strict=True):
        assert z1.region == z2.region
        assert (z1.mask != z2.mask).mean() < 0.002
    for s in cpu.scores:
        assert gpu.scores[s] == pytest.approx(cpu.scores[s], abs=1.0)
    assert np.isfinite(list(gpu.scores.values())).all()
