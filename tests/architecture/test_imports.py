"""Commands import only what they use: a `casenotes seal` process never loads MkDocs, the
backups, or the key derivation it does not run.

Checked as behaviour, not timing: each command runs as a real process that names, as it
exits, every module it ended up with (``sys.modules``: ``-X importtime`` would miss the
ones a package loads on first use through ``importlib.import_module``).
"""

from __future__ import annotations

import importlib
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
    "webbrowser",
    "site_builder.site",
    "site_builder.decrypt",
    "site_builder.session",
    "site_builder.server",
    "site_builder.theme",
    "casenotes.serving",
)
# What only the daemon, the backups, a passphrase or a new one, or another command need.
NOT_FOR_SEAL = (
    "watchdog",
    "zxcvbn",
    "schedule",
    "nacl.pwhash",  # Argon2id: seal uses public keys only, and derives no key
    "vault.backup",
    "vault.sharing",
    "vault.store.practice",
    "vault.store.verify",
    "vault.store.reading",
    "vault.store.forks",
    "vault.store.purged",
    "vault.store.key_renewal",  # an unlock's or a passphrase change's, with the recovery format
    "vault.format.recovery",
    "concurrent.futures",  # a group commit's folder fsyncs on threads (with logging, queue...)
    "retention.policy",
    "retention.purge",
    "retention.certificate",
    "note_templates.carry",
    "note_templates.signing",  # a draft is not checked for signing
    "syncd.daemon",
    "syncd.editors",
    "casenotes.backups",
    "casenotes.doctor",
    "checkup",
    "casenotes.nodump",
    "casenotes.passphrases",
    "casenotes.retention_commands",
    "casenotes.sharing_commands",
    "casenotes.writing",
)
# What a command that reads notes or checks the vault never needs (`status` shows the last
# backup and the due purges, so it reads the backups and the policies).
NOT_FOR_READING = (
    "zxcvbn",
    "watchdog",
    "casenotes.passphrases",
    "casenotes.doctor",
    "checkup",
    "casenotes.sharing_commands",
)
NOT_FOR_CAT_OR_VERIFY = ("vault.backup", "retention.purge", "casenotes.writing", "casenotes.backups")

PROBE = (
    "import atexit, runpy, sys; "
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')); "
    "runpy.run_module('casenotes', run_name='__main__', alter_sys=True)"
)


def imported(practice: Env, *args: str, code: int = 0) -> set[str]:
    """Every module a whole `casenotes ARGS` process had loaded when it exited."""
    env = dict(practice.env, CASENOTES_PASSPHRASE="fictional test passphrase")
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, env=env, timeout=60)
    assert proc.returncode == code, proc.stderr.decode()
    line = proc.stderr.decode().rsplit("\nMODULES ", 1)[1]
    names = set(line.split())
    assert "casenotes.cli" in names  # the probe itself works
    return names


def loaded(names: set[str], families: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in families))


def test_seal_loads_the_filing_path_and_nothing_of_the_site_backups_or_key_derivation(
    practice: Env,
) -> None:
    note = write_note(practice.practice.inbox)
    names = imported(practice, "seal", str(note))
    assert {"syncd.filing", "note_templates.front_matter", "vault.store.sealing"} <= names
    assert loaded(names, SITE_ONLY + NOT_FOR_SEAL) == []


def test_sealing_a_signed_note_still_checks_it_is_finished(practice: Env) -> None:
    # The signing checks load on first use, and only then: a blank signed note is refused.
    details = "template: soap\ntime: '10:00'\nduration_minutes: 50\nmodality: video\n"
    note = write_note(practice.practice.inbox, status="signed", extra=details)
    names = imported(practice, "seal", str(note), code=1)
    assert "note_templates.signing" in names
    result = practice.run("seal", str(note))
    assert result.code == 1 and "risk" in result.err and note.exists()
    assert practice.run("cat", "AB-1").out == b""  # nothing was sealed


@pytest.mark.parametrize("command", [["cat", "AB-1"], ["status"], ["verify"]])
def test_reading_commands_never_import_the_site_or_what_they_do_not_run(
    practice: Env, command: list[str]
) -> None:
    names = imported(practice, *command)
    assert loaded(names, SITE_ONLY + NOT_FOR_READING) == []
    if command[0] != "status":
        assert loaded(names, NOT_FOR_CAT_OR_VERIFY) == []


def test_a_command_that_unlocks_loads_the_key_derivation_on_the_way(practice: Env) -> None:
    # The probe sees what a command imports inside its body, not only at start-up.
    names = imported(practice, "cat", "AB-1")
    assert {"nacl.pwhash.argon2id", "vault.store.reading"} <= names
    assert loaded(names, ("vault.store.verify", "casenotes.sharing_commands")) == []


@pytest.mark.parametrize("package", ["vault", "note_templates", "retention", "syncd", "site_builder"])
def test_every_name_a_package_offers_resolves(package: str) -> None:
    # Loaded on first use: a misspelt entry of a lazy table fails here, not in a user's command.
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        _ = module.no_such_name
