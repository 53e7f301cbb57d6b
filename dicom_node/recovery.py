"""Start-up recovery: what a crash (or kill -9) left unfinished is resumed.

- Studies left ``analysing`` were being analysed when the process died: each gets one
  interrupted run counted (in the job store) and goes back to ``ready``; one interrupted
  :data:`MAX_INTERRUPTED_RUNS` times (a photo that crashes the process) is failed with the
  reason instead. A crash during another study's analysis, or during a delivery, does not
  count against a study.
- Every ``ready`` study is queued again: the re-run is idempotent (deterministic UIDs and
  control IDs, deduplicated outbox rows, one transaction for the hand-off).
- ``encoded`` and ``delivered`` studies are moved on when their deliveries are done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dicom_node.store import JobStore, StudyState

__all__ = ["MAX_INTERRUPTED_RUNS", "RecoveryReport", "recover"]

logger = logging.getLogger(__name__)

#: Runs of one study interrupted by a crash before the study is failed instead of re-run.
MAX_INTERRUPTED_RUNS = 3


class RecoveryReport:
    """What :func:`recover` did (job ids)."""

    def __init__(self, requeued: list[int], failed: list[int], ready: list[int]) -> None:
        self.requeued = requeued
        self.failed = failed
        self.ready = ready


def recover(
    store: JobStore,
    submit: Callable[[int], None],
    advance: Callable[[int], object],
    *,
    max_interrupted_runs: int = MAX_INTERRUPTED_RUNS,
) -> RecoveryReport:
    """Resume after a restart; see the module docstring."""
    requeued, failed = store.recover_interrupted(
        max_interrupted_runs,
        error=(
            f"analysis was interrupted {max_interrupted_runs} times (the service crashed or "
            "was killed while analysing this study); not retried automatically"
        ),
    )
    for job_id in failed:
        logger.error(
            "job %d: analysis was interrupted %d times; failed", job_id, max_interrupted_runs
        )
    if requeued:
        logger.info("recovered %d study(ies) interrupted during analysis", len(requeued))
    ready = store.study_ids(StudyState.READY)
    for job_id in ready:
        submit(job_id)
    for state in (StudyState.ENCODED, StudyState.DELIVERED):
        for job_id in store.study_ids(state):
            advance(job_id)
    return RecoveryReport(requeued, failed, ready)
