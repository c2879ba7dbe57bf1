"""Long commands show progress to a person at a terminal, and nothing to a script or with --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import PASSPHRASE, Env
from notes import write_note


def at_a_terminal(env: Env, *args: str) -> tuple[int, str]:
    """Run the command with a real pseudo-terminal as its stdin, stdout and stderr."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", *args],
        env={**env.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return proc.wait(timeout=60), output.decode(errors="replace")


def test_backup_shows_a_progress_bar_at_a_terminal_only(practice: Env) -> None:
    assert practice.run("seal", str(write_note(practice.practice.inbox))).code == 0
    code, shown = at_a_terminal(practice, "backup", "run")
    assert code == 0 and "backing up to" in shown and "100%" in shown
    code, quiet = at_a_terminal(practice, "--quiet", "backup", "run")
    assert code == 0 and "backing up to" not in quiet and "snapshot" in quiet
    piped = practice.run("backup", "run")
    assert piped.code == 0 and "backing up to" not in piped.err + piped.text


def test_verify_and_purge_report_progress_too(practice: Env) -> None:
    code, shown = at_a_terminal(practice, "backup", "verify")
    assert code == 1  # nothing backed up yet: a clear failure, not a crash
    assert practice.run("backup", "run").code == 0
    code, shown = at_a_terminal(practice, "backup", "verify", "--full")
    assert code == 0 and "checking" in shown
    note = write_note(practice.practice.inbox, date="2010-01-04")
    assert practice.run("seal", str(note)).code == 0
    assert practice.run("client", "close", "AB-1", "--on", "2010-02-01").code == 0
    code, shown = at_a_terminal(practice, "retention", "purge", "--confirm")
    assert code == 0 and "purging" in shown and "purged client" in shown
