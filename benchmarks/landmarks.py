"""Face geometry on real faces: landmark errors, zone probes, detection, negatives, time.

Usage::

    python benchmarks/landmarks.py [--data ../shared/data/faces-london] [--device cpu]
                                   [--threads 1] [--limit N] [--overlays DIR]
    python benchmarks/landmarks.py --write-canonical      # analysis/data/face_canonical.npz
    python benchmarks/landmarks.py --write-test-subset    # tests/data/faces/

Data: the Face Research Lab London Set (DeBruine & Jones 2017, CC BY 4.0; ``lisa`` and
``zoom`` CC0), read from ``--data`` (see its README). Its ``.tem`` templates (189 points,
Psychomorph format) are the reference; the index mapping below was found by plotting the
numbered points on ``001_03.jpg`` once.

Printed:

1. **Landmarks** (``neutral_front``, 102 faces, 189-point templates): the distance between the
   model's point and the template's, divided by the template's inter-pupillary distance (IPD),
   median and 95th percentile, per landmark group. Pupils are the Iris model's iris centres.
2. **Detection rate** over every photo of the set (neutral, smiling, ``lisa``, ``zoom``).
3. **Zone probes**: anatomical points from the templates (:data:`PROBES`) looked up in the
   zones and the skin mask built from the mesh (:func:`analysis.face.face_regions`).
4. **Negatives**: scikit-image ``chelsea``, ``coffee``, ``rocket``; a mouth crop (teeth and
   lips, a proxy for an intraoral photo) and a cheek close-up (non-face skin) of every
   smiling face. No face may be reported.
5. **Time**: face model + pose + zones per photo (median and 95th percentile; CPU threads as
   given by ``--threads``; wall time, so it depends on the machine's load).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# run as a script, benchmarks/ comes first on sys.path and its analysis.py would shadow the
# analysis package: put the repository root first instead
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import torch  # noqa: E402

from analysis.color import linear_rgb_to_lab, srgb_to_linear, to_unit_float  # noqa: E402
from analysis.face import FaceDetector, FaceGeometry, estimate_spacing, face_regions  # noqa: E402
from analysis.zones import (  # noqa: E402
    JAW_EXTENSION,
    LANDMARKS,
    derive_canonical,
    mirror_indices,
    rasterize,
)

#: ``../shared/data/faces-london`` next to the checkout (or next to its parent, for a worktree).
DEFAULT_DATA = next(
    (
        p / "shared" / "data" / "faces-london"
        for p in (ROOT.parent, ROOT.parent.parent)
        if (p / "shared" / "data" / "faces-london").is_dir()
    ),
    ROOT.parent / "shared" / "data" / "faces-london",
)

#: 189-point template (``neutral_front``) -> named points. Left/right are the patient's: on
#: these frontal photos the patient's right is the image left.
TEM: dict[str, int | tuple[int, int]] = {
    "pupil_right": 0,
    "pupil_left": 1,
    "eye_outer_right": 18,
    "eye_inner_right": 22,
    "eye_inner_left": 23,
    "eye_outer_left": 27,
    "mouth_right": 87,
    "mouth_left": 93,
    "nose_tip": (54, 60),  # the two domes of the tip (the template has no pronasale point)
    "menton": 129,  # lowest point of the chin's outline
    "menton_zoned": 129,
    "chin_centre": 175,
    "brow_heads": (76, 77),  # the inner ends of the brows
    "brow_centre_right": (74, 84),  # middle of the brow: its upper and lower outline
    "brow_centre_left": (79, 85),
    "ala_right": 63,
    "ala_left": 68,
    "cheek_right": 166,
    "cheek_left": 169,
    "philtrum_right": 171,
    "philtrum_left": 173,
    "upper_lip_top": 90,
    "lips_meet": 96,
    "lower_lip_bottom": 106,
}

#: Model point for each template landmark: mesh index, or ``iris_*`` for the Iris model.
#: ``nose_tip``: mesh 4 (on the tip, between the pronasale 1 and the dorsum); mesh 1 lies
#: 11 % IPD lower, where the tip turns into the columella, below the template's domes.
MODEL: dict[str, int | str] = {
    "pupil_right": "iris_right",
    "pupil_left": "iris_left",
    "eye_outer_right": 33,
    "eye_inner_right": 133,
    "eye_inner_left": 362,
    "eye_outer_left": 263,
    "mouth_right": 61,
    "mouth_left": 291,
    "nose_tip": 4,
    "menton": 152,
    "menton_zoned": "jaw152",
}
GROUPS: dict[str, tuple[str, ...]] = {
    "pupils": ("pupil_right", "pupil_left"),
    "eye corners": ("eye_outer_right", "eye_inner_right", "eye_inner_left", "eye_outer_left"),
    "mouth corners": ("mouth_right", "mouth_left"),
    "nose tip": ("nose_tip",),
    "chin (menton), mesh 152": ("menton",),
    "chin (menton), zones' jaw line": ("menton_zoned",),
}


@dataclass(frozen=True, slots=True)
class Probe:
    """An anatomical point and where it must fall: a zone, or ``not_skin``."""

    name: str
    expected: str


def _pt(t: dict[str, npt.NDArray[np.float64]], name: str) -> npt.NDArray[np.float64]:
    return t[name]


def probe_points(t: dict[str, npt.NDArray[np.float64]]) -> list[tuple[Probe, tuple[float, float]]]:
    """The probes of one face, from its named template points (image pixels)."""
    ipd_vec = t["pupil_left"] - t["pupil_right"]
    ipd = float(np.linalg.norm(ipd_vec))
    right_dir = -ipd_vec / ipd  # towards the patient's right
    up = np.array([ipd_vec[1], -ipd_vec[0]]) / ipd  # perpendicular, towards the forehead
    lateral = 0.15 * ipd * right_dir  # crow's feet: 0.15 IPD lateral to the outer eye corner
    out: list[tuple[Probe, npt.NDArray[np.float64]]] = [
        (Probe("nose tip", "nose"), t["nose_tip"]),
        (Probe("chin centre", "chin"), t["chin_centre"]),
        (Probe("between the brows", "glabella"), t["brow_heads"]),
        (Probe("mid-forehead", "forehead"), t["brow_heads"] + 0.4 * ipd * up),
        (Probe("crow's feet right", "periorbital_right"), t["eye_outer_right"] + lateral),
        (Probe("crow's feet left", "periorbital_left"), t["eye_outer_left"] - lateral),
        (Probe("cheek right", "cheek_right"), t["cheek_right"]),
        (Probe("cheek left", "cheek_left"), t["cheek_left"]),
        (Probe("nasolabial right", "nasolabial_right"), (t["ala_right"] + t["mouth_right"]) / 2),
        (Probe("nasolabial left", "nasolabial_left"), (t["ala_left"] + t["mouth_left"]) / 2),
        (Probe("upper lip skin right", "perioral"), t["philtrum_right"]),
        (Probe("upper lip skin left", "perioral"), t["philtrum_left"]),
        (Probe("pupil right", "not_skin"), t["pupil_right"]),
        (Probe("pupil left", "not_skin"), t["pupil_left"]),
        (Probe("brow right", "not_skin"), t["brow_centre_right"]),
        (Probe("brow left", "not_skin"), t["brow_centre_left"]),
        (Probe("upper lip", "not_skin"), (t["upper_lip_top"] + t["lips_meet"]) / 2),
        (Probe("lower lip", "not_skin"), (t["lips_meet"] + t["lower_lip_bottom"]) / 2),
    ]  # fmt: skip
    return [(p, (float(xy[0]), float(xy[1]))) for p, xy in out]


def read_tem(path: Path) -> npt.NDArray[np.float64]:
    """The points of a ``.tem`` template, ``(n, 2)`` image pixels."""
    lines = path.read_text().split("\n")
    n = int(lines[0])
    return np.array([[float(v) for v in ln.split()[:2]] for ln in lines[1 : 1 + n]])


def named_points(tem: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """The named points of a 189-point template."""
    out = {}
    for name, idx in TEM.items():
        out[name] = tem[list(idx)].mean(0) if isinstance(idx, tuple) else tem[idx].copy()
    return out


def model_point(face: FaceGeometry, name: str) -> npt.NDArray[np.float64]:
    """The model's estimate of a named landmark (image pixels, pixel centres at integers)."""
    src = MODEL[name]
    if src == "iris_right":
        return face.iris_right[0]
    if src == "iris_left":
        return face.iris_left[0]
    if src == "jaw152":  # the chin point as the zones use it (analysis.zones.JAW_EXTENSION)
        m = face.mesh[:, :2]
        return m[152] + JAW_EXTENSION * (m[152] - m[LANDMARKS["nose_tip"]])
    assert isinstance(src, int)
    return face.mesh[src, :2]


def load_rgb(path: Path) -> npt.NDArray[np.uint8]:
    """An RGB photo."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def regions_of(
    image: npt.NDArray[np.uint8], face: FaceGeometry
) -> tuple[npt.NDArray[np.bool_], dict[str, npt.NDArray[np.bool_]]]:
    """Skin mask and zones (numpy) on the full-resolution photo."""
    lab = linear_rgb_to_lab(srgb_to_linear(to_unit_float(image)))
    skin, reg = face_regions(lab, face)
    return skin.cpu().numpy(), {k: v.cpu().numpy() for k, v in reg.items()}


def probe_verdicts(
    skin: npt.NDArray[np.bool_],
    face: FaceGeometry,
    t: dict[str, npt.NDArray[np.float64]],
) -> list[tuple[Probe, str, bool]]:
    """Each probe, where it fell, and whether that is right.

    A zone probe is looked up in the zone polygons (their placement is what it tests; a
    probe on a mole or a stray hair would otherwise count against the zones); a ``not_skin``
    probe (eyes, brows, lips) must be outside the skin mask.
    """
    h, w = skin.shape
    _, _, polygons = rasterize(face.mesh[:, :2], (h, w))
    out = []
    for probe, (x, y) in probe_points(t):
        xi, yi = min(w - 1, max(0, round(x))), min(h - 1, max(0, round(y)))
        if probe.expected == "not_skin":
            found = "skin" if skin[yi, xi] else "not_skin"
        else:
            found = next((z for z, m in polygons.items() if m[yi, xi]), "no zone")
        out.append((probe, found, found == probe.expected))
    return out


def negatives(
    data: Path, smiling: list[Path], detector: FaceDetector
) -> dict[str, npt.NDArray[np.uint8]]:
    """Images without a face: objects, mouth crops and cheek close-ups of smiling faces."""
    from skimage import data as skdata

    out: dict[str, npt.NDArray[np.uint8]] = {
        "chelsea": skdata.chelsea(),
        "coffee": skdata.coffee(),
        "rocket": skdata.rocket(),
    }
    for path in smiling:
        img = load_rgb(path)
        face = detector([img])[0]
        if face is None:
            continue
        m = face.mesh[:, :2]
        left, right = m[61], m[291]
        w = float(np.linalg.norm(right - left))
        c = (left + right) / 2
        x0, y0 = int(c[0] - 0.75 * w), int(c[1] - 0.5 * w)
        out[f"mouth {path.stem}"] = np.ascontiguousarray(
            img[y0 : y0 + int(w), x0 : x0 + int(1.5 * w)]
        )
        fw = float(np.linalg.norm(m[234] - m[454]))
        cc = m[50]
        s = int(0.3 * fw)
        y1, x1 = int(cc[1] - s / 2), int(cc[0] - s / 2)
        out[f"cheek {path.stem}"] = np.ascontiguousarray(img[y1 : y1 + s, x1 : x1 + s])
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - a linear report
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="only the first N neutral faces")
    ap.add_argument("--overlays", type=Path, help="write zone overlays (PNG) here")
    ap.add_argument("--write-canonical", action="store_true")
    ap.add_argument("--write-test-subset", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    detector = FaceDetector(args.device)

    neutral = sorted((args.data / "neutral_front").glob("[!.]*.jpg"))
    if args.limit:
        neutral = neutral[: args.limit]
    smiling = sorted((args.data / "smiling_front").glob("[!.]*.jpg"))
    others = sorted((args.data / "lisa").glob("[!.]*.jpg")) + sorted(
        (args.data / "zoom").glob("[!.]*.jpg")
    )
    if args.limit:
        smiling = smiling[: args.limit]

    if args.write_canonical:
        meshes = []
        for p in neutral:
            f = detector([load_rgb(p)])[0]
            if f is not None:
                meshes.append(f.mesh)
        can = derive_canonical(meshes, mirror_indices())
        out = ROOT / "analysis" / "data" / "face_canonical.npz"
        np.savez_compressed(
            out, mesh=can.astype(np.float32), mirror=mirror_indices().astype(np.int16)
        )
        print(f"wrote {out} from {len(meshes)} meshes")
        return 0
    if args.write_test_subset:
        write_subset(args.data)
        return 0

    errors: dict[str, list[float]] = {g: [] for g in GROUPS}
    detected = 0
    total = 0
    times: list[float] = []
    probe_ok: dict[str, list[bool]] = {}
    ipd_mm: list[float] = []
    wrong: list[str] = []
    with torch.inference_mode():
        detector([load_rgb(neutral[0])])  # warm-up
        for path in neutral + smiling + others:
            img = load_rgb(path)
            t0 = time.perf_counter()
            face = detector([img])[0]
            if face is not None:
                face.view_angles()
            times.append(time.perf_counter() - t0)
            total += 1
            if face is None:
                wrong.append(f"not detected: {path.name}")
                continue
            detected += 1
            tem_path = path.with_suffix(".tem")
            if path.parent.name != "neutral_front" or not tem_path.exists():
                continue
            t = named_points(read_tem(tem_path))
            ipd = float(np.linalg.norm(t["pupil_left"] - t["pupil_right"]))
            est = estimate_spacing(face)
            if est is not None:
                ipd_mm.append(face.iod_px * est.spacing_mm)
            for g, names in GROUPS.items():
                for n in names:
                    errors[g].append(float(np.linalg.norm(model_point(face, n) - t[n])) / ipd)
            skin, zones = regions_of(img, face)
            for probe, found, ok in probe_verdicts(skin, face, t):
                probe_ok.setdefault(probe.name, []).append(ok)
                if not ok:
                    wrong.append(f"probe {probe.name} in {found} on {path.name}")
            if args.overlays is not None:
                _overlay(args.overlays, path, img, skin, zones, t)
        negs = negatives(args.data, smiling, detector)
        false_faces = [name for name, im in negs.items() if detector([im])[0] is not None]

    print(f"# Face geometry on the London set ({len(neutral)} neutral faces with templates)\n")
    print("| landmark | n | median error (% IPD) | 95th percentile (% IPD) |")
    print("|---|---|---|---|")
    for g, v in errors.items():
        if v:
            print(
                f"| {g} | {len(v)} | {100 * statistics.median(v):.2f} | {100 * _pct(v, 95):.2f} |"
            )
    print(f"\nDetected: {detected} of {total} photos (neutral, smiling, lisa, zoom)")
    if ipd_mm:
        print(
            f"\nInter-pupillary distance implied by the iris scale (neutral faces): median "
            f"{statistics.median(ipd_mm):.1f} mm, 5th-95th percentile {_pct(ipd_mm, 5):.1f}-"
            f"{_pct(ipd_mm, 95):.1f} mm (adults: 63 +/- 3.8 mm, Dodgson 2004)"
        )
    n_ok = sum(sum(v) for v in probe_ok.values())
    n_all = sum(len(v) for v in probe_ok.values())
    print(f"\nZone probes: {n_ok} of {n_all} right ({100 * n_ok / max(n_all, 1):.1f} %)\n")
    print("| probe | right |")
    print("|---|---|")
    for name, v in probe_ok.items():
        print(f"| {name} | {sum(v)} / {len(v)} |")
    print(f"\nNegatives: {len(false_faces)} faces reported on {len(negs)} images without a face")
    for name in false_faces:
        print(f"  false face: {name}")
    ms = [1000 * t for t in times[1:]]
    print(
        f"\nTime per photo (face model + pose + view angles, {args.device}, "
        f"{args.threads} thread(s)): median {statistics.median(ms):.0f} ms, "
        f"95th percentile {_pct(ms, 95):.0f} ms"
    )
    for w in wrong[:40]:
        print(f"  {w}")
    return 0


#: The committed test subset: (folder, file stem) -> London ids chosen to span sex and
#: self-reported ethnicity; two smiling photos; one rotated phone capture (``lisa3``, CC0).
SUBSET = (
    ("neutral_front", "001_03"),
    ("neutral_front", "025_03"),
    ("neutral_front", "005_03"),
    ("neutral_front", "037_03"),
    ("neutral_front", "044_03"),
    ("neutral_front", "127_03"),
    ("smiling_front", "001_08"),
    ("smiling_front", "025_08"),
    ("lisa", "lisa3"),
)
SUBSET_SCALE = 0.5


def write_subset(data: Path) -> None:
    """Downscaled copies of :data:`SUBSET` and their named template points (JSON)."""
    out = ROOT / "tests" / "data" / "faces"
    out.mkdir(parents=True, exist_ok=True)
    points: dict[str, dict[str, object]] = {}
    f = SUBSET_SCALE
    for folder, stem in SUBSET:
        img = load_rgb(data / folder / f"{stem}.jpg")
        small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / f"{stem}.jpg"), small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        tem = data / folder / f"{stem}.tem"
        if folder == "neutral_front" and tem.exists():
            # pixel centres: template (x, y) -> (x + 0.5) * f - 0.5 after an INTER_AREA resize
            named = {k: (v + 0.5) * f - 0.5 for k, v in named_points(read_tem(tem)).items()}
            points[stem] = {
                "points": {
                    k: [round(float(v[0]), 2), round(float(v[1]), 2)] for k, v in named.items()
                },
                "probes": [
                    [p.name, p.expected, round(x, 2), round(y, 2)]
                    for p, (x, y) in probe_points(named)
                ],
            }
    (out / "landmarks.json").write_text(json.dumps(points, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(SUBSET)} photos and {len(points)} templates to {out}")


_COLOURS = {
    "forehead": (255, 200, 0),
    "glabella": (255, 0, 255),
    "periorbital_left": (0, 255, 255),
    "periorbital_right": (0, 200, 255),
    "nose": (0, 0, 255),
    "cheek_left": (0, 255, 0),
    "cheek_right": (0, 160, 0),
    "nasolabial_left": (255, 0, 0),
    "nasolabial_right": (160, 0, 0),
    "perioral": (128, 0, 255),
    "chin": (0, 128, 255),
}


def _overlay(
    out: Path,
    path: Path,
    img: npt.NDArray[np.uint8],
    skin: npt.NDArray[np.bool_],
    zones: dict[str, npt.NDArray[np.bool_]],
    t: dict[str, npt.NDArray[np.float64]],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    bgr = np.ascontiguousarray(img[:, :, ::-1])
    ov = bgr.copy()
    for z, m in zones.items():
        if z in _COLOURS:
            ov[m] = _COLOURS[z]
    ov[~skin] = (ov[~skin] * 0.4).astype(np.uint8)
    res = cv2.addWeighted(bgr, 0.5, ov, 0.5, 0)
    for _probe, (x, y) in probe_points(t):
        cv2.circle(res, (round(x), round(y)), 4, (255, 255, 255), -1)
        cv2.circle(res, (round(x), round(y)), 4, (0, 0, 0), 1)
    ys, xs = np.nonzero(skin)
    if len(xs):
        x0, x1 = max(0, xs.min() - 60), xs.max() + 60
        y0, y1 = max(0, ys.min() - 60), ys.max() + 60
        res = res[y0:y1, x0:x1]
    cv2.imwrite(str(out / f"{path.stem}.png"), res)


if __name__ == "__main__":
    raise SystemExit(main())
