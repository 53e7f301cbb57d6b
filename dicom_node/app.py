"""Composition root: settings in, a running node out (wiring only, no logic).

:func:`serve` is ``dermnode serve``: load and validate the settings (a bad file exits before
anything listens), configure logging, then run the :class:`~dicom_node.service.Service` (spool
sweep, SCP, study grouping, analysis workers, outbox, HTTP status; node start-up and storage
paths are in :mod:`dicom_node.node`) until SIGTERM/SIGINT, and
stop cleanly (running associations get a grace period, running analyses finish, queued ones
stay ``ready`` for the next start; the job store is closed).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from config.settings import load_settings
from dicom_node.logging_setup import configure_logging
from dicom_node.node import storage_dir_for

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def serve(config_path: str | None) -> int:
    """Run the node until SIGTERM or SIGINT; return the exit status.

    Raises
    ------
    config.ConfigError
        The configuration is invalid (the CLI prints it and exits 2).
    """
    settings = load_settings(config_path)
    configure_logging(settings.logging.level)
    storage = storage_dir_for(settings, config_path)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %s received, stopping", signal.Signals(signum).name)
        stop.set()

    # Handlers first: a SIGTERM that arrives while the node starts still stops it cleanly.
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        from dicom_node.service import Service  # imports torch: only when serving

        service = Service(settings, storage)
        try:
            service.start()
        except OSError as exc:
            logger.error("cannot start: %s", exc)
            service.stop(grace_s=0)
            return 1
        try:
            while not stop.wait(0.5):
                pass
        finally:
            service.stop()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    logger.info("stopped cleanly")
    return 0
