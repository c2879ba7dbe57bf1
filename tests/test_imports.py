"""Commands import only what they use: a `casenotes seal` process never loads MkDocs.

Checked as behaviour, not timing: each command runs as a real process under
``python -X importtime``, which names every module the process imported.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import Env
from notes import write_note

# The site's build and serve code, and what only it needs.
SITE_ONLY = (
    "mkdocs",
    "material",
    "jinja2",
    "markdown",
    "pymdownx",
    "site_builder.site",
    "site_builder.server",
)
# What only the daemon, the backups or a new passphrase need.
NOT_FOR_SEAL = (
    "watchdog",
    "zxcvbn",
    "schedule",
    "casenotes.backups",
    "casenotes.doctor",
    "casenotes.sharing_commands",
)


def imported(practice: Env, *args: str) -> set[str]:
    env = dict(practice.env, CASENOTES_PASSPHRASE="fictional test passphrase")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "casenotes", *args],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    names = set()
    for line in proc.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "casenotes.cli" in names  # the probe itself works
    return names


def loaded(names: set[str], families: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in families))


def test_seal_never_imports_mkdocs_the_site_or_the_daemon(practice: Env) -> None:
    note = write_note(practice.practice.inbox)
    names = imported(practice, "seal", str(note))
    assert "syncd.filing" in names
    assert loaded(names, SITE_ONLY + NOT_FOR_SEAL) == []


@pytest.mark.parametrize("command", [["cat", "AB-1"], ["status"], ["verify"]])
def test_reading_commands_never_import_mkdocs_or_the_site(practice: Env, command: list[str]) -> None:
    assert loaded(imported(practice, *command), SITE_ONLY) == []


def test_open_still_finds_the_site_code_it_needs(practice: Env) -> None:
    # The lazy names resolve: what `open` calls is there when it asks.
    import site_builder
    import syncd

    assert callable(site_builder.build_site) and callable(syncd.Daemon)
    with pytest.raises(AttributeError):
        _ = site_builder.no_such_name  # type: ignore[attr-defined]
