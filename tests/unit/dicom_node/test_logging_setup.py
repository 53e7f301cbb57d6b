"""Logging configuration: scheduler chatter only at DEBUG, tracebacks without messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from dicom_node.logging_setup import configure_logging


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """What configure_logging's handler writes (to sys.stderr, captured by pytest)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield capsys
    root.setLevel(level)
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    for name in ("apscheduler.executors", "apscheduler.scheduler", "pynetdicom"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def _tick_for(seconds: float) -> None:
    sched = BackgroundScheduler()
    sched.add_job(lambda: None, "interval", seconds=0.05, id="tick")
    sched.start()
    time.sleep(seconds)
    sched.shutdown(wait=True)


def test_an_idle_scheduler_writes_nothing_at_info(stderr: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("dicom_node.test").info("idle node started")
    _tick_for(0.5)
    err = stderr.readouterr().err
    assert "idle node started" in err  # the handler writes here
    assert "Running job" not in err and "executed successfully" not in err


def test_scheduler_chatter_is_there_at_debug(stderr: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG")
    _tick_for(0.3)
    assert "Running job" in stderr.readouterr().err


def test_logged_tracebacks_carry_no_exception_message(stderr: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    try:
        raise ValueError("Unable to convert '1970-05-23' to 'DA' object")
    except ValueError:
        logging.getLogger("dicom_node.test").exception("job 7: failed")
    out = stderr.readouterr().err
    assert "job 7: failed" in out and "builtins.ValueError (message withheld)" in out
    assert "1970-05-23" not in out
