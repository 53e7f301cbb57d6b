"""Every measurement and map of the engine on a fixed set of photos, to check that a speed
change leaves the results as they were.

The set: the first 6 neutral and 2 smiling London faces, ``lisa4`` and the first ``zoom``
photo (``../shared/data/faces-london``, when present), the 12 MP clinic close-up and the 2 MP
astronaut of ``benchmarks/analysis.py``, and the demo's close-up (seed 7, 0.05 mm/px).

    python benchmarks/fingerprint.py --out before.json     # on the old code
    python benchmarks/fingerprint.py --out after.json      # on the new code
    python benchmarks/fingerprint.py --compare before.json after.json

``--compare`` prints each value that differs (at most 30) and the number of differences;
it exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "faces-london"


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_analysis", ROOT / "benchmarks" / "analysis.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fingerprint(data: Path) -> dict[str, dict[str, Any]]:
    import cv2
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from analysis.pipeline import Analyzer
    from analysis.types import ImageDescription
    from dicom_node.demo import synthetic_closeup

    bench = _bench()
    photos: dict[str, tuple[Any, Any]] = {}
    if data.is_dir():

        def jpgs(folder: str) -> list[Path]:  # not the "._" resource-fork files beside them
            return sorted(p for p in (data / folder).glob("*.jpg") if not p.name.startswith("."))

        paths = jpgs("neutral_front")[:6] + jpgs("smiling_front")[:2]
        paths += [data / "lisa" / "lisa4.jpg", *jpgs("zoom")[:1]]
        for p in paths:
            img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
            photos[p.name] = (img, ImageDescription())
    photos["closeup12"] = (bench.make_closeup_face(12)[0], ImageDescription())
    photos["astronaut2"] = (bench.make_photo(2), ImageDescription())
    photos["demo7"] = (
        synthetic_closeup(seed=7),
        ImageDescription(view="close-up", spacing_mm=0.05),
    )
    analyzer = Analyzer("cpu")
    out: dict[str, dict[str, Any]] = {}
    for name, (img, desc) in photos.items():
        r = analyzer.analyze(img, desc)
        row: dict[str, Any] = {f"{m.key}|{m.region}": m.value for m in r.measurements}
        row["_maps"] = {
            m.name: (
                int(np.count_nonzero(m.data))
                if m.data.dtype == bool
                else float(np.asarray(m.data, np.float64).sum())
            )
            for m in r.maps
        }
        out[name] = row
        print(f"{name}: {len(r.measurements)} measurements, {len(r.maps)} maps", file=sys.stderr)
    return out


def compare(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> int:
    n = 0
    for photo in sorted(set(a) | set(b)):
        ra, rb = a.get(photo, {}), b.get(photo, {})
        for key in sorted(set(ra) | set(rb)):
            if ra.get(key) != rb.get(key):
                n += 1
                if n <= 30:
                    print(f"{photo} {key}: {ra.get(key)!r} -> {rb.get(key)!r}")
    print(f"photos {len(set(a) | set(b))}, differences {n}")
    return n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    a = p.parse_args()
    if a.compare:
        before, after = (json.loads(x.read_text()) for x in a.compare)
        return 1 if compare(before, after) else 0
    if a.out is None:
        p.error("--out or --compare")
    a.out.write_text(json.dumps(fingerprint(a.data), indent=0, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
