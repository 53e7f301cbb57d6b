"""Rendering the reports: the clinician report and the patient report (English, Korean).

Input: the synthetic two-photo result of the unit tests (``tests/unit/integrations/fakes.py``:
one usable 256 x 320 frontal photo with zones and maps, one blurred photo) with a three-visit
comparison and a before/after photo, as a service run with progress tracking has. The last
row renders both reports of one study, as the service does (the before/after registration is
shared between them). Each row
renders the same input ``--repeats`` times in this process (the first call, which loads fonts
and matplotlib, is timed separately); reportlab's binary image streams are on, as
``dicom_node.setup.apply`` sets them in the service.

    python benchmarks/reports.py
    python benchmarks/reports.py --repeats 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from dicom_node import setup  # noqa: E402
from integrations.progress_view import PriorView  # noqa: E402
from integrations.report import render_patient_report, render_report  # noqa: E402
from integrations.study import StudyInfo  # noqa: E402
from tests.unit.integrations import fakes  # noqa: E402
from tests.unit.integrations import progress_fakes as P  # noqa: E402


def main() -> int:
    """Print one row per report: first call, median and max of the repeats, size."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    setup.apply()
    result = fakes.analysis_result()
    study = StudyInfo.from_dataset(fakes.sources()[0])
    photo = fakes.photo_pixels(0)
    earlier = np.roll(photo, (3, 4), axis=(0, 1))

    def prior() -> PriorView:
        # a new PriorView per call: before/after pairs are cached by identity, and each row
        # must pay for its registration as a new study would
        return PriorView(P.comparison(), earlier, fakes.image_result(0))

    def both() -> bytes:
        p = [prior(), None]
        render_report(result, study, [photo, None], progress=p)
        return render_patient_report(result, study, [photo, None], progress=p, language="ko")

    rows: list[tuple[str, Callable[[], bytes]]] = [
        (
            "clinician report.pdf",
            lambda: render_report(result, study, [photo, None], progress=[prior(), None]),
        ),
        (
            "patient-report.pdf en",
            lambda: render_patient_report(
                result, study, [photo, None], progress=[prior(), None], language="en"
            ),
        ),
        (
            "patient-report.pdf ko",
            lambda: render_patient_report(
                result, study, [photo, None], progress=[prior(), None], language="ko"
            ),
        ),
        ("clinician + patient ko", both),
    ]
    print(
        f"{'report':<24} {'first s':>8} {'median s':>9} {'max s':>7} {'kB':>6}"
        f"  (repeats {args.repeats})"
    )
    for name, fn in rows:
        t = time.perf_counter()
        pdf = fn()
        first = time.perf_counter() - t
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        print(
            f"{name:<24} {first:8.2f} {statistics.median(times):9.2f} {max(times):7.2f} "
            f"{len(pdf) / 1024:6.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
