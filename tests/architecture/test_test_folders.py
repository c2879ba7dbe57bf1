"""The tests mirror the packages: each package the wheel ships has its folder of tests,
tests/packages/<package>/, beside the folders of situations that cross packages (attacks,
faults, group_practice, browser) and of the code's shape (architecture). No test module
lies loose in tests/, and no folder on the tests' import path is named like a package."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import ROOT


def shipped_packages() -> list[str]:
    """The top-level packages of the wheel, as pyproject.toml lists them (``vault*``)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return sorted(p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"])


def layout_problems(tests: Path, packages: list[str]) -> list[str]:
    problems = []
    for package in packages:
        if not any((tests / "packages" / package).glob("test_*.py")):
            problems.append(f"{package} has no tests in tests/packages/{package}/")
    for folder in sorted(p for p in (tests / "packages").iterdir() if p.is_dir()):
        if folder.name not in packages and folder.name != "__pycache__":
            problems.append(f"tests/packages/{folder.name}/ names no package the wheel ships")
    problems += [
        f"{p.name} lies loose in tests/: put it in its folder" for p in sorted(tests.glob("test_*.py"))
    ]
    # pytest puts tests/ (conftest.py's folder) and each test module's folder on sys.path:
    # a folder or module there named like a package would be imported instead of it.
    on_path = {tests, *(p.parent for p in tests.rglob("test_*.py"))}
    for folder in sorted(on_path):
        for package in packages:
            for shadow in (folder / package, folder / f"{package}.py"):
                if shadow.exists():
                    problems.append(f"{shadow.relative_to(tests.parent)} would shadow the {package} package")
    return problems


def test_every_package_has_its_folder_of_tests_and_none_shadows_it() -> None:
    packages = shipped_packages()
    assert {"vault", "syncd", "retention", "site_builder", "casenotes"} <= set(packages)
    assert layout_problems(ROOT / "tests", packages) == []


def test_the_layout_check_sees_a_missing_folder_a_loose_test_and_a_shadow(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    for path in (
        "packages/vault/test_seal.py",
        "packages/extra/test_x.py",
        "test_loose.py",
        "attacks/test_a.py",
    ):
        (tests / path).parent.mkdir(parents=True, exist_ok=True)
        (tests / path).write_text("")
    (tests / "syncd").mkdir()
    (tests / "attacks" / "vault.py").write_text("")
    assert layout_problems(tests, ["syncd", "vault"]) == [
        "syncd has no tests in tests/packages/syncd/",
        "tests/packages/extra/ names no package the wheel ships",
        "test_loose.py lies loose in tests/: put it in its folder",
        "tests/syncd would shadow the syncd package",
        "tests/attacks/vault.py would shadow the vault package",
    ]
