"""The arrows of DESIGN.md section 2 point down, never back up; the core never prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

OURS = {"vault", "note_templates", "syncd", "retention", "site_builder", "fiction", "checkup", "casenotes"}
MAY_IMPORT = {
    "vault": set(),
    "note_templates": set(),
    "retention": {"vault"},
    "site_builder": {"vault", "note_templates"},
    "fiction": {"note_templates"},
    "checkup": {"vault", "syncd", "site_builder", "retention"},
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


# Inside vault/, the same rule one level down: each subpackage imports only what lies
# below it (vault/__init__.py draws the picture); the floor modules import only each other.
VAULT_MAY_IMPORT = {
    "errors": set(),
    "durable": {"errors"},
    "format": {"errors", "durable"},
    "backup": {"errors", "durable", "format"},
    "store": {"errors", "durable", "format", "backup"},
    "sharing": {"errors", "durable", "format", "backup", "store"},
    "rights": {"errors", "durable", "format", "backup", "store", "sharing"},
}


def vault_imports(path: Path) -> set[str]:
    """The vault parts a module inside vault/ imports, relative or absolute."""
    own = path.relative_to(ROOT / "vault").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != "vault":
                    continue
                target = parts[1:]
            else:
                target = list(own[: len(own) - node.level]) + (node.module or "").split(".")
            target = [t for t in target if t]
            names = [alias.name for alias in node.names]
            found |= {target[0]} if target else set(names)
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("vault.")}
    return found


@pytest.mark.parametrize("part", sorted(VAULT_MAY_IMPORT))
def test_inside_the_vault_a_part_imports_only_what_lies_below_it(part: str) -> None:
    folder = ROOT / "vault" / part
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [ROOT / "vault" / f"{part}.py"]
    assert all(f.exists() for f in files) and files, f"vault/{part} is missing"
    for path in files:
        wrong = vault_imports(path) - VAULT_MAY_IMPORT[part] - {part}
        assert not wrong, f"{path.relative_to(ROOT)} imports vault parts {wrong}"


def test_every_vault_module_belongs_to_a_layer() -> None:
    for path in (ROOT / "vault").rglob("*.py"):
        top = path.relative_to(ROOT / "vault").parts[0].removesuffix(".py")
        assert top in VAULT_MAY_IMPORT or top == "__init__", f"{path} is in no layer of VAULT_MAY_IMPORT"


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
