"""The network and decode limits of the settings model (issue 14): defaults, bounds, TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import NodeSettings, Settings, load_settings


def test_defaults_are_finite_and_documented() -> None:
    s = load_settings()
    assert s.node.maximum_pdu_size == 1_048_576
    assert s.node.association_request_timeout_s == 5
    assert s.node.pdu_timeout_s == 60
    assert s.node.max_pending_connections == 20
    assert not s.node.tls.enabled
    assert s.analysis.max_image_pixels == 100_000_000
    assert s.analysis.max_decoded_mb == 1024
    doc = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()
    for key in (
        "association_request_timeout_s",
        "pdu_timeout_s",
        "max_pending_connections",
        "analysis.max_image_pixels",
        "analysis.max_decoded_mb",
    ):
        assert f"`{key}`" in doc


@pytest.mark.parametrize(
    "field",
    [
        {"maximum_pdu_size": 0},  # "unlimited" is what let a streamed PDU grow memory
        {"maximum_pdu_size": 128 * 1024 * 1024},
        {"association_request_timeout_s": 0},
        {"pdu_timeout_s": -1},
        {"max_pending_connections": 0},
    ],
)
def test_unbounded_or_invalid_limits_are_refused(field: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as info:
        NodeSettings(**field)  # type: ignore[arg-type]
    assert next(iter(field)) in str(info.value)


def test_inbound_tls_needs_a_certificate_and_a_ca(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cert_file and key_file are required"):
        NodeSettings(tls={"enabled": True, "ca_file": tmp_path / "ca.pem"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="ca_file is required"):
        NodeSettings(tls={"enabled": True, "cert_file": "c", "key_file": "k"})  # type: ignore[arg-type]
    ok = NodeSettings(
        tls={"enabled": True, "verify_peer": False, "cert_file": "c", "key_file": "k"}  # type: ignore[arg-type]
    )
    assert ok.tls.enabled and not ok.tls.verify_peer


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERMNODE_NODE__PDU_TIMEOUT_S", "7.5")
    monkeypatch.setenv("DERMNODE_ANALYSIS__MAX_IMAGE_PIXELS", "1000")
    s = Settings()
    assert s.node.pdu_timeout_s == 7.5 and s.analysis.max_image_pixels == 1000
