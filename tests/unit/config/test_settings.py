"""The settings model: YAML + environment, errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings
from dicom_node.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_default_and_example_load() -> None:
    s = load_settings()
    assert (s.node.ae_title, s.node.port, s.node.max_associations) == ("DERMNODE", 11112, 10)
    assert s.sources[0].ae_title == "ORTHANC" and s.sources[0].host == "127.0.0.1"
    h = load_settings(ROOT / "config" / "examples" / "hospital.yaml")
    assert h.node.ae_title == "DERMNODE_AI" and len(h.sources) == 2
    assert h.node.listening_ae_titles == ["DERMNODE_AI", "DERMNODE_DERMO"]
    assert h.node.stable_after_override("DERMNODE_DERMO") == 5
    assert h.node.stable_after_override("DERMNODE_AI") is None


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("node:\n  ae_title: WAY_TOO_LONG_AE_TITLE\n", "node.ae_title"),
        ("node:\n  port: 70000\n", "node.port"),
        ("sources:\n  - ae_title: PACS\n    host: not-an-ip\n", "sources.0.host"),
        ("node:\n  colour: blue\n", "node.colour"),
        ("destinations:\n  - name: pacs\n    ae_title: X\n", "destinations.0"),
        (
            "node:\n  additional_ae_titles:\n    - ae_title: A\n      stable_after_s: -1\n",
            "node.additional_ae_titles.0.stable_after_s",
        ),
        (
            "node:\n  ae_title: DERM\n  additional_ae_titles:\n    - ae_title: DERM\n",
            "node: Value error, additional_ae_titles: DERM listed twice",
        ),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, yaml_text: str, field: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_settings(f)
    assert str(f) in str(err.value) and field in str(err.value)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("node:\n  port: 104\n  ae_title: FROMFILE\n")
    monkeypatch.setenv("DERMNODE_NODE__PORT", "11113")
    s = load_settings(f)
    assert (s.node.port, s.node.ae_title) == (11113, "FROMFILE")
    monkeypatch.setenv(
        "DERMNODE_NODE__ADDITIONAL_AE_TITLES", '[{"ae_title": "DERM_X", "stable_after_s": 3}]'
    )
    s = load_settings(f)
    assert s.node.listening_ae_titles == ["FROMFILE", "DERM_X"]
    assert s.node.stable_after_override("DERM_X") == 3


def test_cli_config_validate(tmp_path: Path, capsys) -> None:
    assert main(["config", "validate", str(ROOT / "config" / "default.yaml")]) == 0
    assert capsys.readouterr().out.startswith("OK")
    bad = tmp_path / "bad.yaml"
    bad.write_text("node:\n  max_associations: 0\n")
    assert main(["config", "validate", str(bad)]) == 2
    assert "node.max_associations" in capsys.readouterr().err


def test_serve_refuses_a_bad_file_before_listening(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("node:\n  port: 0\n")
    assert main(["serve", "--config", str(bad)]) == 2
    assert "node.port" in capsys.readouterr().err
