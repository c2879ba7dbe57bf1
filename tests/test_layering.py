"""The arrows of DESIGN.md section 2 point down, never back up; the core never prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"vault", "note_templates", "syncd", "retention", "site_builder", "casenotes"}
MAY_IMPORT = {
    "vault": set(),
    "note_templates": set(),
    "retention": {"vault"},
    "site_builder": {"vault", "note_templates"},
    "syncd": {"vault", "note_templates", "retention"},
    "casenotes": OURS,
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_what_lies_below_it(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ is missing"
    for path in files:
        wrong = (imports(path) & OURS) - MAY_IMPORT[package] - {package}
        assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


@pytest.mark.parametrize("package", sorted(OURS - {"casenotes"}))
def test_core_code_never_prints_exits_or_reads_the_environment(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"print", "exit", "input"}, f"{path}:{node.lineno}"
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "exit"}:
                assert not (isinstance(node.value, ast.Name) and node.value.id in {"os", "sys"}), (
                    f"{path}:{node.lineno}"
                )
