"""The service's timers on APScheduler 3.x (``BackgroundScheduler``), behind a small seam.

Each timer runs at most one instance at a time and coalesces missed runs. :meth:`Timers.wake`
runs a timer now instead of at its next tick: the analysis thread wakes the outbox this way
after a hand-off, so a slow or absent PACS never holds an analysis thread.

APScheduler logs two INFO lines per timer run ("Running job ...", "... executed
successfully"): with one-second timers that was ~68 MB a day of an idle node's log. They are
demoted to DEBUG here (:class:`DemoteToDebug`); warnings and errors keep their level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler

__all__ = ["DemoteToDebug", "Timers"]

logger = logging.getLogger(__name__)

#: The APScheduler logger that writes a line per timer run.
_CHATTY = "apscheduler.executors"


class DemoteToDebug(logging.Filter):
    """Turns INFO records into DEBUG ones, dropped unless DEBUG is enabled."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote INFO; keep everything else."""
        if record.levelno != logging.INFO:
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_DEMOTE = DemoteToDebug()


class Timers:
    """Named interval timers."""

    def __init__(self) -> None:
        for name in (_CHATTY, f"{_CHATTY}.default"):
            chatty = logging.getLogger(name)
            if _DEMOTE not in chatty.filters:
                chatty.addFilter(_DEMOTE)
        self._sched = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        self._started = False

    def add(self, name: str, func: Callable[[], object], seconds: float) -> None:
        """Run *func* every *seconds* (first run one period after :meth:`start`)."""
        self._sched.add_job(func, "interval", seconds=seconds, id=name, name=name)

    def start(self) -> None:
        """Start the timer thread."""
        self._sched.start()
        self._started = True

    def wake(self, name: str) -> None:
        """Run timer *name* as soon as possible (a no-op when it is running already)."""
        if not self._started:
            return
        try:
            self._sched.modify_job(name, next_run_time=datetime.now(self._sched.timezone))
        except Exception as exc:  # noqa: BLE001 - stopping, or the job is gone
            logger.debug("timer %s not woken (%s)", name, type(exc).__name__)

    def stop(self) -> None:
        """Stop the timers, waiting for running ones to finish."""
        if self._started:
            self._sched.shutdown(wait=True)
            self._started = False
