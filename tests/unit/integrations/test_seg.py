"""Segmentations read back: pixels equal the masks, coding and types as documented."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from analysis.types import ImageResult, ZoneMask
from integrations.dicom_common import Equipment
from integrations.dicom_seg import SegOutput, build_segmentations
from integrations.errors import EncodingError
from integrations.uids import OutputUids
from tests.unit.integrations import fakes


def _build(image: ImageResult | None = None) -> tuple[ImageResult, Dataset, list[SegOutput]]:
    image = image or fakes.image_result(0)
    src = fakes.source_dataset(0)
    uids = OutputUids.of([src.SOPInstanceUID], "dermnode", "0.1.0")
    eq = Equipment("DermNode project", "dermnode", "0.1.0")
    return image, src, build_segmentations(image, src, uids, eq, instance_number=1)


def _roundtrip(ds: Dataset, tmp_path) -> Dataset:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path)
    return dcmread(path)


@pytest.fixture(scope="module")
def built() -> tuple[ImageResult, Dataset, list[SegOutput]]:
    return _build()


def test_binary_and_fractional_objects(built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, outs = built
    assert [o.dataset.SegmentationType for o in outs] == ["BINARY", "FRACTIONAL", "BINARY"]
    assert [o.dataset.ContentLabel for o in outs] == ["ZONES", "MAPS", "LEVELS"]
    binary = _roundtrip(outs[0].dataset, tmp_path)
    assert binary.BitsAllocated == 1  # bit-packed
    assert len(binary.PixelData) == 10 * fakes.ROWS * fakes.COLS // 8
    frac = _roundtrip(outs[1].dataset, tmp_path)
    assert frac.SegmentationFractionalType == "OCCUPANCY"
    assert frac.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5"  # RLE Lossless


def test_binary_pixels_equal_the_masks(built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    image, _, outs = built
    seg = hd.seg.segread(_roundtrip(outs[0].dataset, tmp_path).filename)
    truth = {z.region: z.mask for z in image.zones} | {m.name: m.data for m in image.maps}
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    assert sorted(labels.values()) == sorted(
        [z.region for z in image.zones] + ["spots", "wrinkles"]
    )
    frames = seg.pixel_array
    for i, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        assert np.array_equal(frames[i].astype(bool), truth[labels[number]])


def test_fractional_pixels_equal_the_maps(built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    image, _, outs = built
    seg = _roundtrip(outs[1].dataset, tmp_path)
    maps = {m.name: m.data for m in image.maps}
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    frames = seg.pixel_array
    for i, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        name = labels[int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)]
        got = frames[i].astype(np.float32) / 255.0
        assert np.max(np.abs(got - maps[name])) <= 0.5 / 255 + 1e-6


def test_each_segmentation_in_a_series_of_its_own(built) -> None:  # type: ignore[no-untyped-def]
    _, _, outs = built
    series = [str(o.dataset.SeriesInstanceUID) for o in outs]
    assert len(set(series)) == 3
    assert [int(o.dataset.SeriesNumber) for o in outs] == [9002, 9005, 9006]
    assert all(int(o.dataset.InstanceNumber) == 1 for o in outs)
    assert all(o.dataset.SeriesDate == o.dataset.ContentDate for o in outs)
    assert [o.dataset.SeriesDescription for o in outs] == [
        "DermNode zones + findings (front)",
        "DermNode intensity maps (front)",
        "DermNode map levels (front)",
    ]
    # a second photo gets its own series, numbered 10 further on
    image = fakes.image_result(1)
    src = fakes.source_dataset(1)
    uids = OutputUids.of([fakes.source_uid(0), src.SOPInstanceUID], "dermnode", "0.1.0")
    eq = Equipment("DermNode project", "dermnode", "0.1.0")
    second = build_segmentations(image, src, uids, eq, photo_index=1)
    assert int(second[0].dataset.SeriesNumber) == 9012
    assert not {str(o.dataset.SeriesInstanceUID) for o in second} & set(series)


def test_shared_geometry_for_viewers(built) -> None:  # type: ignore[no-untyped-def]
    image, _, outs = built
    for out in outs:
        shared = out.dataset.SharedFunctionalGroupsSequence[0]
        spacing = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
        assert spacing == [image.spacing.value, image.spacing.value] == [0.25, 0.25]
        orientation = shared.PlaneOrientationSequence[0].ImageOrientationPatient
        assert [float(v) for v in orientation] == [1, 0, 0, 0, 1, 0]
        # the fake's spacing is an estimate: the description says so
        assert out.dataset.ContentDescription.endswith("(spacing estimated)")


def test_levels_of_the_continuous_maps(built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    image, _, outs = built
    seg = _roundtrip(outs[2].dataset, tmp_path)
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    maps = {m.name: m.data for m in image.maps}
    expected = [
        f"{name} >= {pct}%"
        for name in ("melanin", "erythema")
        for pct, level in (("50", 0.5), ("75", 0.75))
        if (maps[name] >= level).any()
    ]
    assert sorted(labels.values()) == sorted(expected) and expected
    frames = seg.pixel_array
    for i, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        label = labels[int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)]
        name, pct = label.split(" >= ")
        truth = maps[name] >= int(pct.rstrip("%")) / 100
        assert np.array_equal(frames[i].astype(bool), truth)


def test_segment_coding(built) -> None:  # type: ignore[no-untyped-def]
    _, _, outs = built
    segs = {str(s.SegmentLabel): s for s in outs[0].dataset.SegmentSequence}
    cheek = segs["cheek_left"]
    assert cheek.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "91723000"
    prop = cheek.SegmentedPropertyTypeCodeSequence[0]
    assert (prop.CodeValue, prop.CodingSchemeDesignator) == ("36141000", "SCT")
    assert prop.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue == "7771000"
    # the modifier must not leak into the shared code constant (right cheek has its own)
    right = segs["cheek_right"].SegmentedPropertyTypeCodeSequence[0]
    assert right.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue == "24028007"
    assert (
        "SegmentedPropertyTypeModifierCodeSequence"
        not in (segs["forehead"].SegmentedPropertyTypeCodeSequence[0])
    )
    spots = segs["spots"]
    assert spots.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator == "99DRMN"
    assert spots.SegmentAlgorithmType == "AUTOMATIC"
    algo = spots.SegmentationAlgorithmIdentificationSequence[0]
    assert (algo.AlgorithmName, algo.AlgorithmVersion) == ("dermnode", "0.1.0")
    assert "background-subtracted blobs" in spots.SegmentDescription
    assert outs[0].dataset.SegmentationType != "LABELMAP"


def test_no_frame_of_reference_and_deterministic(built) -> None:  # type: ignore[no-untyped-def]
    _, src, outs = built
    ds = outs[0].dataset
    assert "FrameOfReferenceUID" not in ds
    assert ds.PatientOrientation == src.get("PatientOrientation", "")
    _, _, again = _build()
    assert again[0].dataset.SOPInstanceUID == ds.SOPInstanceUID
    assert (
        again[0].dataset.DimensionOrganizationSequence[0].DimensionOrganizationUID
        == ds.DimensionOrganizationSequence[0].DimensionOrganizationUID
    )
    assert again[0].dataset.PixelData == ds.PixelData


def test_unusable_photo_gets_no_segmentation() -> None:
    _, _, outs = _build(fakes.unusable_result(0))
    assert outs == []


def test_mask_of_wrong_size_is_refused() -> None:
    image = fakes.image_result(0)
    bad = ImageResult(
        description=image.description,
        image_shape=image.image_shape,
        quality=image.quality,
        spacing=image.spacing,
        zones=(ZoneMask("nose", np.ones((10, 10), bool)),),
    )
    with pytest.raises(EncodingError, match="shape"):
        _build(bad)


_RLE_ODD_FRAME = """
import numpy as np
from pydicom.pixels import get_encoder
from pydicom.uid import RLELossless
from integrations.dicom_seg import use_safe_rle_encoder

use_safe_rle_encoder()
arr = np.random.default_rng(0).integers(0, 255, (433, 577), dtype=np.uint8)
out = get_encoder(RLELossless).encode(
    arr, rows=433, columns=577, samples_per_pixel=1, bits_allocated=8, bits_stored=8,
    pixel_representation=0, photometric_interpretation="MONOCHROME2", number_of_frames=1,
)
print("encoded", len(out))
"""


def test_rle_of_an_odd_sized_frame_does_not_abort_the_process() -> None:
    # python-gdcm's RLE encoder calls std::terminate on odd x odd frames (a fractional SEG of
    # a 433 x 577 photo); run in a subprocess so a regression fails this test, not the suite.
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _RLE_ODD_FRAME], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.startswith("encoded")


def test_rle_encoding_never_uses_gdcm_and_has_pylibjpeg() -> None:
    from pydicom.pixels.encoders.base import get_encoder
    from pydicom.uid import RLELossless

    from integrations.dicom_seg import use_safe_rle_encoder

    use_safe_rle_encoder()
    plugins = get_encoder(RLELossless).available_plugins
    assert "gdcm" not in plugins
    # pylibjpeg-rle (a dependency) is registered before pydicom's pure-Python fallback
    assert {"pylibjpeg", "pydicom"} <= set(plugins)
