"""The running service: node + study grouping + analysis workers + outbox + HTTP status.

APScheduler 3.x (``BackgroundScheduler``) drives the timers; analysis runs in a thread pool
outside the association threads, so the node keeps accepting while it analyses.

Timers:

``stable``   every second: studies with no new instance for ``stable_after_s`` (per source
             AE and per listening AE title when configured, the longer of the two; else
             ``node.stable_after_s``) go ``received -> ready`` and are handed to a worker.
``outbox``   every second: due deliveries are attempted (:class:`~dicom_node.delivery.Deliverer`).
``disk``     every 30 s: free disk space, logged when under ``node.min_free_disk_mb``.
``retention`` hourly: spool files of studies delivered more than ``retention.spool_days`` ago
             are removed (results and the job store rows stay).

On start, studies left ``analysing`` by a crash go back to ``ready`` and every ``ready`` study
is queued again: the re-run is idempotent (deterministic UIDs, deduplicated outbox rows).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from analysis.pipeline import Analyzer
from config.settings import Settings
from dicom_node.app import RunningNode, start_node
from dicom_node.delivery import Deliverer
from dicom_node.metrics import StatusServer
from dicom_node.store import StudyState
from dicom_node.worker import AnalysisWorker, StudyOutcome

__all__ = ["Service", "ServiceStats", "worker_count"]

logger = logging.getLogger(__name__)

_FINAL = (StudyState.DELIVERED, StudyState.NOTIFIED)


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
        An analysis engine to use (default: one made on ``settings.analysis.device``).
    tick_s
        Period of the grouping and outbox timers.
    """

    def __init__(
        self,
        settings: Settings,
        storage_dir: Path,
        *,
        analyzer: Analyzer | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.storage_dir = storage_dir
        self.tick_s = tick_s
        self.analyzer = analyzer or Analyzer(settings.analysis.device)
        self.node: RunningNode | None = None
        self.stats = ServiceStats()
        self._pool: ThreadPoolExecutor | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._queued: set[int] = set()
        self._queued_lock = threading.Lock()
        self._stopping = threading.Event()
        self.deliverer: Deliverer | None = None
        self.http: StatusServer | None = None
        self.disk_free_bytes = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the node, recover unfinished work, start workers, timers and HTTP."""
        self.node = start_node(self.settings, self.storage_dir)
        store = self.node.store
        self.deliverer = Deliverer(store, self.settings)
        workers = worker_count(self.settings)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")
        self.worker = AnalysisWorker(store, self.settings, self.storage_dir, self.analyzer)
        recovered = 0
        for s in store.list_studies(StudyState.ANALYSING):
            if store.transition(s.id, StudyState.READY, from_states=[StudyState.ANALYSING]):
                recovered += 1
        for s in store.list_studies(StudyState.READY):
            self._submit(s.id)
        for s in store.list_studies(StudyState.ENCODED) + store.list_studies(StudyState.DELIVERED):
            self.deliverer.advance(s.id)
        if recovered:
            logger.info("recovered %d study(ies) interrupted during analysis", recovered)
        sched = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        sched.add_job(self.check_stable, "interval", seconds=self.tick_s, id="stable")
        sched.add_job(self.run_outbox, "interval", seconds=self.tick_s, id="outbox")
        sched.add_job(self.check_disk, "interval", seconds=30, id="disk")
        sched.add_job(self.retention, "interval", hours=1, id="retention")
        sched.start()
        self._scheduler = sched
        self.check_disk()
        if self.settings.http.port:
            self.http = StatusServer(self, self.settings.http.host, self.settings.http.port)
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
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
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

    # -- timers -----------------------------------------------------------------------------

    def _stable_after(self, calling_ae: str | None, called_ae: str | None) -> float:
        """The quiet period of a study sent by *calling_ae* to our AE title *called_ae*.

        ``stable_after_s`` may be set per source and per listening AE title; when both apply,
        the longer one wins (a study is never cut short by the other setting); when neither
        is set, ``node.stable_after_s``.
        """
        by_source = next(
            (
                s.stable_after_s
                for s in self.settings.sources
                if s.ae_title == calling_ae and s.stable_after_s is not None
            ),
            None,
        )
        by_called = self.settings.node.stable_after_override(called_ae)
        overrides = [v for v in (by_source, by_called) if v is not None]
        return max(overrides) if overrides else self.settings.node.stable_after_s

    def check_stable(self, now: float | None = None) -> int:
        """Queue every study that has been quiet long enough; return how many."""
        assert self.node is not None
        store = self.node.store
        t = time.time() if now is None else now
        node = self.settings.node
        shortest = min(
            [node.stable_after_s]
            + [s.stable_after_s for s in self.settings.sources if s.stable_after_s is not None]
            + [a.stable_after_s for a in node.additional_ae_titles if a.stable_after_s is not None]
        )
        n = 0
        # A study re-opened by a late instance can become ready while its previous run is
        # still in the pool (then _submit skipped it): queue every ready study not queued.
        for ready in store.list_studies(StudyState.READY):
            self._submit(ready.id)
        for study in store.received_before(t - shortest):
            if study.last_instance_at > t - self._stable_after(study.calling_ae, study.called_ae):
                continue
            if store.transition(
                study.id,
                StudyState.READY,
                from_states=[StudyState.RECEIVED],
                expected_version=study.version,
            ):
                self._submit(study.id)
                n += 1
        return n

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
        with self.stats.lock:
            self.stats.in_flight += 1
        try:
            outcome = self.worker.run(job_id)
        finally:
            with self.stats.lock:
                self.stats.in_flight -= 1
        self.stats.record(outcome)
        if outcome.state is StudyState.ENCODED and self.deliverer is not None:
            self.run_outbox()  # deliver at once instead of waiting for the next tick
        return outcome

    def _done(self, job_id: int, future: Future[StudyOutcome]) -> None:
        with self._queued_lock:
            self._queued.discard(job_id)
        exc = future.exception() if not future.cancelled() else None
        if exc is not None:
            logger.error("job %d: worker crashed (%s)", job_id, type(exc).__name__)

    def run_outbox(self) -> int:
        """Attempt the due deliveries (the timer calls this)."""
        if self.deliverer is None or self._stopping.is_set():
            return 0
        try:
            return self.deliverer.run_due()
        except Exception:
            logger.exception("outbox run failed")
            return 0

    def check_disk(self) -> int:
        """Measure free disk space of the storage folder; log below the floor."""
        free = shutil.disk_usage(self.storage_dir).free
        self.disk_free_bytes = free
        if free < self.settings.node.min_free_disk_mb * 1024 * 1024:
            logger.warning(
                "free disk %d MiB under the floor of %d MiB: C-STORE answers 0xA700",
                free // (1024 * 1024),
                self.settings.node.min_free_disk_mb,
            )
        return free

    def retention(self, now: float | None = None) -> int:
        """Remove spool files of studies finished more than ``spool_days`` ago.

        Finished means delivered (and notified): results leave first. Each removal is
        recorded in the job store, so a file is removed once and every later run only looks
        at studies that finished since; the selection is SQL over all studies, oldest first,
        in batches.
        """
        assert self.node is not None
        store = self.node.store
        t = time.time() if now is None else now
        cutoff = t - self.settings.retention.spool_days * 86400
        removed = 0
        while batch := store.spool_expired(cutoff, _FINAL, limit=1000):
            done: list[str] = []
            errors: list[str] = []
            for inst in batch:
                try:
                    os.unlink(inst.path)
                    removed += 1
                except FileNotFoundError:
                    pass  # already gone: recorded as removed all the same
                except OSError as exc:  # e.g. permissions: left, tried again next run
                    errors.append(type(exc).__name__)
                    continue
                done.append(inst.sop_instance_uid)
            store.mark_spool_removed(done, t)
            if errors:
                logger.warning(
                    "retention: %d spooled file(s) could not be removed (%s); next run retries",
                    len(errors),
                    ", ".join(sorted(set(errors))),
                )
                break
        if removed:
            logger.info("retention: removed %d spooled instance file(s)", removed)
        return removed

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
