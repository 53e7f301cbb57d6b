"""Progress tracking in the service: index the results, find the priors, compare.

Every analysed result set is written to the job store's results index (per patient — Patient
ID + Issuer —, study date, view, region and key, with the algorithm version). When a new
study of the same patient is analysed, the delivered earlier visits of the same view are its
priors (:func:`analysis.progress.compare` excludes other algorithm versions with a reason).
When the index knows no earlier visit and ``progress.pacs_priors`` is on, the SRs DermNode
wrote are looked up in the PACS instead.

A view is the photo's view; close-ups and dermoscopy photos are told apart by body site
(``close-up:forearm``), so a forearm is never compared with a cheek.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from analysis.errors import DermNodeError
from analysis.progress import Comparison, VisitValues, compare
from analysis.types import AnalysisResult, ImageDescription, ImageResult
from config.settings import Settings
from dicom_node.decode import decode_dicom
from dicom_node.engine import AnalysisEngine
from dicom_node.store import JobStore, ResultRow
from integrations.study import StudyInfo

if TYPE_CHECKING:
    from integrations.progress_view import PriorView

__all__ = [
    "ProgressLinker",
    "age_band",
    "comparison_json",
    "index_rows",
    "study_date",
    "view_key",
    "visits_from_rows",
]

logger = logging.getLogger(__name__)


def view_key(desc: ImageDescription) -> str:
    """The view results are compared within (body site added for non-face photos)."""
    view = str(desc.view)
    if desc.view.is_face:
        return view
    site = (desc.body_site or "").strip().lower()
    return f"{view}:{site}" if site else view


def study_date(info: StudyInfo, fallback: dt.date) -> dt.date:
    """The Study Date (DA ``YYYYMMDD``), or *fallback* when absent or invalid."""
    try:
        return dt.datetime.strptime(info.study_date[:8], "%Y%m%d").date()
    except ValueError:
        return fallback


def visits_from_rows(rows: Sequence[ResultRow]) -> list[VisitValues]:
    """Group index rows into one :class:`VisitValues` per study and view."""
    groups: dict[tuple[str, str], list[ResultRow]] = defaultdict(list)
    for r in rows:
        groups[(r.study_instance_uid, r.view)].append(r)
    visits = []
    for (study_uid, view), rs in groups.items():
        first = rs[0]
        try:
            date = dt.datetime.strptime(first.study_date[:8], "%Y%m%d").date()
        except ValueError:
            continue  # an undated study cannot be placed in a trend
        visits.append(
            VisitValues(
                study_date=date,
                study_uid=study_uid,
                algorithm_version=first.algorithm_version,
                view=view,
                values={(r.region, r.key): r.value for r in rs},
                units={r.key: r.unit for r in rs},
                sr_instance_uid=first.sr_instance_uid,
            )
        )
    return sorted(visits, key=lambda v: (v.study_date, v.study_uid))


def comparison_json(cmp: Comparison) -> dict[str, Any]:
    """The comparison of one image for ``result.json`` (no patient data)."""
    return {
        "comparable": cmp.comparable,
        "reason": cmp.reason,
        "previous": None if cmp.previous is None else cmp.previous.study_date.isoformat(),
        "baseline": None if cmp.baseline is None else cmp.baseline.study_date.isoformat(),
        "visits": len(cmp.visits),
        "excluded": [{"date": e.study_date.isoformat(), "reason": e.reason} for e in cmp.excluded],
        "changes": [
            {
                "key": c.key,
                "region": c.region,
                "previous": c.previous,
                "current": c.current,
                "delta": c.delta,
                "delta_pct": c.delta_pct,
                "mdc": c.mdc,
                "label": c.label.value,
                "delta_baseline": c.delta_baseline,
                "label_baseline": c.label_baseline.value,
            }
            for c in cmp.changes
        ],
    }


def age_band(birth_date: str, on: dt.date) -> str:
    """The ten-year age band (``30-39``) of a patient born on *birth_date* (``YYYYMMDD``) at
    *on*, or ``""`` when the birth date is missing or invalid."""
    try:
        born = dt.date(int(birth_date[:4]), int(birth_date[4:6]), int(birth_date[6:8]))
    except ValueError:
        return ""
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if years < 0 or years > 129:
        return ""
    low = years // 10 * 10
    return f"{low}-{low + 9}"


def index_rows(
    result: AnalysisResult,
    info: StudyInfo,
    date: dt.date,
    result_set: str,
    sr_uid: str | None,
) -> list[ResultRow]:
    """The results-index rows of a result set (usable images only)."""
    rows = []
    for img in result.images:
        if not img.quality.usable:
            continue
        for m in img.measurements:
            rows.append(
                ResultRow(
                    study_instance_uid=info.study_instance_uid,
                    result_set=result_set,
                    patient_id=info.patient_id,
                    issuer_of_patient_id=info.issuer_of_patient_id,
                    study_date=date.strftime("%Y%m%d"),
                    view=view_key(img.description),
                    source_sop_instance_uid=img.source,
                    region=m.region,
                    key=m.key,
                    value=m.value,
                    unit=m.unit,
                    algorithm_version=result.algorithm_version,
                    sr_instance_uid=sr_uid,
                    patient_sex=info.patient_sex if info.patient_sex in ("M", "F", "O") else "",
                    age_band=age_band(info.patient_birth_date, date),
                )
            )
    return rows


class ProgressLinker:
    """Finds a study's priors and builds the per-image comparison for the outputs."""

    def __init__(self, store: JobStore, settings: Settings, analyzer: AnalysisEngine) -> None:
        self.store = store
        self.settings = settings
        self.analyzer = analyzer

    def _priors(self, info: StudyInfo) -> tuple[list[VisitValues], list[ResultRow]]:
        rows = self.store.patient_results(
            info.patient_id, info.issuer_of_patient_id, exclude_study_uid=info.study_instance_uid
        )
        visits = visits_from_rows(rows)
        p = self.settings.progress
        if not visits and p.pacs_priors and p.pacs_destination is not None:
            from integrations.priors import fetch_pacs_priors

            try:
                visits = fetch_pacs_priors(
                    self.settings.destination(p.pacs_destination),
                    self.settings.node.ae_title,
                    info.patient_id,
                    info.issuer_of_patient_id,
                    exclude_study_uid=info.study_instance_uid,
                )
            except DermNodeError as exc:
                logger.warning("priors from the PACS unavailable: %s", type(exc).__name__)
                visits = []
        limit = self.settings.progress.max_priors
        return visits[-limit:], rows

    def link(
        self, result: AnalysisResult, info: StudyInfo, date: dt.date
    ) -> list[PriorView | None]:
        """One :class:`PriorView` per image of *result* (None: nothing to compare with)."""
        from integrations.progress_view import PriorView

        out: list[PriorView | None] = [None] * len(result.images)
        if not self.settings.progress.enabled or not info.patient_id:
            return out
        priors, rows = self._priors(info)
        if not priors:
            return out
        for i, img in enumerate(result.images):
            if not img.quality.usable:
                continue
            view = view_key(img.description)
            current = VisitValues.from_measurements(
                img.measurements,
                study_date=date,
                study_uid=info.study_instance_uid,
                algorithm_version=result.algorithm_version,
                view=view,
            )
            same_view = [v for v in priors if v.view == view]
            if not same_view:
                continue
            cmp = compare(current, same_view)
            photo, earlier = self._earlier(cmp, rows, view)
            out[i] = PriorView(cmp, photo, earlier)
        n = sum(1 for p in out if p is not None)
        logger.info("progress: %d image(s) compared with %d prior visit(s)", n, len(priors))
        return out

    def _earlier(
        self, cmp: Comparison, rows: Sequence[ResultRow], view: str
    ) -> tuple[npt.NDArray[Any] | None, ImageResult | None]:
        """The previous visit's photo of this view and its analysis (for before/after)."""
        if not cmp.comparable or cmp.previous is None:
            return None, None
        uid = next(
            (
                r.source_sop_instance_uid
                for r in rows
                if r.study_instance_uid == cmp.previous.study_uid and r.view == view
            ),
            None,
        )
        inst = self.store.get_instance(uid) if uid else None
        if inst is None:
            return None, None  # priors from the PACS: values only
        try:
            frame = decode_dicom(inst.path)[0]
        except (OSError, DermNodeError):
            return None, None  # removed by retention, or no longer decodable
        return frame.pixels, self.analyzer.analyze(frame.pixels, frame.description)
