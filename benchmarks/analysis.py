"""Per-photo latency and peak memory of the analysis engine at 2, 12 and 24 megapixels.

Two subjects (``--subjects``):

* ``astronaut``: a head-and-shoulders photo (described below); the face is small, so the
  camera-detail steps hardly run;
* ``closeup``: a clinic face close-up, the face 2000+ px wide (0.06 mm/px at 12 MP, 0.05 at
  24 MP): the demo face ``dicom_node/samples/london_136_03.jpg`` (Face Research Lab London
  Set, CC BY 4.0) cropped 3:4 around the face, upscaled (bicubic) to the size, with a
  neutral band-limited skin texture (0.15-1.5 mm, 0.012 OD) and sensor noise (1.5/255)
  added so that the finer pixels carry skin-like detail (:func:`make_closeup_face`). Pores
  and fine lines are then measured on the source pixels (``CameraDetail``).

Each (subject, size, device) runs in its own subprocess so that peak memory (the kernel's peak RSS,
which covers torch's allocations, unlike tracemalloc) belongs to that run alone; it is reset
(``/proc/self/clear_refs``) after the photo is made, so it is the peak while analysing
(photo, libraries and analysis) rather than that of making the synthetic photo. The photo is
scikit-image's ``astronaut`` cropped to 4:3, upscaled to the size, sharpened (unsharp mask)
and given fine noise, so the quality gate passes. The face then
covers ~ 18 % of the width, like a head-and-shoulders clinic photo; at 2 and 12 MP it is
too small for pores (not assessed), so ``--spacing-mm 0.1`` makes every family run.

    python benchmarks/analysis.py                 # CPU with 2 threads, CUDA when present
    python benchmarks/analysis.py --threads 2 --sizes 2 12 24 --repeats 3
    python benchmarks/analysis.py --sizes 12 --spacing-mm 0.1   # every family runs
    python benchmarks/analysis.py --sizes 24 --detail-mm 0      # pores on the working frame
    python benchmarks/analysis.py --subjects closeup --sizes 12 24 --repeats 3
    python benchmarks/analysis.py --subjects closeup --sizes 12 24 --repeats 2 --profile
    python benchmarks/analysis.py --subjects closeup astronaut --sizes 2 12 24 --sequence 2

The process' C allocator is set up as the service sets it up (``analysis.retain_freed_memory``,
:func:`dicom_node.setup.retain_freed_memory`: freed arrays are kept for the next photo rather
than taken again as fresh page faults); ``--allocator glibc`` keeps glibc's defaults instead.

``--threads`` is what the process is given (``torch.set_num_threads`` and
``cv2.setNumThreads``); the analyzer then runs its CPU measures on that many threads
(``Analyzer(cpu_workers=...)`` defaults to ``torch.get_num_threads()``). Timings on a
shared machine are noisy: read the best of the repeats ("best"), the median beside it, and
"CPU", the process' CPU seconds for the best-CPU repeat (all threads; on an idle machine the
latency is about CPU / threads plus the serial parts), which a busy machine inflates far
less than the latency.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_photo(megapixels: float):  # type: ignore[no-untyped-def]
    import cv2
    import numpy as np
    from skimage import data

    src = data.astronaut()[64:448]  # 384 x 512 = 4:3
    w = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    big = cv2.resize(src, (w, h), interpolation=cv2.INTER_CUBIC)
    blur = cv2.GaussianBlur(big, (0, 0), max(1.0, w / 1500))
    sharp = cv2.addWeighted(big, 2.0, blur, -1.0, 0)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 3.0, size=(h // 2 + 1, w // 2 + 1, 1)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    del big, blur
    out = np.clip(sharp.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return out


SAMPLE = ROOT / "dicom_node" / "samples" / "london_136_03.jpg"
#: 3:4 crop (x0, y0, x1, y1) of the sample around the face's extent (face box ~442 px wide
#: at ~0.30 mm/px by the iris estimate).
CLOSEUP_CROP = (381, 293, 981, 1093)
SAMPLE_MM_PER_PX = 0.303


def make_closeup_face(megapixels: float, seed: int = 0):  # type: ignore[no-untyped-def]
    """A clinic face close-up (portrait 3:4) of *megapixels*, and its nominal mm per pixel."""
    import cv2
    import numpy as np

    img = cv2.cvtColor(cv2.imread(str(SAMPLE)), cv2.COLOR_BGR2RGB)
    x0, y0, x1, y1 = CLOSEUP_CROP
    w = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    h = int(round(w * 4 / 3))
    spacing = SAMPLE_MM_PER_PX * (x1 - x0) / w
    big = cv2.resize(img[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_CUBIC)
    del img
    rng = np.random.default_rng(seed)
    # neutral band-limited texture in optical density, made at half size then upsampled
    hh, hw = h // 2 + 1, w // 2 + 1
    white = rng.standard_normal((hh, hw)).astype(np.float32)
    s2 = 2 * spacing
    band = cv2.GaussianBlur(white, (0, 0), max(0.075 / s2, 0.5))
    band -= cv2.GaussianBlur(white, (0, 0), 0.75 / s2)
    band *= 0.012 / max(float(band.std()), 1e-9)
    gain = np.power(np.float32(10.0), -cv2.resize(band, (w, h), interpolation=cv2.INTER_LINEAR))
    del band, white
    out = big.astype(np.float32)
    out *= gain[..., None]
    del gain, big
    out += rng.normal(0, 1.5, size=(h, w)).astype(np.float32)[..., None]
    return np.clip(out, 0, 255).astype(np.uint8), spacing


def _reset_peak_rss() -> bool:
    """Reset this process' peak RSS (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mb() -> float:
    """``VmHWM`` of this process in MB (the peak RSS since the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _rss_mb() -> float:
    """``VmRSS`` of this process in MB (resident now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def sequence(subjects: list[str], sizes: list[float], rounds: int, allocator: str) -> None:
    """One process analysing every (subject, size) photo in turn, *rounds* times, as the
    service does: latency, the minor page faults (fresh memory taken from the kernel) and the
    resident memory after each photo, then the peak."""
    import cv2
    import torch

    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    sys.path.insert(0, str(ROOT))
    if allocator == "service":
        from dicom_node.setup import retain_freed_memory

        retain_freed_memory()
    from analysis.pipeline import Analyzer
    from analysis.types import ImageDescription

    photos = [
        (f"{s} {m:.0f} MP", make_photo(m) if s == "astronaut" else make_closeup_face(m)[0])
        for s in subjects
        for m in sizes
    ]
    analyzer = Analyzer("cpu")
    analyzer.analyze(make_photo(0.5), ImageDescription())  # warm-up
    gc.collect()
    _reset_peak_rss()
    print(f"allocator: {allocator}; {len(photos)} photos held in memory while analysing")
    print("| round | photo | latency (s) | page faults | resident after (MB) |")
    print("|---|---|---:|---:|---:|")
    result = None
    for r in range(1, rounds + 1):
        for name, photo in photos:
            result = None
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            result = analyzer.analyze(photo, ImageDescription())
            dt = time.perf_counter() - t0
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
            print(f"| {r} | {name} | {dt:.2f} | {faults} | {_rss_mb():.0f} |")
    assert result is not None
    print(f"peak resident: {_peak_rss_mb():.0f} MB")


def profile_child(
    subject: str, mp: float, repeats: int, detail_mm: float, pore_floor: float | None = None
) -> None:
    """CPU seconds per Compose step with one thread everywhere (``cpu_workers=1``)."""
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    sys.path.insert(0, str(ROOT))
    import analysis.pipeline
    from analysis.pipeline import Analyzer
    from dicom_node.setup import retain_freed_memory

    retain_freed_memory()  # as the service runs

    if pore_floor is not None:
        analysis.pipeline.PORE_FLOOR = pore_floor
    from analysis.types import ImageDescription

    photo = make_photo(mp) if subject == "astronaut" else make_closeup_face(mp)[0]
    analyzer = Analyzer("cpu", cpu_workers=1, detail_mm=detail_mm or None)
    analyzer.analyze(make_photo(0.5), ImageDescription())  # warm-up
    acc: dict[str, float] = {}

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            c0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[name] = acc.get(name, 0.0) + time.process_time() - c0

        return run

    for t in analyzer.transform.transforms:
        t.__call__ = timed(type(t).__name__, t.__call__)  # instance attribute
    comp = analyzer.transform
    comp.transforms = [_Call(t) for t in comp.transforms]
    analyzer._assemble = timed("assemble (maps to source size)", analyzer._assemble)  # type: ignore[method-assign]
    face_fn = analyzer.face_detector.__call__
    best: tuple[float, dict[str, float]] | None = None
    for _ in range(repeats):
        acc.clear()
        c0 = time.process_time()
        with torch.inference_mode():
            face = timed("face model", face_fn)([photo])[0]
        data = {"image": photo, "description": ImageDescription(), "face": face}
        with torch.inference_mode():
            result = analyzer._assemble(comp(data))
        total = time.process_time() - c0
        if best is None or total < best[0]:
            best = (total, dict(acc))
    assert best is not None
    pores_face = next(
        (m.value for m in result.measurements if m.key == "pores.count" and m.region == "face"),
        None,
    )
    print(
        json.dumps(
            {
                "subject": subject,
                "mp": mp,
                "total": best[0],
                "steps": best[1],
                "pores_face": pores_face,
            }
        )
    )


class _Call:
    """A Compose step whose instance ``__call__`` (the timed one) is what runs."""

    def __init__(self, t):  # type: ignore[no-untyped-def]
        self.t = t

    def __call__(self, d):  # type: ignore[no-untyped-def]
        return self.t.__dict__["__call__"](d)


def child(
    subject: str,
    mp: float,
    device: str,
    threads: int,
    repeats: int,
    spacing: float | None,
    detail_mm: float,
    allocator: str = "service",
) -> None:
    import cv2
    import torch

    sys.path.insert(0, str(ROOT))
    if allocator == "service":
        from dicom_node.setup import retain_freed_memory

        retain_freed_memory()
    if device == "cpu":
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
    from analysis.pipeline import Analyzer
    from analysis.types import ImageDescription

    photo = make_photo(mp) if subject == "astronaut" else make_closeup_face(mp)[0]
    analyzer = Analyzer(device, detail_mm=detail_mm or None)
    analyzer.analyze(make_photo(0.5), ImageDescription())  # warm-up (kernels, caches)
    # Making the photo (float32 noise and sharpening at full size) peaks higher than some
    # analyses: reset the kernel's high-water mark so the analysis' own peak is seen too.
    gc.collect()
    hwm_reset = _reset_peak_rss()
    times = []
    cpu = []
    result = None
    for _ in range(repeats):
        result = None  # a service holds one photo's result at a time: free the last one first
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        result = analyzer.analyze(photo, ImageDescription(spacing_mm=spacing))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert result is not None
    # with the reset: the peak while analysing (the photo, the libraries and the analysis)
    peak_mb = (
        _peak_rss_mb() if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    )
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else 0.0
    print(
        json.dumps(
            {
                "subject": subject,
                "mp": mp,
                "shape": list(photo.shape[:2]),
                "device": device,
                "threads": threads,
                "allocator": allocator,
                "median_s": sorted(times)[len(times) // 2],
                "min_s": min(times),
                "cpu_s": min(cpu),
                "peak_rss_mb": peak_mb,
                "peak_reset": hwm_reset,
                "gpu_peak_mb": gpu_mb,
                "usable": result.quality.usable,
                "face_px": result.face_box[2] if result.face_box else None,
                "n_measurements": len(result.measurements),
                "not_assessed": [n.key for n in result.not_assessed],
                "pores_count_face": next(
                    (m.value for m in result.measurements if m.key == "pores.count"), None
                ),
                "fine_lines_face": next(
                    (
                        m.value
                        for m in result.measurements
                        if m.key == "wrinkles.fine_lines.count" and m.region == "face"
                    ),
                    None,
                ),
            }
        )
    )


def profile(
    subjects: list[str],
    sizes: list[float],
    repeats: int,
    detail_mm: float,
    pore_floor: float | None = None,
) -> int:
    """Print the per-step CPU table of :func:`profile_child` for each subject and size."""
    prof = []
    for subject, mp in [(s, m) for s in subjects for m in sizes]:
        cmd = [sys.executable, __file__, "--profile", "--child", subject, str(mp), "cpu"]
        cmd += ["--repeats", str(repeats), "--detail-mm", str(detail_mm)]
        if pore_floor is not None:
            cmd += ["--pore-floor", str(pore_floor)]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        prof.append(json.loads(r.stdout.strip().splitlines()[-1]))
    names = list(dict.fromkeys(k for x in prof for k in x["steps"]))
    head = " | ".join(f"{x['subject']} {x['mp']:.0f} MP" for x in prof)
    print(f"| step (CPU s, 1 thread) | {head} |")
    print("|---" * (len(prof) + 1) + "|")
    for n in names:
        print(f"| {n} | " + " | ".join(f"{x['steps'].get(n, 0.0):.2f}" for x in prof) + " |")
    print("| **total** | " + " | ".join(f"**{x['total']:.2f}**" for x in prof) + " |")
    print("| pores (face) | " + " | ".join(f"{x['pores_face']}" for x in prof) + " |")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[2.0, 12.0, 24.0])
    p.add_argument(
        "--subjects", nargs="+", choices=("astronaut", "closeup"), default=["astronaut", "closeup"]
    )
    p.add_argument("--devices", nargs="+", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--spacing-mm", type=float, default=None, help="Pixel Spacing to pass")
    p.add_argument(
        "--detail-mm",
        type=float,
        default=0.1,
        help="Analyzer(detail_mm=): pores on source tiles when the working frame is coarser "
        "and fine lines (0 = off, the working frame only)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="CPU seconds per pipeline step, one thread everywhere (cpu_workers=1)",
    )
    p.add_argument(
        "--pore-floor",
        type=float,
        default=None,
        help="with --profile: analysis.pipeline.PORE_FLOOR (pores at max(source, x * detail_mm))",
    )
    p.add_argument(
        "--allocator",
        choices=("service", "glibc"),
        default="service",
        help="service: freed memory kept as dermnode serve/analyze keep it; glibc: its defaults",
    )
    p.add_argument(
        "--sequence",
        type=int,
        metavar="ROUNDS",
        help="one process analysing the subjects x sizes photos in turn ROUNDS times (as the "
        "service): latency, page faults and resident memory after each photo",
    )
    p.add_argument("--child", nargs=3, metavar=("SUBJECT", "MP", "DEVICE"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child and a.profile:
        profile_child(a.child[0], float(a.child[1]), a.repeats, a.detail_mm, a.pore_floor)
        return 0
    if a.sequence:
        sequence(a.subjects, a.sizes, a.sequence, a.allocator)
        return 0
    if a.profile:
        return profile(a.subjects, a.sizes, a.repeats, a.detail_mm, a.pore_floor)
    if a.child:
        child(
            a.child[0],
            float(a.child[1]),
            a.child[2],
            a.threads,
            a.repeats,
            a.spacing_mm,
            a.detail_mm,
            a.allocator,
        )
        return 0
    devices = a.devices
    if devices is None:
        import torch

        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for dev, subject, mp in [(d, s, m) for d in devices for s in a.subjects for m in a.sizes]:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            subject,
            str(mp),
            dev,
            "--threads",
            str(a.threads),
            "--repeats",
            str(a.repeats),
            "--detail-mm",
            str(a.detail_mm),
            "--allocator",
            a.allocator,
        ]
        if a.spacing_mm is not None:
            cmd += ["--spacing-mm", str(a.spacing_mm)]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(
        "| subject | photo | size (px) | face (px) | device | threads | allocator "
        "| latency best (s) "
        "| median (s) | CPU (s) | peak RSS (MB) | GPU peak (MB) | usable | measurements "
        "| pores (face) | fine lines (face) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        face = f"{r['face_px']:.0f}" if r["face_px"] else "-"
        print(
            f"| {r['subject']} | {r['mp']:.0f} MP | {r['shape'][1]}x{r['shape'][0]} | {face} "
            f"| {r['device']} "
            f"| {r['threads'] if r['device'] == 'cpu' else '-'} | {r['allocator']} "
            f"| {r['min_s']:.2f} "
            f"| {r['median_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} "
            f"| {r['gpu_peak_mb']:.0f} "
            f"| {r['usable']} | {r['n_measurements']} | {r['pores_count_face']} "
            f"| {r['fine_lines_face']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
