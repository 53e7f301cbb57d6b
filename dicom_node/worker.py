"""The analysis worker: one ready study in, results encoded and queued for delivery out.

A worker owns a study from ``ready`` to ``encoded`` (DESIGN.md §2 steps 4-5):

1. compare-and-set ``ready -> analysing`` (a study that changed meanwhile is left alone);
2. decode every instance of the study (undecodable photos become unusable images with the
   reason, so the clinician still gets an answer);
3. analyse them together, write SR / SEG / PDF (and Secondary Capture where a destination
   asks for it) into ``<storage>/results/job-<id>/<set>/``; ``<set>`` is a digest of the
   source SOP Instance UIDs, so a re-run after a crash writes the same objects, and a study
   re-opened by a late instance writes new ones beside the old;
4. build one HL7 ORU per EMR endpoint (:func:`integrations.hl7.oru.build_notice`; its
   control ID is derived from the study, the set digest, the algorithm version and the
   endpoint, so a re-run builds the same notice);
5. hand the set over in ONE job-store transaction (:meth:`JobStore.hand_off`): the results
   index, every object x destination and every notice in the outbox (deduplicated by the
   deterministic SOP Instance UID / the set digest), and the compare-and-set
   ``analysing -> encoded``. A crash anywhere before the commit leaves the study
   ``analysing`` with nothing queued; :mod:`dicom_node.recovery` puts it back to ``ready``
   on start (counting the interrupted run) and the re-run is idempotent.

The worker never delivers: the service wakes the outbox timer after a hand-off. A run that
cannot write its results for lack of disk space fails the study with
:attr:`FailureKind.DISK_FULL`; the service queues it again when space returns. Result
folders are created 0700, ``result.json`` and ``oru-*.hl7`` 0600.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import os
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset

from analysis.errors import DermNodeError, InputRejected
from analysis.fusion import fused
from analysis.progress import Comparison
from analysis.scores import compute_scores
from analysis.treatment import (
    ClinicNorms,
    CourseResponse,
    TreatmentSupport,
    clinic_norms,
    course_response,
    evaluate,
)
from analysis.types import (
    AnalysisResult,
    ImageDescription,
    ImageResult,
    Measurement,
    QualityIssue,
    QualityResult,
    Spacing,
    SpacingSource,
)
from config.settings import Settings
from dicom_node.decode import DecodeLimits, decode_dataset, sanitize_source
from dicom_node.engine import AnalysisEngine
from dicom_node.node import RESULTS_DIR, private_dir
from dicom_node.progress_link import (
    ProgressLinker,
    age_band,
    comparison_json,
    index_rows,
    study_date,
    view_key,
)
from dicom_node.store import (
    FailureKind,
    InstanceRecord,
    JobStore,
    NewDelivery,
    OutboxKind,
    StudyState,
)
from dicom_node.treatment import load_clinic_rules
from integrations.errors import EncodingError
from integrations.hl7.oru import build_notice
from integrations.outputs import OutputKind, ResultSet, write_result_set
from integrations.study import StudyInfo

__all__ = ["AnalysisWorker", "StudyOutcome", "set_digest", "write_private"]

logger = logging.getLogger(__name__)

#: ``errno`` values meaning "no space": the run is retried when space returns.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def write_private(path: Path, data: bytes) -> None:
    """Write *data* to *path* atomically (temporary file, fsync, rename), mode 0600."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_digest(sop_instance_uids: Sequence[str]) -> str:
    """A short stable digest of a set of SOP Instance UIDs (order-independent)."""
    h = hashlib.sha256("\n".join(sorted(sop_instance_uids)).encode("ascii"))
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class StudyOutcome:
    """What a worker run did (for logs, metrics and tests)."""

    job_id: int
    state: StudyState | None  # None: the study was not ours to process
    images: int = 0
    usable: int = 0
    queued: int = 0
    duration_s: float = 0.0


def _unusable(
    source: str,
    shape: tuple[int, int],
    reason: str,
    description: ImageDescription | None = None,
) -> ImageResult:
    quality = QualityResult(
        usable=False,
        issues=(QualityIssue("undecodable", reason, True),),
        sharpness=0.0,
        exposure_clipped_pct=0.0,
        face_found=False,
    )
    return ImageResult(
        description=description or ImageDescription(source=source),
        image_shape=shape,
        quality=quality,
        spacing=Spacing(None, SpacingSource.UNKNOWN),
    )


def _int_or_0(ds: Dataset, keyword: str) -> int:
    try:
        return int(ds.get(keyword, 0) or 0)
    except Exception:
        return 0


class AnalysisWorker:
    """Runs the analysis of one study at a time (call :meth:`run` from a worker thread).

    Parameters
    ----------
    store
        The job store.
    settings
        The service settings (destinations, HL7 endpoints).
    storage_dir
        The node's storage folder; results go to ``results/`` inside it.
    analyzer
        The analysis engine (its ``torch.device`` was chosen at start).
    """

    def __init__(
        self, store: JobStore, settings: Settings, storage_dir: Path, analyzer: AnalysisEngine
    ) -> None:
        self.store = store
        self.settings = settings
        self.results_dir = storage_dir / RESULTS_DIR
        self.analyzer = analyzer
        self.progress = ProgressLinker(store, settings, analyzer)
        rules_file = settings.treatment.rules_file
        #: The clinic's treatment-planning rules (validated at start: a bad file stops here).
        self.rules = load_clinic_rules(rules_file) if rules_file is not None else None

    def run(self, job_id: int) -> StudyOutcome:
        """Process study *job_id* if it is ``ready``; never raises for a bad study."""
        started = time.monotonic()
        study = self.store.get_study(job_id)
        if study is None or study.state is not StudyState.READY:
            return StudyOutcome(job_id, None)
        if not self.store.transition(
            job_id,
            StudyState.ANALYSING,
            from_states=[StudyState.READY],
            expected_version=study.version,
        ):
            return StudyOutcome(job_id, None)
        version = study.version + 1
        logger.info("job %d: analysing %d instance(s)", job_id, study.instance_count)
        try:
            return self._process(job_id, study.study_instance_uid, version, started)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                return self._fail(job_id, version, exc, started)
            logger.error(
                "job %d: no disk space for the results; retried when space returns", job_id
            )
            self.store.transition(
                job_id,
                StudyState.FAILED,
                from_states=[StudyState.ANALYSING],
                expected_version=version,
                error=(
                    "no disk space left for the results (OSError ENOSPC); "
                    "retried when space returns"
                ),
                failure_kind=FailureKind.DISK_FULL,
            )
            return StudyOutcome(job_id, StudyState.FAILED, duration_s=time.monotonic() - started)
        except Exception as exc:
            return self._fail(job_id, version, exc, started)

    def _fail(self, job_id: int, version: int, exc: Exception, started: float) -> StudyOutcome:
        # Reason without patient data: the exception type and, for our own errors (whose
        # messages never quote values), the message.
        reason = (
            f"{type(exc).__name__}: {exc}"
            if isinstance(exc, DermNodeError)
            else f"internal error ({type(exc).__name__})"
        )
        # The frames only: exception messages of third-party code may quote element values.
        logger.error(
            "job %d: analysis failed (%s)\n%s",
            job_id,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
        )
        self.store.transition(
            job_id,
            StudyState.FAILED,
            from_states=[StudyState.ANALYSING],
            expected_version=version,
            error=reason,
        )
        return StudyOutcome(job_id, StudyState.FAILED, duration_s=time.monotonic() - started)

    # -- steps ----------------------------------------------------------------------------

    def _decode(
        self, instances: Sequence[InstanceRecord]
    ) -> tuple[list[tuple[npt.NDArray[Any], ImageDescription] | ImageResult], list[Dataset | None]]:
        items: list[tuple[npt.NDArray[Any], ImageDescription] | ImageResult] = []
        sources: list[Dataset | None] = []
        a = self.settings.analysis
        limits = DecodeLimits(a.max_image_pixels, a.max_decoded_mb * 1024 * 1024)
        for inst in instances:
            try:
                ds = pydicom.dcmread(inst.path)
            except FileNotFoundError:
                # Retention removed it (a study re-opened by a late photo long after
                # delivery), or the spool lost it: say so instead of failing the study.
                reason = (
                    "The received photo is no longer on DermNode (spool retention removed it "
                    f"{self.settings.retention.spool_days:g} days after its results were "
                    "delivered); its earlier results stand."
                    if inst.spool_removed_at is not None
                    else "The received photo is missing from DermNode's spool."
                )
                logger.log(
                    logging.WARNING if inst.spool_removed_at is not None else logging.ERROR,
                    "instance of class %s: spool file missing",
                    inst.sop_class_uid,
                )
                items.append(_unusable(inst.sop_instance_uid, (0, 0), reason))
                sources.append(None)
                continue
            except Exception as exc:  # a spool file pydicom cannot read: this photo only
                logger.warning(
                    "instance of class %s not readable (%s)", inst.sop_class_uid, type(exc).__name__
                )
                reason = f"The received photo cannot be read ({type(exc).__name__})."
                items.append(_unusable(inst.sop_instance_uid, (0, 0), reason))
                sources.append(None)
                continue
            try:
                frame = decode_dataset(ds, source=inst.sop_instance_uid, limits=limits)[0]
                items.append((frame.pixels, frame.description))
            except InputRejected as exc:
                shape = (_int_or_0(ds, "Rows"), _int_or_0(ds, "Columns"))
                logger.warning("job instance of class %s not decodable", inst.sop_class_uid)
                items.append(_unusable(inst.sop_instance_uid, shape, str(exc)))
            sources.append(sanitize_source(ds)[0])
        return items, sources

    def _process(self, job_id: int, study_uid: str, version: int, started: float) -> StudyOutcome:
        instances = sorted(
            self.store.instances_of(study_uid),
            key=lambda i: (i.series_number or 0, i.instance_number or 0, i.sop_instance_uid),
        )
        items, sources = self._decode(instances)
        images: list[ImageResult] = []
        for item in items:
            if isinstance(item, ImageResult):
                images.append(item)
                continue
            try:
                images.append(self.analyzer.analyze(*item))
            except InputRejected as exc:  # e.g. too small: an answer that says why
                logger.warning("job %d: a photo was rejected by the engine", job_id)
                pixels, desc = item
                shape = (int(pixels.shape[0]), int(pixels.shape[1])) if pixels.ndim >= 2 else (0, 0)
                images.append(_unusable(desc.source, shape, str(exc), desc))
        result = fused(AnalysisResult(images=tuple(images)))  # + study-level values per zone
        digest = set_digest([i.sop_instance_uid for i in instances])
        out_dir = private_dir(self.results_dir / f"job-{job_id}" / digest)
        photos: list[npt.NDArray[np.uint8] | None] = [
            item[0] if not isinstance(item, ImageResult) and item[0].dtype == np.uint8 else None
            for item in items
        ]
        want_sc = any(d.secondary_capture for d in self.settings.destinations)
        first = next((ds for ds in sources if ds is not None), None)
        if first is None:
            raise InputRejected(
                "none of the study's photos is on DermNode any more; nothing to analyse"
            )
        info = StudyInfo.from_dataset(first)
        date = study_date(info, dt.date.fromtimestamp(min(i.received_at for i in instances)))
        progress = self.progress.link(result, info, date)
        has_progress = any(p is not None for p in progress)
        comparisons = [p.comparison if p is not None else None for p in progress]
        support = (
            evaluate(self.rules.rules, result, comparisons, rule_set=self.rules.name)
            if self.rules is not None
            else None
        )
        course = self._course_responses(result, info, date, comparisons)
        norms = self._clinic_norms(result, info, date)
        written = write_result_set(
            result,
            sources,
            out_dir,
            photos=photos,
            secondary_capture=want_sc,
            progress=progress if has_progress else None,
            patient_languages=self._patient_languages(),
            treatment=support,
            course=course,
            norms=norms,
        )
        doc = result.to_json(written.to_json(want_sc))
        for image_doc, image_norms in zip(doc["images"], norms, strict=True):
            if image_norms is not None:
                image_doc["clinic_norms"] = image_norms.to_json()
        for image_doc, response in zip(doc["images"], course or [], strict=False):
            if response is not None:
                image_doc["course"] = response.to_json()
        if support is not None:
            doc["treatment_support"] = support.to_json()
        for image_doc, prior in zip(doc["images"], progress, strict=True):
            if prior is not None:
                image_doc["progress"] = comparison_json(prior.comparison)
        write_private(out_dir / "result.json", json.dumps(doc, indent=1).encode("utf-8"))
        deliveries = self._deliveries(
            job_id,
            digest,
            out_dir,
            result,
            info,
            written,
            comparisons if has_progress else [],
            support,
            course or [],
        )
        sr = written.sr
        rows = index_rows(result, info, date, digest, None if sr is None else sr.sop_instance_uid)
        state = StudyState.ENCODED
        if not self.store.hand_off(job_id, version, deliveries, rows, str(out_dir)):
            # A late instance re-opened the study while we worked: it will be analysed
            # again with every instance; nothing of this superseded run was queued.
            logger.info("job %d: study changed during analysis; results not queued", job_id)
            state = StudyState.RECEIVED
            deliveries = []
        usable = sum(1 for i in result.images if i.quality.usable)
        duration = time.monotonic() - started
        logger.info(
            "job %d: %d image(s), %d usable, %d deliveries queued in %.2f s",
            job_id,
            len(images),
            usable,
            len(deliveries),
            duration,
        )
        return StudyOutcome(job_id, state, len(images), usable, len(deliveries), duration)

    def _clinic_norms(
        self, result: AnalysisResult, info: StudyInfo, date: dt.date
    ) -> list[ClinicNorms | None]:
        """Per usable image, its scores' percentiles among the clinic's own earlier patients
        of the same sex and age band (from the results index), or why there are none."""
        sex = info.patient_sex if info.patient_sex in ("M", "F", "O") else ""
        band = age_band(info.patient_birth_date, date)
        out: list[ClinicNorms | None] = []
        for image in result.images:
            if not image.quality.usable or not image.scores:
                out.append(None)
                continue
            region = "face" if image.description.view.is_face else "skin"
            cohort = self.store.cohort_results(
                sex,
                band,
                view_key(image.description),
                exclude_patient=(info.patient_id, info.issuer_of_patient_id),
                region=region,
            )
            scores = [
                compute_scores([Measurement(r.key, r.region, r.value, r.unit) for r in rows])
                for rows in cohort.values()
            ]
            out.append(clinic_norms(image.scores, scores, patient_sex=sex, age_band=band))
        return out

    def _course_responses(
        self,
        result: AnalysisResult,
        info: StudyInfo,
        date: dt.date,
        comparisons: Sequence[Comparison | None],
    ) -> list[CourseResponse | None] | None:
        """Per image, the response since the patient's current treatment course began (None
        without a course recorded by ``dermnode course add`` or without a comparison)."""
        if not info.patient_id.strip():
            return None
        course = self.store.active_course(info.patient_id, info.issuer_of_patient_id, date)
        if course is None:
            return None
        out: list[CourseResponse | None] = []
        for image, comparison in zip(result.images, comparisons, strict=True):
            top = "face" if image.description.view.is_face else "skin"
            out.append(None if comparison is None else course_response(course, comparison, top=top))
        return out if any(r is not None for r in out) else None

    def _patient_languages(self) -> tuple[str, ...]:
        """The site's patient-report language first, then those destinations override to."""
        report = self.settings.report
        if not report.patient_report:
            return ()
        wanted = [report.language] + [
            d.patient_language for d in self.settings.destinations if d.patient_language
        ]
        return tuple(dict.fromkeys(wanted))

    def _deliveries(
        self,
        job_id: int,
        digest: str,
        out_dir: Path,
        result: AnalysisResult,
        study: StudyInfo,
        written: ResultSet,
        comparisons: Sequence[Comparison | None],
        support: TreatmentSupport | None = None,
        course: Sequence[CourseResponse | None] = (),
    ) -> list[NewDelivery]:
        """Every object x destination, then one notice per HL7 endpoint."""
        out: list[NewDelivery] = []
        base = [
            f for f in written.files if f.kind not in (OutputKind.SC, OutputKind.PATIENT_REPORT)
        ]
        sc = written.of_kind(OutputKind.SC)
        for dest in self.settings.destinations:
            # the patient report in the destination's language (or the site's)
            patient = written.patient_report(dest.patient_language or self.settings.report.language)
            extra = [] if patient is None else [patient]
            for f in base + (sc if dest.secondary_capture else []) + extra:
                out.append(
                    NewDelivery(
                        OutboxKind.DICOM,
                        dest.name,
                        payload_path=str(f.path),
                        payload_ref=f.sop_instance_uid,
                        dedup_key=f.sop_instance_uid,
                    )
                )
        for ep in self.settings.hl7:
            path = out_dir / f"oru-{ep.name}.hl7"
            error: str | None = None
            control_id = ""
            try:
                msg = build_notice(
                    result,
                    study,
                    ep,
                    written,
                    result_set=digest,
                    progress=comparisons,
                    treatment=support,
                    course=course,
                    observed_at=datetime.now(UTC),
                )
                control_id = msg.control_id
                write_private(path, msg.encode())
            except EncodingError as exc:
                error = f"EncodingError: {exc}"  # names the field, never the value
                logger.error("job %d: HL7 notice for %s cannot be encoded", job_id, ep.name)
            out.append(
                NewDelivery(
                    OutboxKind.HL7,
                    ep.name,
                    payload_path=str(path),
                    payload_ref=control_id or None,
                    dedup_key=digest,
                    dead_error=error,
                )
            )
        return out
