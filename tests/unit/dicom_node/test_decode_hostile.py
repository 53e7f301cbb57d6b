"""Malformed and oversized photos: decoded where possible, rejected with a reason otherwise.

Built by :mod:`tests.hostile` from a real face photo; each case is what a careless modality,
an old archive or an attacker sends (issue 14). No case may raise anything but
``InputRejected``, and no reason may quote a patient value.
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest

from analysis.errors import InputRejected
from analysis.types import View
from dicom_node import setup
from dicom_node.analyze_cmd import analyze_command, load_each
from dicom_node.decode import (
    DecodeLimits,
    check_limits,
    clean_uid,
    codestream_size,
    decode_dicom,
    read_dataset,
    sanitize_source,
)
from dicom_node.logging_setup import SafeFormatter, safe_traceback
from tests import hostile as H

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _flags() -> Iterator[None]:
    before = pydicom.config.settings.reading_validation_mode
    setup.apply()
    yield
    pydicom.config.settings.reading_validation_mode = before


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return H.photo(128)


@pytest.mark.parametrize("name", sorted(H.READABLE))
def test_malformed_but_usable_photos_decode(name: str, rgb: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.dcm"
    path.write_bytes(H.READABLE[name](rgb))
    [img] = decode_dicom(path)
    assert img.pixels.shape == rgb.shape and img.pixels.dtype == np.uint8
    # the same photo comes back (JPEG/palette loss only): colours right, not swapped/YCbCr
    err = np.abs(img.pixels.astype(int) - rgb.astype(int)).mean(axis=(0, 1))
    assert (err < 6).all(), err


def test_rgb_declared_over_ycbcr_jpeg_is_converted(rgb: np.ndarray, tmp_path: Path) -> None:
    """Without the stream check, the YCbCr samples would come back as if they were RGB."""
    path = tmp_path / "x.dcm"
    path.write_bytes(H.rgb_over_ycbcr_jpeg(rgb))
    ds = read_dataset(path)
    with pytest.warns(UserWarning, match="JFIF"):  # pydicom sees the mismatch too
        raw = pydicom.pixels.pixel_array(ds, raw=True)
    assert np.abs(raw.astype(int) - rgb.astype(int)).mean() > 20  # what it would have been
    [img] = decode_dicom(path)
    assert np.abs(img.pixels.astype(int) - rgb.astype(int)).mean() < 3


def test_bare_dataset_without_preamble_and_meta_is_read(rgb: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "sc"
    path.write_bytes(H.bare_palette_sc(rgb))
    assert path.read_bytes()[128:132] != b"DICM"
    ds = read_dataset(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ImplicitVRLittleEndian


def test_garbage_and_truncated_files_are_rejected_with_the_file_name(
    rgb: np.ndarray, tmp_path: Path
) -> None:
    good = H.to_bytes(H.jpeg(rgb))
    cases = {
        "empty.dcm": b"",
        "garbage.dcm": b"\x00" * 128 + b"DICM" + bytes(range(256)) * 4,
        "truncated.dcm": good[: len(good) // 2],
        "text.dcm": b"hello",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputRejected) as info:
            decode_dicom(tmp_path / name)
        assert name in str(info.value) or "Pixel Data" in str(info.value)


@pytest.mark.parametrize("bomb", [H.jpeg_bomb, H.rle_bomb])
def test_decompression_bombs_are_rejected_before_decoding(bomb: object, tmp_path: Path) -> None:
    data = bomb()  # type: ignore[operator]
    assert len(data) < 70_000
    path = tmp_path / "bomb.dcm"
    path.write_bytes(data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputRejected, match=r"20000 x 20000 pixels.*max_image_pixels"):
        decode_dicom(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB


def test_codestream_larger_than_its_rows_and_columns_is_caught(tmp_path: Path) -> None:
    """Rows/Columns say 64 x 64; the JPEG's own SOF says 20000 x 20000."""
    raw = H.jpeg_bomb()
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(raw))
    ds.Rows = ds.Columns = 64
    assert codestream_size(ds) == (20000, 20000)
    with pytest.raises(InputRejected, match="encodes 20000 x 20000"):
        check_limits(ds, DecodeLimits())


def test_limits_are_configurable(rgb: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "p.dcm"
    path.write_bytes(H.to_bytes(H.jpeg(rgb)))
    with pytest.raises(InputRejected, match="max_image_pixels"):
        decode_dicom(path, limits=DecodeLimits(max_image_pixels=128 * 128 - 1))
    with pytest.raises(InputRejected, match="max_decoded_mb"):
        decode_dicom(path, limits=DecodeLimits(max_decoded_bytes=1000))
    assert decode_dicom(path, limits=DecodeLimits(max_image_pixels=128 * 128))


def test_sanitize_leaves_out_malformed_copied_attributes(rgb: np.ndarray, tmp_path: Path) -> None:
    cases = {
        "bad_birth_date": ["PatientBirthDate"],
        "person_name_wrong_vr": ["PatientName"],
        "huge_name": ["PatientName"],
        "invalid_ds_is": ["InstanceNumber", "NumberOfFrames", "PixelSpacing"],
        "icon_sequence": [],
    }
    for name, expected in cases.items():
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(H.READABLE[name](rgb))
        ds = read_dataset(path)
        clean, removed = sanitize_source(ds)
        assert sorted(removed) == expected, name
        for kw in expected:
            assert kw not in clean and kw in ds  # the original is untouched
        assert str(clean.SOPInstanceUID) == str(ds.SOPInstanceUID)


def test_uids_are_kept_as_stored_and_sop_class_lookups_tolerate_quotes(
    rgb: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "q.dcm"
    path.write_bytes(H.quoted_uids(rgb))
    ds = read_dataset(path)
    clean, _ = sanitize_source(ds)
    assert str(clean.SOPInstanceUID).startswith('"')  # exactly as stored
    assert str(clean.StudyInstanceUID).startswith("'")
    assert clean.SOPClassUID == H.VL_PHOTO
    assert clean_uid(" '1.2.3'\x00") == "1.2.3"
    ds.SOPClassUID = f"'{H.DERMOSCOPY}' "
    from dicom_node.decode import guess_view

    assert guess_view(ds) is View.DERMOSCOPY


def test_rejection_reasons_never_quote_patient_values(rgb: np.ndarray, tmp_path: Path) -> None:
    """A decoder failure on a photo with a sentinel name keeps the name out of the reason."""
    ds = H.jpeg(rgb)
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8" + b"PHI^SENTINEL" * 50])
    path = tmp_path / "broken.dcm"
    path.write_bytes(H.to_bytes(ds))
    with pytest.raises(InputRejected) as info:
        decode_dicom(path)
    assert "SENTINEL" not in str(info.value)


def test_safe_formatter_withholds_exception_messages() -> None:
    try:
        try:
            raise ValueError(f"Unable to convert '{H.SENTINEL_BIRTH}' to 'DA' object")
        except ValueError as inner:
            raise RuntimeError("wrapped PHI^SENTINEL") from inner
    except RuntimeError as exc:
        text = safe_traceback(exc)
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
        formatted = SafeFormatter("%(message)s").format(record)
    for out in (text, formatted):
        assert "ValueError" in out and "RuntimeError" in out
        assert H.SENTINEL_BIRTH not in out and "SENTINEL" not in out
        assert "test_decode_hostile.py" in out


def test_load_each_isolates_each_input(rgb: np.ndarray, tmp_path: Path) -> None:
    paths = []
    for name, data in (
        ("good.dcm", H.to_bytes(H.jpeg(rgb))),
        ("bomb.dcm", H.rle_bomb()),
        ("birth.dcm", H.bad_birth_date(rgb)),
        ("junk.png", b"\x89PNG not really"),
    ):
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    loaded, failed = load_each([*paths, tmp_path / "missing.dcm"])
    assert [i.path.name for i in loaded] == ["good.dcm", "birth.dcm"]
    assert [Path(p).name for p, _ in failed] == ["bomb.dcm", "junk.png", "missing.dcm"]
    assert "max_image_pixels" in failed[0][1] and "no such file" in failed[2][1]


def test_analyze_prints_json_for_what_it_could_and_names_the_rest(
    rgb: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = H.photo(256)
    good, birth, bomb = tmp_path / "good.dcm", tmp_path / "birth.dcm", tmp_path / "bomb.dcm"
    good.write_bytes(H.to_bytes(H.jpeg(big)))
    birth.write_bytes(H.bad_birth_date(big))
    bomb.write_bytes(H.jpeg_bomb())
    status = analyze_command(
        [str(good), str(bomb), str(birth)], out=str(tmp_path / "out"), device="cpu"
    )
    captured = capsys.readouterr()
    assert status == 2  # one input not usable
    doc = json.loads(captured.out)
    assert [Path(i["source"]).name for i in doc["images"]] == ["good.dcm", "birth.dcm"]
    assert doc["outputs"]["sr"] and len(doc["outputs"]["seg"]) >= 2  # outputs written too
    assert f"{bomb}: " in captured.err and "max_image_pixels" in captured.err
    assert "SENTINEL" not in captured.err and H.SENTINEL_BIRTH not in captured.err
    births = {str(pydicom.dcmread(p).PatientBirthDate) for p in doc["outputs"]["seg"]}
    assert births == {"19700523", ""}  # the malformed value left out, Type 2 written empty


def test_analyze_with_nothing_usable_still_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.dcm"
    bomb.write_bytes(H.rle_bomb())
    assert analyze_command([str(bomb)], device="cpu") == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["images"] == []
    assert "bomb.dcm" in captured.err


def test_bomb_peak_memory_in_a_fresh_process(tmp_path: Path) -> None:
    """The whole ``dermnode analyze`` on a 20000 x 20000 bomb stays far below its 1.2 GB.

    VmHWM (the peak resident set of this process image; ``ru_maxrss`` would carry the forking
    pytest process's peak over the exec)."""
    bomb = tmp_path / "bomb.dcm"
    bomb.write_bytes(H.jpeg_bomb())
    code = (
        "import re, sys; from dicom_node.cli import main; "
        f"rc = main(['analyze', {str(bomb)!r}, '--device', 'cpu']); "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print('PEAK_KB', hwm, file=sys.stderr); sys.exit(rc)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 2, run.stderr[-2000:]
    peak_kb = int(run.stderr.split("PEAK_KB")[1].split()[0])
    assert peak_kb < 600_000, peak_kb  # the decoded bomb alone would be 1 200 000 kB
