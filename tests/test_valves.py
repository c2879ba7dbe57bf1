"""Issue 31: each safety valve proven by the fault it prevents, injected at the exact step
(strace on the exact syscall, a kill at the exact moment, a forged file), and the next run
after it. Every test here fails with its safeguard taken out (the issue's closing note
says how each was checked)."""

from __future__ import annotations

import subprocess
import sys

from conftest import PASSPHRASE, Env
from notes import write_note

from vault import verify


def traced(
    practice: Env, strace: list[str], *args: str, fault: list[str]
) -> subprocess.CompletedProcess[str]:
    """The CLI run under strace with FAULT (``-P path``, ``-e trace=``, ``-e inject=``)."""
    return subprocess.run(
        [*strace, *fault, sys.executable, "-m", "casenotes", *args],
        capture_output=True,
        text=True,
        env=dict(practice.env, CASENOTES_PASSPHRASE=PASSPHRASE),
        timeout=120,
    )


def _line(text: str, start: str) -> str:
    return next((line for line in text.splitlines() if line.startswith(start)), "")


# -- item 12: a failed job is a failed run -----------------------------------------------------
def test_a_backup_job_that_cannot_write_its_target_marker_makes_syncd_once_fail_naming_it(
    strace: list[str], practice: Env
) -> None:
    """Before: `syncd --once` exited 0 with nothing on stderr, and no snapshot was taken.
    A cron job or a login hook was told all was well while the practice had no backup."""
    write_note(practice.practice.inbox, note_id="00000000000000c1", status="signed")
    marker = practice.practice.root / "backups" / "casenotes-backup.json"
    done = traced(
        practice,
        strace,
        "syncd",
        "--once",
        fault=["-P", str(marker), "-e", "trace=link", "-e", "inject=link:error=ENOSPC"],
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "job backup failed" in done.stderr and "casenotes-backup.json" in done.stderr
    assert _line(done.stderr.strip().splitlines()[-1], "casenotes: job(s) backup")
    shown = practice.run("status").text
    assert _line(shown, "job backup: FAILED") and "none yet" in _line(shown, "backup "), shown
    # The disk recovers: the next run takes the snapshot, exits 0 and the failure is gone.
    again = practice.run("syncd", "--once")
    assert again.code == 0, again.err
    shown = practice.run("status").text
    assert "FAILED" not in shown and "just now" in _line(shown, "backup "), shown


def test_a_snapshot_whose_folder_could_not_be_made_durable_is_not_shown_as_taken_just_now(
    strace: list[str], practice: Env
) -> None:
    """Before: the snapshots folder's fsync failed after the snapshot was linked; syncd
    exited 0, `status` dropped the backup job and said the backup was taken "just now"."""
    write_note(practice.practice.inbox, note_id="00000000000000c2", status="signed")
    snapshots = practice.practice.root / "backups" / "snapshots"
    fault = ["-P", str(snapshots), "-e", "trace=fsync", "-e", "inject=fsync:error=EIO"]
    done = traced(practice, strace, "syncd", "--once", fault=fault)
    assert done.returncode == 1 and "job backup failed" in done.stderr, done.stderr
    assert list(snapshots.glob("*.json")), "the fault fired before the snapshot was linked: nothing to test"
    shown = practice.run("status").text
    assert _line(shown, "job backup: FAILED"), shown
    assert "WARNING: the backup job failed after taking it" in _line(shown, "backup "), shown
    again = practice.run("syncd", "--once")
    assert again.code == 0, again.err
    shown = practice.run("status").text
    assert "FAILED" not in shown and "WARNING" not in _line(shown, "backup "), shown
    with practice.vault() as vault:
        assert verify(vault) == []
