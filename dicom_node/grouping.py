"""Study grouping: a study is complete when no instance has arrived for a quiet period.

DESIGN.md §2 step 3. ``stable_after_s`` may be set per source AE title and per listening AE
title; when both apply, the longer one wins (a study is never cut short by the other
setting); when neither is set, ``node.stable_after_s``. A stable study goes
``received -> ready`` (compare-and-set on its version) and is handed to *submit*.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from config.settings import Settings
from dicom_node.store import JobStore, StudyState

__all__ = ["StudyGrouper"]

logger = logging.getLogger(__name__)


class StudyGrouper:
    """Finds quiet studies and queues them.

    Parameters
    ----------
    store
        The job store.
    settings
        Node and source settings (the quiet periods).
    submit
        Called with the job id of every ``ready`` study (it ignores studies already queued).
    """

    def __init__(self, store: JobStore, settings: Settings, submit: Callable[[int], None]) -> None:
        self.store = store
        self.settings = settings
        self.submit = submit

    def stable_after(self, calling_ae: str | None, called_ae: str | None) -> float:
        """The quiet period of a study sent by *calling_ae* to our AE title *called_ae*."""
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

    def _shortest(self) -> float:
        node = self.settings.node
        return min(
            [node.stable_after_s]
            + [s.stable_after_s for s in self.settings.sources if s.stable_after_s is not None]
            + [a.stable_after_s for a in node.additional_ae_titles if a.stable_after_s is not None]
        )

    def check_stable(self, now: float | None = None) -> int:
        """Queue every study that has been quiet long enough; return how many became ready."""
        t = time.time() if now is None else now
        # A study re-opened by a late instance can become ready while its previous run is
        # still in the pool (then submit skipped it): queue every ready study, however many.
        for job_id in self.store.study_ids(StudyState.READY):
            self.submit(job_id)
        n = 0
        for study in self.store.received_before(t - self._shortest()):
            if study.last_instance_at > t - self.stable_after(study.calling_ae, study.called_ae):
                continue
            if self.store.transition(
                study.id,
                StudyState.READY,
                from_states=[StudyState.RECEIVED],
                expected_version=study.version,
            ):
                logger.debug("job %d: stable, ready for analysis", study.id)
                self.submit(study.id)
                n += 1
        return n
