"""The rules file: the shipped example is valid and says it is an example; errors name the
rule and the field; ``dermnode rules check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError
from dicom_node.cli import main
from dicom_node.treatment import load_clinic_rules

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "examples" / "rules.yaml"


def test_example_rules_are_valid_and_say_they_are_examples() -> None:
    rules = load_clinic_rules(EXAMPLE)
    assert len(rules.rules) >= 5
    assert "example" in rules.name.lower()
    assert all(r.id.startswith("example.") for r in rules.rules)
    assert all("(example)" in r.topic for r in rules.rules)
    head = EXAMPLE.read_text(encoding="utf-8").splitlines()[0]
    assert "EXAMPLE" in head
    kinds = {c.kind for r in rules.rules for c in r.when}
    assert kinds == {"measurement", "score", "change", "quality"}


def _bad(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_clinic_rules(path)
    return str(err.value)


def test_errors_name_the_rule_and_the_field(tmp_path: Path) -> None:
    msg = _bad(
        tmp_path,
        "rules:\n"
        "  - id: ok\n    concern: oil\n    topic: t\n    when: [{score: oil, above: 1}]\n"
        "  - id: spots-cheeks\n    concern: pigmentation\n    topic: t\n"
        "    when:\n      - {score: pigmentation, above: 1}\n"
        "      - {measurement: pigmentation.spots.area_pct, above: lots}\n",
    )
    assert "rule 'spots-cheeks' (rules[1]) when[1].above" in msg
    assert "rules.yaml" in msg


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{measurement: no.such.key, above: 1}", "unknown measurement key 'no.such.key'"),
        ("{score: oil}", "needs above or below"),
        ("{score: oil, measurement: pores.count, above: 1}", "exactly one"),
        ("{score: oil, above: 1, zones: [elbow]}", "unknown zone(s) elbow"),
        ("{change: pores.count, verdict: better}", "when[0].verdict"),
        ("{quality: fuzzy}", "unknown quality test 'fuzzy'"),
    ],
)
def test_bad_conditions(tmp_path: Path, entry: str, words: str) -> None:
    msg = _bad(
        tmp_path, f"rules:\n  - id: r\n    concern: oil\n    topic: t\n    when: [{entry}]\n"
    )
    assert "rule 'r' (rules[0])" in msg
    assert words in msg


def test_duplicate_ids_and_unknown_concern(tmp_path: Path) -> None:
    rule = "  - id: same\n    concern: oil\n    topic: t\n    when: [{score: oil, above: 1}]\n"
    assert "'same' is used twice" in _bad(tmp_path, "rules:\n" + rule + rule)
    msg = _bad(tmp_path, "rules:\n" + rule.replace("concern: oil", "concern: acne"))
    assert "rule 'same' (rules[0]) concern" in msg and "unknown concern 'acne'" in msg


def test_rules_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.startswith("OK")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    concern: oil\n    topic: t\n    when: []\n")
    assert main(["rules", "check", str(bad)]) == 2
    assert "rule 'x' (rules[0]) when" in capsys.readouterr().err
