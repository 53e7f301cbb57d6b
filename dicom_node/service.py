"""The running service: node + grouping + analysis workers + outbox + HTTP status.

This module only composes; each job lives in its own module:

============================  ==========================================================
:mod:`dicom_node.node`        spool, job store and the Storage SCP (receive, spool)
:mod:`dicom_node.recovery`    what a crash left: interrupted analyses, queued studies
:mod:`dicom_node.grouping`    ``stable`` timer: quiet studies go ``received -> ready``
:mod:`dicom_node.worker`      one ready study -> results written and handed to the outbox
:mod:`dicom_node.delivery`    ``outbox`` timer: C-STORE to the PACS, then the HL7 notice
:mod:`dicom_node.retention`   ``retention`` timer (hourly): old spool files removed
:mod:`dicom_node.scheduler`   the timers (APScheduler 3.x)
:mod:`dicom_node.metrics`     /healthz and /metrics from :meth:`Service.snapshot`
============================  ==========================================================

Analysis runs in a thread pool outside the association threads, so the node keeps accepting
while it analyses; after a hand-off the worker *wakes* the outbox timer instead of
delivering itself, so a PACS outage never stalls analysis. The ``disk`` timer (every 30 s)
measures free space; when it is back above ``node.min_free_disk_mb`` (with
:data:`RESUME_FREE_BYTES` to spare), studies that failed for lack of disk are queued again.
"""

from __future__ import annotations

import functools
import logging
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import Settings
from dicom_node import setup
from dicom_node.delivery import Deliverer, PacsSender, TransportFactory
from dicom_node.engine import AnalysisEngine
from dicom_node.grouping import StudyGrouper
from dicom_node.metrics import ServiceSnapshot, StatusServer
from dicom_node.node import RunningNode, start_node
from dicom_node.recovery import recover
from dicom_node.retention import SpoolRetention
from dicom_node.scheduler import Timers
from dicom_node.store import FailureKind, StudyState
from dicom_node.worker import AnalysisWorker, StudyOutcome

__all__ = ["Service", "ServiceStats", "worker_count"]

logger = logging.getLogger(__name__)

#: Free space needed (beyond ``node.min_free_disk_mb``) before studies that failed for lack
#: of disk are analysed again: a result set is tens of MB, and re-running into a full disk
#: every 30 s helps no one.
RESUME_FREE_BYTES = 64 * 1024 * 1024


def worker_count(settings: Settings) -> int:
    """Analysis workers: from config; by default one.

    One worker lets a study use every core through PyTorch's intra-op threads, which gives a
    lower latency per study than several single-threaded workers; on a CUDA device a single
    worker owns the GPU.
    """
    if settings.analysis.workers is not None:
        return settings.analysis.workers
    return 1


@dataclass
class ServiceStats:
    """Analysis counters for /metrics."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    analysed: int = 0
    failed: int = 0
    seconds_sum: float = 0.0
    in_flight: int = 0

    def record(self, outcome: StudyOutcome) -> None:
        """Count one finished worker run."""
        with self.lock:
            if outcome.state is StudyState.FAILED:
                self.failed += 1
            elif outcome.state is not None:
                self.analysed += 1
            self.seconds_sum += outcome.duration_s


class Service:
    """Everything ``dermnode serve`` runs. :meth:`start` returns at once; :meth:`stop` parks.

    Parameters
    ----------
    settings
        The validated settings.
    storage_dir
        Spool, job store and results folder.
    analyzer
        The analysis engine (default: :class:`analysis.pipeline.Analyzer` on
        ``settings.analysis.device``).
    pacs_sender, hl7_transports
        The C-STORE sender and the HL7 transport factory of the outbox (defaults: the real
        ones); tests pass fakes here.
    tick_s
        Period of the grouping and outbox timers.
    """

    def __init__(
        self,
        settings: Settings,
        storage_dir: Path,
        *,
        analyzer: AnalysisEngine | None = None,
        pacs_sender: PacsSender | None = None,
        hl7_transports: TransportFactory | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.storage_dir = storage_dir
        self.tick_s = tick_s
        if settings.analysis.retain_freed_memory:
            setup.retain_freed_memory()  # process-wide: the service is the process
        if analyzer is None:
            from analysis.pipeline import Analyzer  # imports torch: only when serving

            analyzer = Analyzer(settings.analysis.device)
        self.analyzer: AnalysisEngine = analyzer
        self._pacs_sender = pacs_sender
        self._hl7_transports = hl7_transports
        self.node: RunningNode | None = None
        self.stats = ServiceStats()
        self.deliverer: Deliverer | None = None
        self.worker: AnalysisWorker | None = None
        self.grouper: StudyGrouper | None = None
        self.retention: SpoolRetention | None = None
        self.http: StatusServer | None = None
        self.disk_free_bytes = 0
        self._pool: ThreadPoolExecutor | None = None
        self._timers: Timers | None = None
        self._queued: set[int] = set()
        self._queued_lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the node, recover unfinished work, start workers, timers and HTTP."""
        self.node = start_node(self.settings, self.storage_dir)
        store = self.node.store
        self.deliverer = Deliverer(
            store,
            self.settings,
            pacs_sender=self._pacs_sender,
            hl7_transports=self._hl7_transports,
        )
        workers = worker_count(self.settings)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")
        self.worker = AnalysisWorker(store, self.settings, self.storage_dir, self.analyzer)
        self.grouper = StudyGrouper(store, self.settings, self._submit)
        self.retention = SpoolRetention(store, self.settings.retention)
        recover(store, self._submit, self.deliverer.advance)
        timers = Timers()
        timers.add("stable", self.check_stable, self.tick_s)
        timers.add("outbox", self.run_outbox, self.tick_s)
        timers.add("disk", self.check_disk, 30)
        timers.add("retention", self.retention.run, 3600)
        timers.start()
        self._timers = timers
        self.check_disk()
        if self.settings.http.port:
            self.http = StatusServer(
                self.snapshot, self.healthy, self.settings.http.host, self.settings.http.port
            )
            self.http.start()
        logger.info(
            "service started: AE %s on port %d, %d analysis worker(s) on %s",
            self.settings.node.ae_title,
            self.node.port,
            workers,
            self.analyzer.device,
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """Graceful stop: no new work; running analyses finish or are parked (``ready``)."""
        self._stopping.set()
        if self._timers is not None:
            self._timers.stop()
        if self.http is not None:
            self.http.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self.node is not None:
            # queued-but-not-started studies stay 'ready' and are picked up on the next start
            self.node.stop(grace_s)
        if self.deliverer is not None:
            self.deliverer.close()
        logger.info("service stopped")

    # -- status -----------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Started and not stopping."""
        return self.node is not None and not self._stopping.is_set()

    def snapshot(self) -> ServiceSnapshot:
        """The state /healthz and /metrics show, frozen at this moment."""
        a = self.stats
        with a.lock:
            analysis = (a.in_flight, a.seconds_sum, a.analysed, a.failed)
        node = self.node
        studies = outbox = cstore = None
        active = None
        if node is not None:
            studies = {k.value: v for k, v in node.store.study_state_counts().items()}
            outbox = {
                (k.value, s.value): v for (k, s), v in node.store.outbox_state_counts().items()
            }
            hs = node.handler.stats
            cstore = {"stored": hs.stored, "duplicate": hs.duplicates, "failed": hs.failed}
            active = node.active_associations
        d = self.deliverer.stats.snapshot() if self.deliverer is not None else None
        return ServiceSnapshot(
            healthy=self.healthy(),
            disk_free_bytes=self.disk_free_bytes,
            studies=studies,
            outbox=outbox,
            cstore=cstore,
            associations_active=active,
            analysis_in_flight=analysis[0],
            analysis_seconds_sum=analysis[1],
            analysed=analysis[2],
            analysis_failed=analysis[3],
            delivery_seconds_sum=None if d is None else d.seconds_sum,
            delivery_seconds_count=0 if d is None else d.seconds_count,
            delivered={} if d is None else d.delivered,
            delivery_failed={} if d is None else d.failed,
        )

    # -- timers -----------------------------------------------------------------------------

    def check_stable(self, now: float | None = None) -> int:
        """Queue every study that has been quiet long enough; return how many."""
        if self.grouper is None:
            return 0
        return self.grouper.check_stable(now)

    def _submit(self, job_id: int) -> None:
        if self._pool is None or self._stopping.is_set():
            return
        with self._queued_lock:
            if job_id in self._queued:
                return
            self._queued.add(job_id)
        future = self._pool.submit(self._run_job, job_id)
        future.add_done_callback(functools.partial(self._done, job_id))

    def _run_job(self, job_id: int) -> StudyOutcome:
        assert self.worker is not None
        with self.stats.lock:
            self.stats.in_flight += 1
        try:
            outcome = self.worker.run(job_id)
        finally:
            with self.stats.lock:
                self.stats.in_flight -= 1
        self.stats.record(outcome)
        if outcome.state is StudyState.ENCODED and self._timers is not None:
            self._timers.wake("outbox")  # deliver now, on the outbox's own thread
        return outcome

    def _done(self, job_id: int, future: Future[StudyOutcome]) -> None:
        with self._queued_lock:
            self._queued.discard(job_id)
        exc = future.exception() if not future.cancelled() else None
        if exc is not None:
            logger.error("job %d: worker crashed (%s)", job_id, type(exc).__name__)

    def run_outbox(self) -> int:
        """Attempt the due deliveries (the outbox timer calls this)."""
        if self.deliverer is None or self._stopping.is_set():
            return 0
        try:
            return self.deliverer.run_due()
        except Exception:
            logger.exception("outbox run failed")
            return 0

    def check_disk(self) -> int:
        """Measure free disk space; log below the floor, re-queue disk failures above it."""
        free = shutil.disk_usage(self.storage_dir).free
        self.disk_free_bytes = free
        floor = self.settings.node.min_free_disk_mb * 1024 * 1024
        if free < floor:
            logger.warning(
                "free disk %d MiB under the floor of %d MiB: C-STORE answers 0xA700",
                free // (1024 * 1024),
                self.settings.node.min_free_disk_mb,
            )
        elif self.node is not None and free >= floor + RESUME_FREE_BYTES:
            for job_id in self.node.store.requeue_failed(FailureKind.DISK_FULL):
                logger.info("job %d: disk space is back; analysed again", job_id)
                self._submit(job_id)
        return free

    # -- waiting (demo, tests) --------------------------------------------------------------

    def wait_for(self, study_uid: str, states: tuple[StudyState, ...], timeout_s: float) -> bool:
        """Block until the study reaches one of *states*; False on timeout."""
        assert self.node is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s = self.node.store.get_study(study_uid)
            if s is not None and s.state in states:
                return True
            time.sleep(0.1)
        return False
