"""``GET /healthz`` and ``GET /metrics`` (Prometheus text format 0.0.4) on a local port.

Both are rendered from a frozen :class:`ServiceSnapshot` the service provides (no reads of
its private state). No patient data is exposed: only counts, durations, states and disk
space. Each connection has a socket timeout, so an idle or slow client cannot hold a thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["HTTP_TIMEOUT_S", "ServiceSnapshot", "StatusServer", "render_metrics"]

logger = logging.getLogger(__name__)

#: Seconds a client may take to send its request (and to read the answer).
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ServiceSnapshot:
    """The service's state at one moment, as /healthz and /metrics show it.

    The node fields are ``None`` before the node has started.
    """

    healthy: bool
    disk_free_bytes: int = 0
    studies: Mapping[str, int] | None = None
    outbox: Mapping[tuple[str, str], int] | None = None
    cstore: Mapping[str, int] | None = None
    associations_active: int | None = None
    analysis_in_flight: int = 0
    analysis_seconds_sum: float = 0.0
    analysed: int = 0
    analysis_failed: int = 0
    delivery_seconds_sum: float | None = None
    delivery_seconds_count: int = 0
    delivered: Mapping[str, int] = field(default_factory=dict)
    delivery_failed: Mapping[str, int] = field(default_factory=dict)


def render_metrics(s: ServiceSnapshot) -> str:
    """The Prometheus exposition of a snapshot."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: Sequence[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            v = float(value)  # integers exactly (":g" would round counters to 6 digits)
            lines.append(f"{name}{labels} {int(v) if v.is_integer() else repr(v)}")

    if s.studies is not None:
        metric(
            "dermnode_studies",
            "gauge",
            "Studies per job state.",
            [(f'{{state="{k}"}}', v) for k, v in s.studies.items()],
        )
    if s.outbox is not None:
        metric(
            "dermnode_outbox",
            "gauge",
            "Outbox rows per kind and state (queue depth).",
            [(f'{{kind="{k}",state="{st}"}}', v) for (k, st), v in s.outbox.items()],
        )
    if s.cstore is not None:
        metric(
            "dermnode_cstore_total",
            "counter",
            "C-STORE requests by outcome.",
            [(f'{{outcome="{k}"}}', v) for k, v in s.cstore.items()],
        )
    if s.associations_active is not None:
        metric(
            "dermnode_associations_active",
            "gauge",
            "Open DICOM associations.",
            [("", s.associations_active)],
        )
    metric(
        "dermnode_analysis_in_flight",
        "gauge",
        "Studies being analysed.",
        [("", s.analysis_in_flight)],
    )
    metric(
        "dermnode_analysis_seconds",
        "summary",
        "Analysis+encoding time per study.",
        [("_sum", s.analysis_seconds_sum), ("_count", s.analysed + s.analysis_failed)],
    )
    metric(
        "dermnode_analysis_failed_total",
        "counter",
        "Studies whose analysis failed.",
        [("", s.analysis_failed)],
    )
    if s.delivery_seconds_sum is not None:
        metric(
            "dermnode_delivery_seconds",
            "summary",
            "Time per delivery attempt.",
            [("_sum", s.delivery_seconds_sum), ("_count", s.delivery_seconds_count)],
        )
        metric(
            "dermnode_deliveries_total",
            "counter",
            "Delivery attempts by kind and outcome.",
            [(f'{{kind="{k}",outcome="delivered"}}', v) for k, v in s.delivered.items()]
            + [(f'{{kind="{k}",outcome="failed"}}', v) for k, v in s.delivery_failed.items()],
        )
    metric(
        "dermnode_disk_free_bytes",
        "gauge",
        "Free space of the storage folder.",
        [("", s.disk_free_bytes)],
    )
    return "\n".join(lines) + "\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class StatusServer:
    """A small threaded HTTP server for /healthz and /metrics.

    Parameters
    ----------
    snapshot
        Returns the service's current :class:`ServiceSnapshot`.
    healthy
        Returns whether the service is up (cheap: /healthz does not read the job store).
    host, port
        Where to listen (port 0: any free port).
    timeout_s
        Socket timeout of each connection.
    """

    def __init__(
        self,
        snapshot: Callable[[], ServiceSnapshot],
        healthy: Callable[[], bool],
        host: str,
        port: int,
        *,
        timeout_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            timeout = timeout_s  # StreamRequestHandler sets it on the socket

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/healthz":
                    ok = healthy()
                    body = json.dumps({"status": "ok" if ok else "stopping"}).encode()
                    self._reply(200 if ok else 503, "application/json", body)
                elif self.path == "/metrics":
                    body = render_metrics(snapshot()).encode()
                    self._reply(200, "text/plain; version=0.0.4; charset=utf-8", body)
                else:
                    self._reply(404, "text/plain", b"not found\n")

            def _reply(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                logger.debug("http: " + format, *args)  # noqa: G003

        self.server = _Server((host, port), Handler)
        self._thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, name="http-status"
        )

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
