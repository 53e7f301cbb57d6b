"""``GET /healthz`` and ``GET /metrics`` (Prometheus text format 0.0.4) on a local port.

No patient data is exposed: only counts, durations, states and disk space.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dicom_node.service import Service

__all__ = ["StatusServer", "render_metrics"]

logger = logging.getLogger(__name__)


def render_metrics(service: Service) -> str:
    """The Prometheus exposition of the service's state."""
    node = service.node
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: Sequence[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            v = float(value)  # integers exactly (":g" would round counters to 6 digits)
            lines.append(f"{name}{labels} {int(v) if v.is_integer() else repr(v)}")

    if node is not None:
        store = node.store
        # Counted by SQL GROUP BY, not by loading every row (years of studies, no cap).
        studies = {k.value: v for k, v in store.study_state_counts().items()}
        metric(
            "dermnode_studies",
            "gauge",
            "Studies per job state.",
            [(f'{{state="{k}"}}', v) for k, v in studies.items()],
        )
        outbox = {(k.value, s.value): v for (k, s), v in store.outbox_state_counts().items()}
        metric(
            "dermnode_outbox",
            "gauge",
            "Outbox rows per kind and state (queue depth).",
            [(f'{{kind="{k}",state="{s}"}}', v) for (k, s), v in outbox.items()],
        )
        hs = node.handler.stats
        metric(
            "dermnode_cstore_total",
            "counter",
            "C-STORE requests by outcome.",
            [
                ('{outcome="stored"}', hs.stored),
                ('{outcome="duplicate"}', hs.duplicates),
                ('{outcome="failed"}', hs.failed),
            ],
        )
        server = getattr(node.dicom, "_server", None)
        active = len(server.active_associations) if server is not None else 0
        metric(
            "dermnode_associations_active",
            "gauge",
            "Open DICOM associations.",
            [("", float(active))],
        )
    a = service.stats
    metric("dermnode_analysis_in_flight", "gauge", "Studies being analysed.", [("", a.in_flight)])
    metric(
        "dermnode_analysis_seconds",
        "summary",
        "Analysis+encoding time per study.",
        [("_sum", a.seconds_sum), ("_count", a.analysed + a.failed)],
    )
    metric(
        "dermnode_analysis_failed_total",
        "counter",
        "Studies whose analysis failed.",
        [("", a.failed)],
    )
    if service.deliverer is not None:
        d = service.deliverer.stats
        metric(
            "dermnode_delivery_seconds",
            "summary",
            "Time per delivery attempt.",
            [("_sum", d.seconds_sum), ("_count", d.seconds_count)],
        )
        metric(
            "dermnode_deliveries_total",
            "counter",
            "Delivery attempts by kind and outcome.",
            [(f'{{kind="{k}",outcome="delivered"}}', v) for k, v in d.delivered.items()]
            + [(f'{{kind="{k}",outcome="failed"}}', v) for k, v in d.failed.items()],
        )
    metric(
        "dermnode_disk_free_bytes",
        "gauge",
        "Free space of the storage folder.",
        [("", service.disk_free_bytes)],
    )
    return "\n".join(lines) + "\n"


class StatusServer:
    """A small threaded HTTP server for /healthz and /metrics."""

    def __init__(self, service: Service, host: str, port: int) -> None:
        svc = service

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/healthz":
                    ok = svc.node is not None and not svc._stopping.is_set()
                    body = json.dumps({"status": "ok" if ok else "stopping"}).encode()
                    self._reply(200 if ok else 503, "application/json", body)
                elif self.path == "/metrics":
                    body = render_metrics(svc).encode()
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

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
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
