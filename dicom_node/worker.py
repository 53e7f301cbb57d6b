"""The analysis worker: one ready study in, results encoded and queued for delivery out.

A worker owns a study from ``ready`` to ``encoded`` (DESIGN.md §2 steps 4-5):

1. compare-and-set ``ready -> analysing`` (a study that changed meanwhile is left alone);
2. decode every instance of the study (undecodable photos become unusable images with the
   reason, so the clinician still gets an answer);
3. analyse them together, write SR / SEG / PDF (and Secondary Capture where a destination
   asks for it) into ``<storage>/results/job-<id>/<set>/``; ``<set>`` is a digest of the
   source SOP Instance UIDs, so a re-run after a crash writes the same objects, and a study
   re-opened by a late instance writes new ones beside the old;
4. build one HL7 ORU per EMR endpoint (kept on disk, never rebuilt: its control ID stays);
5. enqueue every object x destination and every notice in the outbox (deduplicated by the
   deterministic SOP Instance UID / the set digest), then compare-and-set
   ``analysing -> encoded``. A crash anywhere before that leaves the study ``analysing``; the
   service puts such studies back to ``ready`` on start and the re-run is idempotent. A study
   whose runs were interrupted ``MAX_INTERRUPTED_RUNS`` times (a photo that crashes the
   process) is failed with the reason instead of being re-run after every restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
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
from analysis.pipeline import Analyzer
from analysis.progress import Comparison
from analysis.types import (
    AnalysisResult,
    ImageDescription,
    ImageResult,
    QualityIssue,
    QualityResult,
    Spacing,
    SpacingSource,
)
from config.settings import Settings
from dicom_node.decode import decode_dataset
from dicom_node.progress_link import ProgressLinker, comparison_json, index_rows, study_date
from dicom_node.store import InstanceRecord, JobStore, OutboxKind, StudyState
from integrations.errors import EncodingError
from integrations.hl7.oru import build_oru, new_control_id
from integrations.outputs import write_outputs
from integrations.study import StudyInfo

__all__ = ["AnalysisWorker", "StudyOutcome", "set_digest"]

logger = logging.getLogger(__name__)

RESULTS_DIR = "results"
#: Runs of one study interrupted by a crash before the study is failed instead of re-run.
MAX_INTERRUPTED_RUNS = 3
ATTEMPTS_FILE = ".analysis-runs"


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


def _sop_instance_uids(outputs: dict[str, Any]) -> dict[str, str]:
    """SOP Instance UID of every DICOM output file, by path (one header read each)."""
    patient = [entry["dcm"] for entry in outputs.get("patient", {}).values()]
    paths = [outputs["sr"], *outputs["seg"], outputs["report_dcm"], *outputs.get("sc", [])]
    paths += patient
    return {p: str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths if p}


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
        self, store: JobStore, settings: Settings, storage_dir: Path, analyzer: Analyzer
    ) -> None:
        self.store = store
        self.settings = settings
        self.results_dir = storage_dir / RESULTS_DIR
        self.analyzer = analyzer
        self.progress = ProgressLinker(store, settings, analyzer)

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
        interrupted = self._count_attempt(job_id)
        if interrupted >= MAX_INTERRUPTED_RUNS:
            # A photo that crashes the process (a native decoder or encoder aborting) would
            # otherwise be re-analysed after every restart, forever.
            logger.error("job %d: analysis was interrupted %d times; failed", job_id, interrupted)
            self.store.transition(
                job_id,
                StudyState.FAILED,
                from_states=[StudyState.ANALYSING],
                expected_version=version,
                error=(
                    f"analysis was interrupted {interrupted} times (the service crashed or was "
                    "killed while analysing this study); not retried automatically"
                ),
            )
            return StudyOutcome(job_id, StudyState.FAILED, duration_s=time.monotonic() - started)
        logger.info("job %d: analysing %d instance(s)", job_id, study.instance_count)
        try:
            outcome = self._process(job_id, study.study_instance_uid, version, started)
        except Exception as exc:
            # Reason without patient data: the exception type and our own message.
            reason = (
                f"{type(exc).__name__}: {exc}"
                if isinstance(exc, DermNodeError)
                else (f"internal error ({type(exc).__name__})")
            )
            logger.exception("job %d: analysis failed", job_id)
            self.store.transition(
                job_id,
                StudyState.FAILED,
                from_states=[StudyState.ANALYSING],
                expected_version=version,
                error=reason,
            )
            self._finished_run(job_id)
            return StudyOutcome(job_id, StudyState.FAILED, duration_s=time.monotonic() - started)
        self._finished_run(job_id)  # not reached when the process dies mid-run
        return outcome

    def _count_attempt(self, job_id: int) -> int:
        """Record the start of a run; return how many earlier runs never finished.

        The marker file is removed when a run ends (in any state) and when the limit is hit,
        so ``dermnode jobs retry`` of such a study starts with a clean count.
        """
        marker = self.results_dir / f"job-{job_id}" / ATTEMPTS_FILE
        try:
            before = int(marker.read_text(encoding="ascii").strip() or 0)
        except (FileNotFoundError, ValueError):
            before = 0
        if before >= MAX_INTERRUPTED_RUNS:
            marker.unlink(missing_ok=True)
            return before
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(before + 1), encoding="ascii")
        return before

    def _finished_run(self, job_id: int) -> None:
        (self.results_dir / f"job-{job_id}" / ATTEMPTS_FILE).unlink(missing_ok=True)

    # -- steps ----------------------------------------------------------------------------

    def _decode(
        self, instances: Sequence[InstanceRecord]
    ) -> tuple[list[tuple[npt.NDArray[Any], ImageDescription] | ImageResult], list[Dataset | None]]:
        items: list[tuple[npt.NDArray[Any], ImageDescription] | ImageResult] = []
        sources: list[Dataset | None] = []
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
            try:
                frame = decode_dataset(ds, source=inst.sop_instance_uid)[0]
                items.append((frame.pixels, frame.description))
            except InputRejected as exc:
                shape = (int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))
                logger.warning("job instance of class %s not decodable", ds.get("SOPClassUID"))
                items.append(_unusable(inst.sop_instance_uid, shape, str(exc)))
            sources.append(ds)
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
        result = AnalysisResult(images=tuple(images))
        digest = set_digest([i.sop_instance_uid for i in instances])
        out_dir = self.results_dir / f"job-{job_id}" / digest
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
        outputs = write_outputs(
            result,
            sources,
            out_dir,
            photos=photos,
            secondary_capture=want_sc,
            progress=progress if has_progress else None,
            patient_languages=self._patient_languages(),
        )
        doc = result.to_json(outputs)
        for image_doc, prior in zip(doc["images"], progress, strict=True):
            if prior is not None:
                image_doc["progress"] = comparison_json(prior.comparison)
        (out_dir / "result.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
        current = self.store.get_study(job_id)
        if current is None or current.version != version:
            # A late instance re-opened the study while we worked: do not queue results that
            # are already superseded; the study is analysed again with every instance.
            logger.info("job %d: study changed during analysis; results not queued", job_id)
            duration = time.monotonic() - started
            return StudyOutcome(job_id, StudyState.RECEIVED, len(images), 0, 0, duration)
        uids = _sop_instance_uids(outputs)
        sr_uid = uids.get(outputs["sr"]) if outputs["sr"] else None
        self.store.record_results(job_id, index_rows(result, info, date, digest, sr_uid))
        comparisons = [p.comparison if p is not None else None for p in progress]
        queued = self._enqueue(
            uids,
            job_id,
            study_uid,
            digest,
            out_dir,
            result,
            info,
            outputs,
            comparisons if has_progress else [],
        )
        state = StudyState.ENCODED
        if not self.store.transition(
            job_id,
            state,
            from_states=[StudyState.ANALYSING],
            expected_version=version,
            result_path=str(out_dir),
        ):
            # A late instance re-opened the study while we worked: it will be analysed
            # again with the new instance; what we queued is superseded, not mixed.
            logger.info("job %d: study changed during analysis; re-queued", job_id)
            state = StudyState.RECEIVED
        usable = sum(1 for i in result.images if i.quality.usable)
        duration = time.monotonic() - started
        logger.info(
            "job %d: %d image(s), %d usable, %d deliveries queued in %.2f s",
            job_id,
            len(images),
            usable,
            queued,
            duration,
        )
        return StudyOutcome(job_id, state, len(images), usable, queued, duration)

    def _patient_languages(self) -> tuple[str, ...]:
        """The site's patient-report language first, then those destinations override to."""
        report = self.settings.report
        if not report.patient_report:
            return ()
        wanted = [report.language] + [
            d.patient_language for d in self.settings.destinations if d.patient_language
        ]
        return tuple(dict.fromkeys(wanted))

    def _enqueue(
        self,
        uids: dict[str, str],
        job_id: int,
        study_uid: str,
        digest: str,
        out_dir: Path,
        result: AnalysisResult,
        study: StudyInfo,
        outputs: dict[str, Any],
        comparisons: Sequence[Comparison | None],
    ) -> int:
        dicom_files = [outputs["sr"], *outputs["seg"], outputs["report_dcm"]]
        dicom_files = [p for p in dicom_files if p]
        sc_files = list(outputs.get("sc", []))
        patient = outputs.get("patient", {})
        n = 0
        for dest in self.settings.destinations:
            mine = patient.get(dest.patient_language or self.settings.report.language, {})
            extra = [mine["dcm"]] if mine.get("dcm") else []
            for path in dicom_files + (sc_files if dest.secondary_capture else []) + extra:
                self.store.enqueue(
                    OutboxKind.DICOM,
                    dest.name,
                    study_id=job_id,
                    study_instance_uid=study_uid,
                    payload_path=path,
                    payload_ref=uids[path],
                    dedup_key=uids[path],
                )
                n += 1
        if self.settings.hl7:
            sr_uid = uids.get(outputs["sr"]) if outputs["sr"] else None
            seg_uids = [uids[p] for p in outputs["seg"]]
            pdf = Path(outputs["pdf"]).read_bytes()
            for ep in self.settings.hl7:
                path = out_dir / f"oru-{ep.name}.hl7"
                meta = out_dir / f"oru-{ep.name}.json"
                error: str | None = None
                if not meta.exists():  # built once: a re-run keeps the same control ID
                    control_id = new_control_id()
                    try:
                        msg = build_oru(
                            result,
                            study,
                            ep,
                            control_id=control_id,
                            sr_uid=sr_uid,
                            seg_uids=seg_uids,
                            pdf=pdf,
                            progress=comparisons,
                            observed_at=datetime.now(UTC),
                        )
                        path.write_bytes(msg.encode())
                    except EncodingError as exc:
                        error = str(exc)  # names the field, never the value
                    meta.write_text(
                        json.dumps({"control_id": control_id, "error": error}), encoding="utf-8"
                    )
                info = json.loads(meta.read_text(encoding="utf-8"))
                item = self.store.enqueue(
                    OutboxKind.HL7,
                    ep.name,
                    study_id=job_id,
                    study_instance_uid=study_uid,
                    payload_path=str(path),
                    payload_ref=info["control_id"],
                    dedup_key=digest,
                )
                if info.get("error"):
                    logger.error("job %d: HL7 notice for %s cannot be encoded", job_id, ep.name)
                    current = self.store.get_outbox(item)
                    if current is not None and current.state == "pending":
                        self.store.mark_failed(item, retryable=False, error=info["error"])
                n += 1
        return n
