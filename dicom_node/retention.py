"""Spool retention: received photos are removed ``retention.spool_days`` after delivery.

Finished means delivered (and notified): results leave first. Each removal is recorded in
the job store, so a file is removed once and every later run only looks at studies that
finished since; the selection is SQL over all studies, oldest first, in batches. Results and
the job store rows stay.
"""

from __future__ import annotations

import logging
import os
import time

from config.settings import RetentionSettings
from dicom_node.store import JobStore, StudyState

__all__ = ["FINISHED", "SpoolRetention"]

logger = logging.getLogger(__name__)

#: Study states whose spooled photos may go.
FINISHED = (StudyState.DELIVERED, StudyState.NOTIFIED)


class SpoolRetention:
    """Removes expired spool files (the service runs :meth:`run` hourly)."""

    def __init__(self, store: JobStore, settings: RetentionSettings, batch: int = 1000) -> None:
        self.store = store
        self.settings = settings
        self.batch = batch

    def run(self, now: float | None = None) -> int:
        """Remove the spool files of studies finished more than ``spool_days`` ago."""
        t = time.time() if now is None else now
        cutoff = t - self.settings.spool_days * 86400
        removed = 0
        while batch := self.store.spool_expired(cutoff, FINISHED, limit=self.batch):
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
            self.store.mark_spool_removed(done, t)
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
