"""Package boundaries (DESIGN.md §1).

The analysis core stays pure (no DICOM, HL7, scheduler or config imports), the packages
import in one direction only, and no package has an import cycle among its modules (an
import under ``if TYPE_CHECKING:`` is not an import at run time and does not count; one
inside a function does).
"""

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


PACKAGES = ("analysis", "config", "dicom_node", "integrations")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """The modules of *modules* that *module* (file *path*) imports at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(name: str) -> None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                resolve(a.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                resolve(full if full in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports at run time."""
    files = {_module_name(f, package.parent): f for f in sorted(package.rglob("*.py"))}
    modules = set(files)
    return {m: _runtime_imports(f, m, modules) for m, f in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package: str) -> None:
    graph = _graph(ROOT / package)
    assert len(graph) > 1
    assert _cycles(graph) == [], f"import cycles in {package}/"


def test_the_cycle_checker_sees_a_cycle_and_ignores_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import c\n")
    (pkg / "c.py").write_text("from . import a\n")
    (pkg / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import y\n"
    )
    graph = _graph(pkg)
    assert graph["pkg.d"] == set()
    assert _cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_the_cycle_checker_sees_the_old_app_service_metrics_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "dicom_node"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text("def serve():\n    from dicom_node.service import Service\n")
    (pkg / "service.py").write_text(
        "from dicom_node.app import start_node\nfrom dicom_node.metrics import StatusServer\n"
    )
    (pkg / "metrics.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from dicom_node.service import Service\n"
    )
    assert _cycles(_graph(pkg)) == [["dicom_node.app", "dicom_node.service"]]
