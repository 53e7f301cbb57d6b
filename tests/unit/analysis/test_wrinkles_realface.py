"""Wrinkles on a real face: the nose outline is not a wrinkle, the nasolabial folds are.

The photo is the demo's face (``dicom_node/samples/london_136_03.jpg``, Face Research Lab
London Set, CC BY 4.0). Its nose side walls, alae and base are real valleys of L* (both
flanks brighter), which a valley filter alone reads as lines; the face-mesh outline rule of
:func:`analysis.measures.wrinkles.outline_mask` drops them and keeps the folds that leave the
outline (docs/methods/measures.md, "Wrinkles and fine lines").
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from analysis.measures import wrinkles
from analysis.measures.base import ConcernOutput, SkinImage
from analysis.pipeline import Analyzer
from analysis.types import ImageDescription, View
from dicom_node.demo import sample_photo_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def skin_image() -> SkinImage:
    box: list[SkinImage] = []

    def capture(img: SkinImage) -> ConcernOutput:
        box.append(img)
        return wrinkles.measure(img)

    face = np.array(Image.open(sample_photo_path()).convert("RGB"))
    Analyzer("cpu", measures=[capture], detail_mm=None).analyze(
        face, ImageDescription(source="london_136_03", view=View.FRONTAL)
    )
    assert box, "the demo face was not measured"
    return box[0]


def _lines_along_nose(img: SkinImage, lines: wrinkles.LineSet) -> int:
    """Lines with >= half their pixels within 4 mm inside / 2 mm outside the nose outline."""
    nose = img.regions["nose"].numpy().astype(np.uint8)
    px = 1.0 / img.scale_mm
    inside = cv2.distanceTransform(nose, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - nose, cv2.DIST_L2, 5)
    band = ((nose > 0) & (inside <= 4 * px)) | ((nose == 0) & (outside <= 2 * px))
    n = int(lines.labels.max())
    return sum(band[lines.labels == i].mean() >= 0.5 for i in range(1, n + 1))


def test_nose_outline_is_not_a_wrinkle(skin_image, monkeypatch):
    after = _lines_along_nose(skin_image, wrinkles.detect_lines(skin_image))
    monkeypatch.setattr(wrinkles, "SYMMETRY", 0.0)
    monkeypatch.setattr(  # the measure reads the outlines through its per-frame cache
        wrinkles, "outline_of", lambda img: np.zeros(tuple(img.lab.shape[-2:]), bool)
    )
    before = _lines_along_nose(skin_image, wrinkles.detect_lines(skin_image))
    assert before >= 4  # side walls, alae and base: the filter alone reads them as lines
    assert after <= 1


def test_nasolabial_folds_and_crows_feet_stay(skin_image):
    out = wrinkles.measure(skin_image)
    count = {m.region: m.value for m in out.measurements if m.key == "wrinkles.count"}
    assert count["nasolabial_left"] >= 1
    assert count["nasolabial_right"] >= 1
    assert count["periorbital_left"] + count["periorbital_right"] >= 2
