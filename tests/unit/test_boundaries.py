"""The analysis core stays pure: no DICOM, HL7, scheduler or config imports (DESIGN.md §1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_ANALYSIS = {
    "pydicom",
    "pynetdicom",
    "highdicom",
    "hl7apy",
    "hl7",
    "apscheduler",
    "gdcm",
    "dicom_node",
    "integrations",
    "config",
}
FORBIDDEN_IN_INTEGRATIONS = {"dicom_node"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("analysis", FORBIDDEN_IN_ANALYSIS),
        ("integrations", FORBIDDEN_IN_INTEGRATIONS),
        ("config", {"analysis", "dicom_node", "integrations"}),
    ],
)
def test_package_imports_respect_dependency_direction(package: str, forbidden: set[str]) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found under {package}/"
    bad = {str(f.relative_to(ROOT)): sorted(_imports(f) & forbidden) for f in files}
    bad = {k: v for k, v in bad.items() if v}
    assert bad == {}, f"{package}/ imports what it must not: {bad}"


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("import pydicom\nfrom config.settings import Settings\n")
    assert _imports(f) >= {"pydicom", "config"}
