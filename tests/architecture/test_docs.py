"""The user guide builds with Material in strict mode: no broken link, no missing page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_the_user_guide_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "site" / "format" / "index.html").read_text()
    assert "CASENOTE" in page
    # no web fonts: nothing in the guide reaches for fonts.googleapis.com
    assert "fonts.googleapis" not in (tmp_path / "site" / "index.html").read_text()
    # the command reference is generated from the program: every command is in it
    from casenotes.cli import cli

    reference = (tmp_path / "site" / "reference" / "index.html").read_text()
    for name in cli.commands:
        assert f"casenotes {name}" in reference, name
    # the build's own code stays out of the published guide
    assert not list((tmp_path / "site").rglob("*.py"))


def test_every_template_has_a_page_in_the_guide(tmp_path: Path) -> None:
    import note_templates

    nav = (ROOT / "mkdocs.yml").read_text()
    for name in note_templates.available():
        assert f"templates/{name}.md" in nav, name


def test_the_readme_points_only_inside_the_repository() -> None:
    """A person who cloned the repository has nothing beside it (the design brief once lay
    in ../shared/): every link resolves to a file of the repository, and no path climbs out."""
    import re

    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme
    links = re.findall(r"\]\(([^)#\s]+)[^)]*\)", readme)
    assert "docs/design.md" in links and "CHANGELOG.md" in links
    for target in links:
        if "://" not in target:
            assert (ROOT / target).is_file(), f"README links to {target}, which the repository lacks"


def test_the_changelog_has_a_section_for_the_version_being_built() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = [line for line in changelog.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Unreleased" and f"## {version}" in headings, headings


def test_every_test_the_threat_model_names_exists() -> None:
    """docs/threat-model.md names the test attacking each promise: a file renamed or a test
    removed must not leave the table pointing at nothing."""
    import re

    text = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    named = set(re.findall(r"tests/((?:[a-z_]+/)*test_[a-z0-9_]+\.py)(?:::(test_[a-z0-9_]+))?", text))
    assert len({file for file, _ in named}) >= 30
    for file, test in named:
        path = ROOT / "tests" / file
        assert path.is_file(), f"docs/threat-model.md names {path.name}, which does not exist"
        if test:
            assert f"def {test}(" in path.read_text(encoding="utf-8"), f"{file} has no {test}"
