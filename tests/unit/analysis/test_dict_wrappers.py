"""The MONAI dict wrappers honour their keys and delegate to their array transforms (issue 11).

A wrapper configured with other key names must read and write only those names, and give the
same values as its array transform called directly.
"""

from __future__ import annotations

import numpy as np
import torch

from analysis.pipeline import (
    Frame,
    PixelSpacing,
    PixelSpacingd,
    ToLab,
    ToLabd,
    ToLinearRGB,
    ToLinearRGBd,
    WhiteBalance,
    WhiteBalanced,
    WorkingFrame,
    WorkingFramed,
)
from analysis.types import ImageDescription, SpacingSource, View


def _photo() -> np.ndarray:
    rng = np.random.default_rng(3)
    img = np.full((96, 128, 3), (150, 120, 100), np.uint8)
    img += rng.integers(0, 20, img.shape, dtype=np.uint8)
    return img


def test_colour_wrappers_use_the_given_keys_and_match_their_array_transforms() -> None:
    dev = torch.device("cpu")
    photo = _photo()
    d = {"src": photo, "f": None}
    d = ToLinearRGBd(dev, keys="src", output_key="lin")(d)
    assert set(d) == {"src", "f", "lin"}
    assert torch.equal(d["lin"], ToLinearRGB(dev)(photo))

    before = d["lin"].clone()
    d = WhiteBalanced(keys="lin", source_key="src", face_key="f", gains_key="g")(d)
    assert set(d) == {"src", "f", "lin", "g"}
    wb = WhiteBalance()
    gains = wb.scene_gains(photo, None, dev)
    assert torch.allclose(d["g"], gains)
    assert torch.allclose(d["lin"], wb(before, gains))

    d = ToLabd(keys="lin", output_key="L")(d)
    assert "lab" not in d and torch.allclose(d["L"], ToLab()(d["lin"]))


def test_frame_and_spacing_wrappers_use_the_given_keys() -> None:
    photo = _photo()
    d = {"p": photo, "nf": None, "desc": ImageDescription(view=View.CLOSE_UP, spacing_mm=0.2)}
    d = WorkingFramed(keys="p", face_key="nf", work_key="w", frame_key="fr", face_work_key="fw")(d)
    assert {"w", "fr", "fw"} <= set(d) and "work" not in d and d["fw"] is None
    work, fr = WorkingFrame()(photo, None)
    assert np.array_equal(d["w"], work) and isinstance(d["fr"], Frame)

    d = PixelSpacingd(
        keys="desc",
        frame_key="fr",
        face_key="nf",
        spacing_key="sp",
        spacing_work_key="spw",
        scale_work_key="scw",
    )(d)
    assert "spacing" not in d
    spacing, spacing_work, scale_work = PixelSpacing()(d["desc"], d["fr"], None)
    assert d["sp"] == spacing and d["sp"].source is SpacingSource.PIXEL_SPACING
    assert d["spw"] == spacing_work and d["scw"] == scale_work > 0
