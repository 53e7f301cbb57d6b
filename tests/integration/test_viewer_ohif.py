"""A study DermNode analysed, opened in OHIF 3.13.2 from the Orthanc worklist, in Chromium.

The real viewer path of a dermatologist: Orthanc (the PACS, DICOMweb plugin) holds the photo
and DermNode's results; OHIF (``@ohif/app`` 3.13.2, its prebuilt ``dist/``) is served on
loopback against Orthanc's ``/dicom-web``; Debian's Chromium, driven by Playwright, opens the
study. One browser session (module fixture) walks the worklist, the segmentation, the SR and
the PDF, keeping screenshots (path printed; ``DERMNODE_VIEWER_SHOTS`` keeps them in a folder
of your choice); the tests then check what it saw:

- no page errors and no console errors;
- the worklist shows the patient's Hangul name (Orthanc ``"DefaultEncoding": "Utf8"``) and
  lists DermNode's result modalities (SR, SEG, DOC) beside the photo;
- the segmentation panel lists the zone and feature segments, and their colours appear over
  the photo (screenshot pixels before/after loading the SEG);
- the SR draws the zone outlines with their values;
- the Encapsulated PDF report renders.

Missing Chromium, Playwright, the DICOMweb plugin or the OHIF dist skips the test locally
(with the reason) and fails it in CI (``DERMNODE_REQUIRE_PEERS=1``); ``.ci/run`` installs them.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from integrations.dicom_seg import SEGMENT_COLOURS, segment_colour
from tests.orthanc import start_orthanc
from tests.viewer import (
    CHROMIUM_FLAGS,
    chromium_path,
    ohif_dist,
    orthanc_dicomweb_config,
    serve_ohif,
)

pytestmark = [pytest.mark.integration, pytest.mark.serial]

KOREAN_NAME = "홍^길동"
#: Segment labels of the ZONES Segmentation the panel must list (the demo face's zones and
#: the findings the analysis drew on it).
ZONE_SEGMENTS = ("face", "forehead", "nose", "cheek_left", "cheek_right", "chin")
FEATURE_SEGMENTS = ("spots", "wrinkles")


@dataclass
class Session:
    """What the browser saw, for the tests to check."""

    shots: Path
    errors: list[str] = field(default_factory=list)
    worklist_text: str = ""
    segment_labels: list[str] = field(default_factory=list)
    sr_lines: list[str] = field(default_factory=list)
    sr_polylines: int = 0
    pdf_embeds: list[str] = field(default_factory=list)
    white: tuple[float, float] = (0.0, 0.0)
    colours: list[tuple[int, int, int]] = field(default_factory=list)
    explained: float = 0.0


def _crop_to_camera_size(ds: Any) -> None:
    """Crop the 1350 px demo face to 1344 px, a multiple of 16 as camera sensors give.

    Orthanc's DICOMweb plugin (1.7) answers 400 "Bad file format" to /frames of a BINARY SEG
    whose frames are not a whole number of bytes (1-bit frames are packed without padding,
    PS3.5 §8.1.1; 1350 x 1350 = 227812.5 bytes), so OHIF cannot load the SEG of such a photo.
    Camera photos (4000 x 3000, 6000 x 4000, 4032 x 3024 ...) are whole bytes; the limit is
    documented in docs/dicom-conformance.md.
    """
    from PIL import Image
    from pydicom.encaps import encapsulate, generate_frames

    jpeg = next(generate_frames(ds.PixelData, number_of_frames=1))
    with Image.open(io.BytesIO(jpeg)) as im:
        side = min(im.size) // 16 * 16
        buf = io.BytesIO()
        im.crop((0, 0, side, side)).save(buf, format="JPEG", quality=95)
    ds.Rows = ds.Columns = side
    ds.PixelData = encapsulate([buf.getvalue()])


def _analysed_study(folder: Path) -> tuple[str, list[Path]]:
    """The demo face photo (patient name in Hangul) and DermNode's results for it."""
    from dicom_node.demo import make_sample_files

    face = make_sample_files(folder / "src")[0]
    ds = dcmread(face)
    _crop_to_camera_size(ds)
    ds.PatientName = KOREAN_NAME
    ds.StudyDescription = "Skin photography"
    ds.save_as(face)
    out = folder / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "dicom_node", "analyze", str(face), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = json.loads(proc.stdout)["outputs"]
    files = [face, Path(outputs["sr"]), *map(Path, outputs["seg"]), Path(outputs["report_dcm"])]
    return str(ds.StudyInstanceUID), files


def _viewport_pixels(page: Any, path: Path) -> np.ndarray:
    box = page.locator('[data-cy="viewport-pane"]').first.bounding_box()
    assert box is not None, "no viewport on the page"
    page.screenshot(path=str(path))
    x, y, w, h = (round(box[k]) for k in ("x", "y", "width", "height"))
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)[y : y + h, x : x + w]


def _white(pixels: np.ndarray) -> float:
    """Fraction of (near) white pixels: a rendered PDF page is mostly paper white."""
    return float((pixels.min(axis=2) >= 250).mean())


def _answer(page: Any, label: str) -> None:
    button = page.get_by_role("button", name=label, exact=True)
    if button.count():
        button.first.click(no_wait_after=True)


def _wait_quiet(page: Any, ms: int) -> None:
    page.wait_for_timeout(ms)


def _browse(origin: str, study_uid: str, session: Session) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(), args=list(CHROMIUM_FLAGS), headless=True
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(120_000)  # software rendering on a busy CI machine
        page.on(
            "console",
            lambda m: session.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: session.errors.append(f"page error: {e}"))
        # Worklist
        page.goto(origin + "/")
        page.get_by_text("DermNode", exact=False).count()  # nothing to wait for yet
        page.locator("text=홍").first.wait_for(timeout=60_000)
        session.worklist_text = page.inner_text("body")
        page.screenshot(path=str(session.shots / "1-worklist.png"))
        # Viewer: the photo first
        page.goto(f"{origin}/viewer?StudyInstanceUIDs={study_uid}")
        page.locator('[data-cy="study-browser-thumbnail"]').first.wait_for(timeout=120_000)
        _wait_quiet(page, 5_000)
        skip = page.get_by_text("Skip all", exact=True)
        if skip.count():
            skip.first.click(no_wait_after=True)
        page.locator('[data-cy="panelSegmentation-btn"]').click(no_wait_after=True)
        _wait_quiet(page, 3_000)
        before = _viewport_pixels(page, session.shots / "2-photo.png")
        # SEG: zones and findings
        page.get_by_text("DermNode zones + findings", exact=False).first.dblclick()
        page.get_by_role("button", name="Yes", exact=True).first.wait_for(timeout=60_000)
        _answer(page, "Yes")
        page.get_by_text("cheek_left", exact=True).first.wait_for(timeout=60_000)
        _wait_quiet(page, 5_000)
        after = _viewport_pixels(page, session.shots / "3-segmentation.png")
        page.screenshot(path=str(session.shots / "3-segmentation-page.png"))
        # the panel's rows: segment number, colour, label (one line each in the page text)
        session.segment_labels = [line.strip() for line in page.inner_text("body").split("\n")]
        session.colours, session.explained = _overlay_colours(before, after)
        # SR: zone outlines and values
        page.get_by_text("DermNode measurements", exact=False).first.dblclick()
        page.wait_for_function("document.querySelectorAll('svg tspan').length > 5", timeout=120_000)
        _wait_quiet(page, 5_000)
        _answer(page, "No")  # "continue tracking measurements?": only viewing
        _wait_quiet(page, 2_000)
        page.screenshot(path=str(session.shots / "4-sr.png"))
        session.sr_lines = [t or "" for t in page.locator("svg tspan").all_text_contents()]
        session.sr_polylines = page.locator("svg polyline").count()
        # PDF report: Chromium's own PDF viewer draws it (a plugin, outside the page's DOM), so
        # the check is the embedded document and the white page it paints in the viewport
        page.get_by_text("DermNode report", exact=False).first.dblclick()
        page.locator("embed, object, iframe").first.wait_for(state="attached", timeout=60_000)
        _wait_quiet(page, 10_000)
        report = _viewport_pixels(page, session.shots / "5-report.png")
        session.pdf_embeds = [
            str(e.get_attribute("type") or e.get_attribute("src") or e.get_attribute("data"))
            for e in page.locator("embed, object, iframe").all()
        ]
        session.white = (_white(before), _white(report))
        browser.close()


def _overlay_colours(
    before: np.ndarray, after: np.ndarray
) -> tuple[list[tuple[int, int, int]], float]:
    """The segment colours the SEG overlay added to the photo, judged from the pixels.

    A pixel counts as overlaid when it changed by more than 40 (sum over RGB). Its change
    (after - before) is compared with the direction from the photo pixel towards each
    segment colour (cosine > 0.9 explains it); a colour is "seen" when it explains at least
    0.02 % of the viewport (about 200 pixels). Returns the colours seen and the fraction of
    changed pixels that some segment colour explains.
    """
    if before.shape != after.shape:
        return [], 0.0
    diff = after - before
    changed = np.abs(diff).sum(axis=2) > 40
    if not changed.any():
        return [], 0.0
    palette = np.array(sorted(set(SEGMENT_COLOURS.values())), dtype=np.float32)
    d = diff[changed].astype(np.float32)
    base = before[changed].astype(np.float32)
    toward = palette[None, :, :] - base[:, None, :]
    cos = (toward * d[:, None, :]).sum(axis=2) / (
        np.linalg.norm(toward, axis=2) * np.linalg.norm(d, axis=1)[:, None] + 1e-6
    )
    best = cos.argmax(axis=1)
    good = cos.max(axis=1) > 0.9
    counts = np.bincount(best[good], minlength=len(palette))
    floor = 0.0002 * changed.size
    seen = [(int(r), int(g), int(b)) for r, g, b in palette[np.flatnonzero(counts > floor)]]
    return seen, float(good.mean())


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    dist = ohif_dist()
    chromium_path()
    config = orthanc_dicomweb_config()
    folder = tmp_path_factory.mktemp("viewer")
    shots = Path(os.environ.get("DERMNODE_VIEWER_SHOTS") or folder / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\nviewer screenshots: {shots}")
    study_uid, files = _analysed_study(folder)
    with start_orthanc(folder / "orthanc", extra_config=config) as pacs:
        for path in files:
            pacs.upload(path)
        with serve_ohif(dist, pacs.url) as origin:
            s = Session(shots)
            _browse(origin, study_uid, s)
            yield s


def test_no_page_or_console_errors(session: Session) -> None:
    assert session.errors == []


def test_worklist_shows_the_hangul_name_and_the_results(session: Session) -> None:
    text = session.worklist_text
    assert "홍" in text and "길동" in text, text[:500]
    # OHIF's study list shows Modalities in Study: DermNode's SR, SEG and DOC beside the photo
    assert all(m in text for m in ("DOC", "SEG", "SR", "XC")), text[:500]


def test_segmentation_panel_lists_zones_and_features(session: Session) -> None:
    labels = set(session.segment_labels)
    missing = [s for s in ZONE_SEGMENTS + FEATURE_SEGMENTS if s not in labels]
    assert missing == [], session.segment_labels


def test_segment_colours_appear_over_the_photo(session: Session) -> None:
    seen = set(session.colours)
    for name in ("nose", "forehead", "cheek_left", "chin"):
        assert segment_colour(name) in seen, (name, sorted(seen))
    assert seen & {segment_colour(n) for n in FEATURE_SEGMENTS}, sorted(seen)
    # what changed on the photo is the segments' colours, not something else
    assert session.explained > 0.8, session.explained


def test_sr_draws_zone_outlines_with_values(session: Session) -> None:
    lines = session.sr_lines
    assert session.sr_polylines >= len(ZONE_SEGMENTS), session.sr_polylines
    assert any(line.startswith("Melanin index: ") for line in lines), lines[:20]
    assert any(line.startswith("Individual typology angle: ") for line in lines), lines[:20]


def test_pdf_report_renders(session: Session) -> None:
    assert any("pdf" in e.lower() for e in session.pdf_embeds), session.pdf_embeds
    photo, report = session.white
    # the report page fills a fifth of the viewport with white paper; the photo (a studio
    # portrait on a light background: about 5 % near white) adds far less
    assert report > 0.15 and report > photo + 0.1, session.white
