"""Logging is configured here, once, for the service and the CLI.

Modules only do ``logger = logging.getLogger(__name__)``. Records never carry patient names,
IDs, accession numbers or birth dates; pynetdicom's identifier logging is turned off in
:func:`dicom_node.setup.apply`.

Tracebacks are written without exception *messages* (:class:`SafeFormatter`): a library's
message can quote an element value (pydicom: ``Unable to convert '1970-05-23' to 'DA'``), so
a logged traceback shows the frames (file, line, function) and the exception types of the
chain only.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

__all__ = ["SafeFormatter", "configure_logging", "safe_traceback"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def safe_traceback(exc: BaseException) -> str:
    """The traceback of *exc* and its chain: frames and exception types, no messages."""
    parts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        frames = "".join(
            f'  File "{f.filename}", line {f.lineno}, in {f.name}\n'
            for f in traceback.extract_tb(cur.__traceback__)
        )
        parts.append(
            f"Traceback (most recent call last):\n{frames}"
            f"{type(cur).__module__}.{type(cur).__qualname__} (message withheld)"
        )
        cur = cur.__cause__ or cur.__context__
    return "\n\nwhich was raised while handling (or from):\n".join(parts)


class SafeFormatter(logging.Formatter):
    """A formatter whose tracebacks carry no exception messages (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        """Format *record*, ignoring a traceback text another handler cached on it."""
        cached = record.exc_text
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        """Frames and exception types only."""
        exc = ei[1]
        return "" if exc is None else safe_traceback(exc)


def configure_logging(level: str = "INFO") -> None:
    """Send records at *level* and above to stderr (stdout stays for JSON output)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_dermnode", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(_FORMAT))
    handler._dermnode = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # pynetdicom is chatty at INFO (one line per PDU event); keep its warnings only.
    logging.getLogger("pynetdicom").setLevel(max(logging.WARNING, root.level))
    # APScheduler warns on every tick skipped while the previous run of a timer is still
    # busy (a long delivery): expected with coalescing, not worth an administrator's look.
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))
    # Its executor writes two INFO lines per timer run ("Running job ...", "... executed
    # successfully"): tens of MB a day on an idle node. Scheduler chatter is DEBUG only.
    chatter = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    logging.getLogger("apscheduler.executors").setLevel(chatter)
