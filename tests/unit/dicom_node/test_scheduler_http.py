"""The timers (APScheduler seam) and the HTTP status server's connection handling."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from dicom_node.metrics import ServiceSnapshot, StatusServer
from dicom_node.scheduler import Timers


def test_timer_runs_are_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    ran = threading.Event()
    timers = Timers()
    timers.add("tick", ran.set, 0.05)
    with caplog.at_level(logging.INFO):
        timers.start()
        try:
            assert ran.wait(10)
            time.sleep(0.2)  # a few more runs
        finally:
            timers.stop()
    chatter = [r for r in caplog.records if r.name.startswith("apscheduler.executors")]
    assert chatter == []  # an idle node's INFO log stays quiet
    ran.clear()
    timers = Timers()
    timers.add("tick", ran.set, 0.05)
    with caplog.at_level(logging.DEBUG):
        timers.start()
        try:
            assert ran.wait(10)
            time.sleep(0.1)
        finally:
            timers.stop()
    chatter = [r for r in caplog.records if r.name.startswith("apscheduler.executors")]
    assert chatter and {r.levelno for r in chatter} == {logging.DEBUG}
    assert any("Running job" in r.getMessage() for r in chatter)


def test_wake_runs_a_timer_now_instead_of_at_its_next_tick() -> None:
    ran = threading.Event()
    timers = Timers()
    timers.add("slow", ran.set, 3600)
    timers.wake("slow")  # before start: nothing happens, no error
    timers.start()
    try:
        assert not ran.wait(0.3)
        timers.wake("slow")
        assert ran.wait(10)
        timers.wake("missing")  # an unknown timer is not an error
    finally:
        timers.stop()


def test_idle_http_connections_are_closed_after_the_timeout() -> None:
    server = StatusServer(
        lambda: ServiceSnapshot(healthy=True), lambda: True, "127.0.0.1", 0, timeout_s=0.5
    )
    server.start()
    try:
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(5)]
        half = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the request
        time.sleep(0.2)
        assert threading.active_count() >= before + 6  # one handler thread each
        for s in [*idle, half]:
            assert s.recv(100) == b""  # the server hung up (it did not wait forever)
            s.close()
        deadline = time.monotonic() + 5
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() <= before
        # and it still answers
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            assert b'{"status": "ok"}' in s.recv(1000) + s.recv(1000)
    finally:
        server.stop()
