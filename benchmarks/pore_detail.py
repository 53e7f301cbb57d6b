"""Pores at the camera's resolution (``Analyzer(detail_mm=)``): time, peak memory, count.

A phantom close-up (``analysis.phantoms``) at 0.07 mm/px, 2400 x 2000 px (168 x 140 mm)
with 600 soft pores of 0.15-0.3 mm, is analysed with the default working frame (long side
1600 px, i.e. 0.105 mm per working pixel) with and without the source tiles of
:class:`analysis.pipeline.CameraDetail`. Each setting runs in its own subprocess; peak RSS is
the kernel's high-water mark reset after the phantom is made.

    python benchmarks/pore_detail.py                # detail 0.1 and off, 2 threads
    python benchmarks/pore_detail.py --threads 2 --size 2400 2000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACING_MM = 0.07


def child(detail_mm: float, threads: int, size: tuple[int, int]) -> None:
    import cv2
    import torch

    sys.path.insert(0, str(ROOT))
    from analysis.phantoms import PhantomSpec, make_phantom
    from analysis.pipeline import Analyzer
    from analysis.quality import QualityThresholds
    from analysis.types import ImageDescription, View

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    n = round(600 * size[0] * size[1] / (2400 * 2000))
    spec = PhantomSpec(
        size_px=size,
        spacing_mm=SPACING_MM,
        n_pores=n,
        pore_diameter_mm=(0.15, 0.3),
        pore_depth=0.08,
        texture=0.004,
    )
    ph = make_phantom(spec)
    analyzer = Analyzer(
        "cpu",
        detail_mm=detail_mm or None,
        # a plain phantom has little Laplacian energy: the blur gate is not measured here
        thresholds=QualityThresholds(min_sharpness=0.1, warn_sharpness=0.2),
    )
    desc = ImageDescription(view=View.CLOSE_UP, spacing_mm=SPACING_MM)
    analyzer.analyze(ph.image[:400, :400].copy(), desc)  # warm-up
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    t0 = time.perf_counter()
    r = analyzer.analyze(ph.image, desc)
    dt = time.perf_counter() - t0
    hwm = [x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM")]
    values = {m.key: m.value for m in r.measurements if m.key.startswith("pores")}
    print(
        json.dumps(
            {
                "detail_mm": detail_mm,
                "s": dt,
                "peak_rss_mb": int(hwm[0].split()[1]) / 1024 if hwm else None,
                "truth": len(ph.truth.pores),
                "count": values.get("pores.count"),
                "mean_d_mm": values.get("pores.mean_diameter_mm"),
                "truth_mean_d_mm": sum(p.diameter_mm for p in ph.truth.pores) / max(n, 1),
            }
        )
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, nargs=2, default=[2400, 2000], metavar=("ROWS", "COLS"))
    p.add_argument("--detail", type=float, nargs="+", default=[0.1, 0.0])
    p.add_argument("--child", type=float, help=argparse.SUPPRESS)
    a = p.parse_args()
    size = (a.size[0], a.size[1])
    if a.child is not None:
        child(a.child, a.threads, size)
        return 0
    print("| detail_mm | time (s) | peak RSS (MB) | pores found / drawn | mean d (mm) / drawn |")
    print("|---|---|---|---|---|")
    for dm in a.detail:
        cmd = [sys.executable, __file__, "--child", str(dm), "--threads", str(a.threads)]
        cmd += ["--size", str(size[0]), str(size[1])]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        x = json.loads(r.stdout.strip().splitlines()[-1])
        d = f"{x['mean_d_mm']:.3f}" if x["mean_d_mm"] is not None else "-"
        found = f"{x['count']} / {x['truth']}"
        print(
            f"| {dm or 'off'} | {x['s']:.2f} | {x['peak_rss_mb']:.0f} | {found} "
            f"| {d} / {x['truth_mean_d_mm']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
