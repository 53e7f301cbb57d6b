"""Logging is configured here, once, for the service and the CLI.

Modules only do ``logger = logging.getLogger(__name__)``. Records never carry patient names,
IDs, accession numbers or birth dates; pynetdicom's identifier logging is turned off in
:func:`dicom_node.setup.apply`.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send records at *level* and above to stderr (stdout stays for JSON output)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_dermnode", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler._dermnode = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # pynetdicom is chatty at INFO (one line per PDU event); keep its warnings only.
    logging.getLogger("pynetdicom").setLevel(max(logging.WARNING, root.level))
    # APScheduler warns on every tick skipped while the previous run of a timer is still
    # busy (a long delivery): expected with coalescing, not worth an administrator's look.
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))
