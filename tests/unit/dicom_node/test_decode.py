"""DICOM decoding: YBR_FULL_422 JPEG baseline -> RGB, spacing, view heuristic, ICC."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid
from skimage import data

from analysis.errors import InputRejected
from analysis.types import View
from dicom_node.decode import decode_dataset, decode_dicom, guess_view, is_dicom_file

VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"


def _base(rows: int, cols: int, ts: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = VL_PHOTO
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = VL_PHOTO
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = "PHI^SENTINEL"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PlanarConfiguration = 0
    return ds


def _jpeg_ds(rgb: np.ndarray) -> Dataset:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95, subsampling=1)  # 4:2:2
    ds = _base(rgb.shape[0], rgb.shape[1], JPEGBaseline8Bit)
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    return ds


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[100:228, 150:310])


def test_ybr_full_422_jpeg_decodes_to_rgb(photo: np.ndarray, tmp_path: Path) -> None:
    ds = _jpeg_ds(photo)
    ds.PixelSpacing = [0.2, 0.2]
    path = tmp_path / "photo.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert is_dicom_file(path)
    [img] = decode_dicom(path)
    assert img.pixels.dtype == np.uint8 and img.pixels.shape == photo.shape
    err = np.abs(img.pixels.astype(int) - photo.astype(int))
    # JPEG q95 with 4:2:2 chroma: small mean error; a YBR-as-RGB mistake gives ~100
    assert err.mean() < 4.0
    assert np.abs(img.pixels.mean((0, 1)) - photo.mean((0, 1))).max() < 2.0
    assert img.description.spacing_mm == pytest.approx(0.2)
    assert img.description.view is View.FRONTAL


@pytest.mark.parametrize("pi", ["YBR_FULL_422", "YBR_FULL"])
def test_jpeg_baseline_by_pillow_equals_gdcm(photo: np.ndarray, pi: str) -> None:
    """The Pillow-first path gives python-gdcm's pixels, and falls back when Pillow fails."""
    from pydicom.pixels.utils import pixel_array

    import dicom_node.decode as decode_mod

    ds = _jpeg_ds(photo)
    ds.PhotometricInterpretation = pi  # same bitstream: JFIF YCbCr either way
    [img] = decode_dataset(ds)
    by_gdcm = pixel_array(ds, raw=False, as_rgb=True, decoding_plugin="gdcm")
    assert np.array_equal(img.pixels, by_gdcm)

    calls: list[str | None] = []
    real = decode_mod.pixel_array

    def pillow_fails(*args, **kwargs):
        calls.append(kwargs.get("decoding_plugin"))
        if kwargs.get("decoding_plugin") == "pillow":
            raise RuntimeError("simulated Pillow failure")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode_mod, "pixel_array", pillow_fails)
        [again] = decode_dataset(ds)
    assert calls == ["pillow", None]  # Pillow first, then pydicom's own plugin order
    assert np.array_equal(again.pixels, by_gdcm)


def test_native_rgb_and_multiframe(photo: np.ndarray) -> None:
    ds = _base(photo.shape[0], photo.shape[1], ExplicitVRLittleEndian)
    ds.PhotometricInterpretation = "RGB"
    frames = np.stack([photo, photo[::-1].copy()])
    ds.NumberOfFrames = 2
    ds.PixelData = frames.tobytes()
    ds.ImagerPixelSpacing = [0.1, 0.1]
    first = decode_dataset(ds)
    both = decode_dataset(ds, frames="all")
    assert len(first) == 1 and len(both) == 2
    assert np.array_equal(first[0].pixels, photo)
    assert np.array_equal(both[1].pixels, photo[::-1])
    assert both[1].description.source.endswith("#frame2")
    assert first[0].description.spacing_mm == pytest.approx(0.1)
    with pytest.raises(ValueError, match="frames"):
        decode_dataset(ds, frames="some")


def test_icc_profile_is_applied(photo: np.ndarray) -> None:
    ds = _base(photo.shape[0], photo.shape[1], ExplicitVRLittleEndian)
    ds.PhotometricInterpretation = "RGB"
    ds.PixelData = photo.tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    ds.ICCProfile = srgb
    [img] = decode_dataset(ds)
    # sRGB -> sRGB is (nearly) the identity
    assert np.abs(img.pixels.astype(int) - photo.astype(int)).max() <= 2


def test_view_heuristic() -> None:
    ds = Dataset()
    assert guess_view(ds) is View.FRONTAL
    item = Dataset()
    item.CodeMeaning = "Left lateral"
    ds.ViewCodeSequence = Sequence([item])
    assert guess_view(ds) is View.LEFT
    ds2 = Dataset()
    ds2.ImageLaterality = "R"
    assert guess_view(ds2) is View.RIGHT
    ds3 = Dataset()
    ds3.BodyPartExamined = "ARM"
    assert guess_view(ds3) is View.CLOSE_UP
    ds4 = Dataset()
    ds4.SOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.7"
    assert guess_view(ds4) is View.DERMOSCOPY


def test_unreadable_and_pixel_less_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    with pytest.raises(InputRejected):
        decode_dicom(bad)
    assert not is_dicom_file(tmp_path / "missing.dcm")
    with pytest.raises(InputRejected, match="Pixel Data"):
        decode_dataset(_base(4, 4, ExplicitVRLittleEndian))


def test_uint16_photo_is_scaled_to_16_bits() -> None:
    ds = _base(8, 8, ExplicitVRLittleEndian)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PhotometricInterpretation = "RGB"
    arr = np.full((8, 8, 3), 4095, np.uint16)
    ds.PixelData = arr.tobytes()
    [img] = decode_dataset(ds)
    assert img.pixels.dtype == np.uint16 and int(img.pixels.max()) == 65520
