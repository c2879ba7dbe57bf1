"""Issue 31: each safety valve proven by the fault it prevents, injected at the exact step
(strace on the exact syscall, a kill at the exact moment, a forged file), and the next run
after it. Every test here fails with its safeguard taken out (the issue's closing note
says how each was checked)."""

from __future__ import annotations

import subprocess
import sys

import pytest
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


# -- item 11: a transient read error while filing ---------------------------------------------
@pytest.mark.parametrize("record", ["index", "client.json"])
def test_a_signed_note_hit_by_one_read_error_is_sealed_by_the_next_run_not_parked_in_error(
    strace: list[str], practice: Env, record: str
) -> None:
    """Before: one EIO reading a record while filing put the draft in state "error"; syncd
    never retried an unchanged file in that state, so the signed note stayed unsealed,
    un-backed-up plaintext in the inbox after the disk recovered, and `status` said "then
    retry", which did nothing until the note was edited."""
    note = write_note(practice.practice.inbox, note_id="00000000000000d1", status="signed")
    with practice.vault() as vault:
        client_id = vault.resolve("AB-1")
        target = (
            next((vault.root / "index").glob(f"*-{client_id}.json"))
            if record == "index"
            else vault.client_dir(client_id) / "client.json"
        )
    done = traced(
        practice,
        strace,
        "syncd",
        "--once",
        fault=["-P", str(target), "-e", "trace=read", "-e", "inject=read:error=EIO:when=1"],
    )
    assert "Traceback" not in done.stderr and done.returncode == 1, done.stderr
    if note.exists():  # (strace fails each thread's first read: the run's second pass may file it)
        row = _line(practice.run("status").text, note.name)
        assert "pending" in row and "retries by itself" in row, row
    again = practice.run("syncd", "--once")  # the disk has recovered; the note is unchanged
    assert again.code == 0, again.err
    assert not note.exists(), "the signed note was left in the inbox, unsealed"
    with practice.vault() as vault:
        assert len(vault.revisions(client_id, "00000000000000d1")) == 1 and verify(vault) == []
