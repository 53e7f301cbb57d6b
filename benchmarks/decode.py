"""Decoding a 12-megapixel JPEG Baseline photo: DermNode's decoder against pydicom's default.

The photo is the one of ``benchmarks/end_to_end.py`` (the bundled astronaut photo upscaled to
4000 x 3000, JPEG q92, YBR_FULL_422, as a camera writes it). Each row decodes the same
dataset to RGB ``--repeats`` times in this process; the reference is pydicom's own plugin
order (python-gdcm first), and every row is checked to give the reference's pixels.

    python benchmarks/decode.py
    python benchmarks/decode.py --megapixels 24 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pydicom  # noqa: E402
from pydicom.pixels.utils import pixel_array  # noqa: E402

from benchmarks.end_to_end import face_views, make_study  # noqa: E402
from dicom_node.decode import decode_dataset  # noqa: E402


def _times(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    out = fn()  # first call outside the timing (plugin imports)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_study(Path(tmp), face_views(a.megapixels)[:1], 0)[0]
        ds = pydicom.dcmread(path)
    rows: list[tuple[str, list[float], np.ndarray]] = []
    for name, fn in (
        (
            "pydicom default order (python-gdcm)",
            lambda: pixel_array(ds, raw=False, as_rgb=True),
        ),
        (
            "Pillow (libjpeg-turbo)",
            lambda: pixel_array(ds, raw=False, as_rgb=True, decoding_plugin="pillow"),
        ),
        ("DermNode decode_dataset", lambda: decode_dataset(ds)[0].pixels),
    ):
        times, arr = _times(fn, a.repeats)
        rows.append((name, times, arr))
    ref_name, ref_times, ref = rows[0]
    ref_best = min(ref_times)
    print(
        f"JPEG Baseline YBR_FULL_422, {ds.Columns}x{ds.Rows} "
        f"({ds.Rows * ds.Columns / 1e6:.1f} MP), "
        f"best of {a.repeats}; reference: {ref_name}"
    )
    print("| decoder | best (s) | median (s) | time / reference | pixels equal reference |")
    print("|---|---:|---:|---:|---|")
    for name, times, arr in rows:
        same = arr.shape == ref.shape and bool(np.array_equal(arr, ref))
        print(
            f"| {name} | {min(times):.3f} | {statistics.median(times):.3f} | "
            f"{min(times) / ref_best:.2f} | {'yes' if same else 'NO'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
