"""DICOM SCU helpers: C-ECHO to a configured destination (``dermnode echo``), C-STORE files.

DermNode has one C-STORE sender, :func:`integrations.pacs_export.send_files` (the outbox
uses it); :func:`store_files` is that sender with a host/port/AE call shape, for the demo,
the benchmarks and the tests that play the PACS sending photos in.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from config.settings import DestinationSettings, NodeSettings, load_settings
from dicom_node import setup
from dicom_node.logging_setup import configure_logging
from integrations.errors import PacsDeliveryError
from integrations.pacs_export import send_files

__all__ = ["EchoResult", "echo", "echo_command", "store_files"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EchoResult:
    """Outcome of a C-ECHO: ``status`` is the DIMSE status, ``None`` when none came back."""

    ok: bool
    status: int | None
    detail: str


def _ae(calling_ae: str, node: NodeSettings | None) -> AE:
    ae = AE(ae_title=calling_ae)
    if node is not None:
        ae.acse_timeout = node.acse_timeout_s
        ae.dimse_timeout = node.dimse_timeout_s
        ae.network_timeout = node.network_timeout_s
    return ae


def echo(
    dest: DestinationSettings, calling_ae: str, node: NodeSettings | None = None
) -> EchoResult:
    """Send C-ECHO (Verification SOP Class, PS3.4 Annex A) to a DICOM destination.

    Raises
    ------
    ValueError
        ``dest`` is not a DICOM destination.
    """
    if dest.kind != "dicom" or dest.host is None or dest.port is None or not dest.ae_title:
        raise ValueError(f"dest {dest.name!r} is not a dicom destination")
    ae = _ae(calling_ae, node)
    ae.add_requested_context(Verification)
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title)
    if assoc.is_rejected:
        p = assoc.acceptor.primitive
        detail = "association rejected"
        if p is not None:
            detail += f" (result {p.result}, source {p.result_source}, reason {p.diagnostic})"
        return EchoResult(False, None, detail)
    if not assoc.is_established:
        return EchoResult(False, None, "no association (peer unreachable or aborted)")
    try:
        rsp = assoc.send_c_echo()
    finally:
        assoc.release()
    status = getattr(rsp, "Status", None)
    if status is None:
        return EchoResult(False, None, "no C-ECHO response (timeout or abort)")
    return EchoResult(int(status) == 0, int(status), "Success" if int(status) == 0 else "Failure")


def echo_command(name: str, config_path: str | None) -> int:
    """``dermnode echo NAME``: C-ECHO a configured destination; 0 on Success, 1 otherwise."""
    settings = load_settings(config_path)
    configure_logging("WARNING")
    setup.apply()
    try:
        dest = settings.destination(name)
    except KeyError:
        names = ", ".join(d.name for d in settings.destinations) or "none configured"
        print(f"unknown destination {name!r} (configured: {names})", file=sys.stderr)
        return 2
    if dest.kind != "dicom":
        print(f"destination {name!r} is a {dest.kind} destination, not DICOM", file=sys.stderr)
        return 2
    res = echo(dest, settings.node.ae_title, settings.node)
    code = "" if res.status is None else f" (0x{res.status:04X})"
    print(
        f"C-ECHO {settings.node.ae_title} -> {dest.ae_title}@{dest.host}:{dest.port}: "
        f"{res.detail}{code}"
    )
    return 0 if res.ok else 1


def store_files(
    host: str,
    port: int,
    called_ae: str,
    calling_ae: str,
    paths: Sequence[Path],
) -> list[int | None]:
    """Send DICOM files with C-STORE over one association; return each file's status.

    The presentation contexts are those of the files (SOP Class, Transfer Syntax). ``None``
    marks a file that got no response.

    Raises
    ------
    ConnectionError
        The association was rejected or could not be established.
    """
    dest = DestinationSettings(
        name="store-files", kind="dicom", ae_title=called_ae, host=host, port=port
    )
    try:
        results = send_files(dest, list(paths), calling_ae, raise_on_failure=False)
    except PacsDeliveryError as exc:
        raise ConnectionError(f"no association with {called_ae}@{host}:{port}") from exc
    return [r.status for r in results]
