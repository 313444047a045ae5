"""The dependency rules of the layout: drivers import only drivers; gateway never imports simulators;
a test module imports no other test module (what tests share lives in tests/support)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.peers import REPO


def imported_modules(file: Path) -> set[str]:
    """Every module ``file`` imports, at any depth (lazy imports too)."""
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def imported_packages(file: Path) -> set[str]:
    """Top-level names of every module ``file`` imports."""
    return {name.split(".")[0] for name in imported_modules(file)}


FORBIDDEN = {
    "drivers": {"gateway", "simulators", "tests", "bench"},
    "gateway": {"simulators", "tests", "bench"},
    "simulators": {"tests", "bench"},
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_the_layout_allows(package):
    wrong = {
        str(file.relative_to(REPO)): sorted(imported_packages(file) & FORBIDDEN[package])
        for file in sorted((REPO / package).rglob("*.py"))
    }
    assert {file: names for file, names in wrong.items() if names} == {}


def test_the_rule_check_sees_a_lazy_import(tmp_path):
    file = tmp_path / "lazy.py"
    file.write_text("def f():\n    from simulators.demo import run_demo\n    import gateway.cli\n")
    assert imported_packages(file) == {"simulators", "gateway"}


@pytest.mark.parametrize("lane", ["unit", "integration", "system"])
def test_a_test_module_imports_helpers_only_from_tests_support(lane):
    wrong = {
        str(file.relative_to(REPO)): sorted(
            name
            for name in imported_modules(file)
            if name.startswith("tests.") and not name.startswith("tests.support")
        )
        for file in sorted((REPO / "tests" / lane).rglob("*.py"))
    }
    assert {file: names for file, names in wrong.items() if names} == {}
