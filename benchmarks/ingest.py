"""Ingest speed: DermNode vs DCMTK storescp, the same photos sent by storescu, one run.

DermNode runs as ``dermnode serve`` (fsync of every file and of the job store before Success);
storescp writes the files without fsync. Prints MB/s and instances/s for each and the ratio.

    python benchmarks/ingest.py                      # 50 JPEG + 50 uncompressed, 12 MP
    python benchmarks/ingest.py --count 10 --megapixels 12
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydicom.encaps import encapsulate  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid  # noqa: E402

from tests.dicomdata import VL_PHOTOGRAPHIC, make_image, save  # noqa: E402
from tests.peers import free_port  # noqa: E402
from tests.scp_helpers import SCU_AE, node_settings, serve_process, wait_for_port  # noqa: E402


def photo(rows: int, cols: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(90, 230, (rows // 50 + 1, cols // 50 + 1, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((cols, rows), Image.BILINEAR)
    arr = np.asarray(img).astype(np.int16) + rng.integers(-6, 7, (rows, cols, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def make_files(folder: Path, count: int, mp: float) -> tuple[list[Path], list[Path]]:
    cols = int((mp * 1e6 * 4 / 3) ** 0.5)
    rows = int(cols * 3 / 4)
    jpeg_files, raw_files = [], []
    study = generate_uid()
    base = photo(rows, cols, 0)
    for i in range(count):
        arr = np.roll(base, i * 7, axis=1)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=90)
        ds = make_image(VL_PHOTOGRAPHIC, rows=rows, cols=cols, study_uid=study)
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.PixelData = encapsulate([buf.getvalue()])
        ds["PixelData"].VR = "OB"
        from tests.dicomdata import _with_meta

        _with_meta(ds, JPEGBaseline8Bit)
        p = folder / f"jpeg{i:03d}.dcm"
        ds.save_as(p, enforce_file_format=True)
        jpeg_files.append(p)
        ds = make_image(VL_PHOTOGRAPHIC, rows=rows, cols=cols, study_uid=study)
        ds.PixelData = arr.tobytes()
        raw_files.append(save(ds, folder / f"raw{i:03d}.dcm", ExplicitVRLittleEndian))
    return jpeg_files, raw_files


def send(port: int, called: str, files: list[Path], jpeg: bool) -> float:
    args = ["storescu", "-aet", SCU_AE, "-aec", called, "127.0.0.1", str(port)]
    if jpeg:
        args.insert(1, "-xy")
    t0 = time.perf_counter()
    subprocess.run([*args, *map(str, files)], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder)")
    a = ap.parse_args()
    for tool in ("storescu", "storescp"):
        if shutil.which(tool) is None:
            print(f"{tool} not installed (apt-get install dcmtk)", file=sys.stderr)
            return 2
    work = Path(a.dir or tempfile.mkdtemp(prefix="dermnode-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "in").mkdir(exist_ok=True)
    jpeg, raw = make_files(work / "in", a.count, a.megapixels)
    sizes = {"jpeg": sum(p.stat().st_size for p in jpeg), "raw": sum(p.stat().st_size for p in raw)}
    results: dict[tuple[str, str], float] = {}

    port = free_port()
    cfg = node_settings(port, work / "dermnode", min_free_disk_mb=0)
    cfg["logging"] = {"level": "WARNING"}
    proc = serve_process(cfg, work / "node.yaml", work / "node.log")
    try:
        results[("DermNode", "jpeg")] = send(port, "DERMNODE", jpeg, True)
        results[("DermNode", "raw")] = send(port, "DERMNODE", raw, False)
    finally:
        proc.terminate()
        proc.wait()

    port = free_port()
    out = work / "storescp"
    out.mkdir()
    scp = subprocess.Popen(
        ["storescp", "+xa", "-od", str(out), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=scp)
        results[("storescp", "jpeg")] = send(port, "ANY", jpeg, True)
        results[("storescp", "raw")] = send(port, "ANY", raw, False)
    finally:
        scp.terminate()
        scp.wait()

    print(
        f"{a.count} x {a.megapixels:g} MP per set; JPEG {sizes['jpeg'] / 1e6:.0f} MB, "
        f"uncompressed {sizes['raw'] / 1e6:.0f} MB"
    )
    print("| set | receiver | s | MB/s | instances/s | DermNode / storescp |")
    print("|---|---|---|---|---|---|")
    for kind in ("jpeg", "raw"):
        for who in ("DermNode", "storescp"):
            t = results[(who, kind)]
            ratio = results[("storescp", kind)] / results[("DermNode", kind)]
            print(
                f"| {kind} | {who} | {t:.2f} | {sizes[kind] / 1e6 / t:.1f} | "
                f"{a.count / t:.1f} | {ratio:.2f} |"
                if who == "DermNode"
                else f"| {kind} | {who} | {t:.2f} | {sizes[kind] / 1e6 / t:.1f} | "
                f"{a.count / t:.1f} | |"
            )
    shutil.rmtree(work, ignore_errors=True) if a.dir is None else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
