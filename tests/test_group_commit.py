"""syncd seals a burst as one group commit (`Vault.group_commit`): each note's file is
fsynced before it is linked, its folders and the audit log once at the end, and no
plaintext goes before that end. Attacked with real faults (strace) on the commit itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from notes import write_note
from test_fsync_budget import SYNC_CALLS

from vault import verify

BURST = 20


def _burst(practice: Env) -> dict[Path, bytes]:
    inbox = practice.practice.inbox
    notes = {}
    for n in range(BURST):
        path = write_note(inbox, f"2026-11-{n + 1:02d}-AB-1.md", note_id=f"{n + 1:016x}", status="signed")
        notes[path] = path.read_bytes()
    return notes


def _sealed_once(practice: Env, notes: dict[Path, bytes]) -> None:
    """Every note of the burst: plaintext gone, one audited revision, vault clean."""
    with practice.vault() as vault:
        client_id = vault.resolve("AB-1")
        for n in range(1, BURST + 1):
            revisions = vault.revisions(client_id, f"{n:016x}")
            assert len(revisions) == 1, f"note {n} has {len(revisions)} revisions"
            assert vault.audit.has("seal", file=str(revisions[0][2].relative_to(vault.root)))
        assert verify(vault) == []
        assert vault.audit.verify(vault.trust.device_keys()) == []
    assert not [p for p in notes if p.exists()], "a signed note's plaintext was left in the inbox"


def _syncd_once(practice: Env, prefix: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "casenotes", "syncd", "--once"],
        capture_output=True,
        env=dict(practice.env, CASENOTES_PASSPHRASE=PASSPHRASE),
        timeout=120,
    )


def test_a_burst_costs_about_two_fsyncs_a_note_not_four(strace: list[str], practice: Env) -> None:
    notes = _burst(practice)
    trace = practice.practice.root / "strace.log"
    # -y names each call's file: count those in the vault (the run's backup job has its own).
    tracer = [strace[0], "-f", "-qq", "-y", "-e", f"trace={SYNC_CALLS}", "-o", str(trace)]
    assert _syncd_once(practice, tracer).returncode == 0
    vault_dir = str(practice.vault_dir)
    calls = [line for line in trace.read_text().splitlines() if f"<{vault_dir}" in line]
    # Per note: its file and its own folder. Once a run (11 here, whatever the burst): the
    # client's records folder, the audit log, the run's two signed checkpoints (file and
    # folder each) and its backup job's audit entry.
    assert len(calls) <= 2 * BURST + 12, f"{len(calls)} sync calls in the vault for a burst of {BURST}"
    _sealed_once(practice, notes)


@pytest.mark.parametrize(
    "fault",
    [
        # Every fsync of the audit log fails: the commit cannot make the burst's entries durable.
        "inject=fsync:error=EIO",
        # Killed at the log's first fsync: the revisions and entries are written, none is
        # known durable yet.
        "inject=fsync:signal=SIGKILL:when=1",
    ],
    ids=["eio", "kill"],
)
def test_a_commit_cut_short_removes_no_plaintext_and_the_next_run_duplicates_nothing(
    strace: list[str], practice: Env, fault: str
) -> None:
    notes = _burst(practice)
    with practice.vault() as vault:
        log = vault.audit.path
    done = _syncd_once(practice, [*strace, "-P", str(log), "-e", f"trace={SYNC_CALLS}", "-e", fault])
    assert done.returncode != 0
    assert b"Traceback" not in done.stderr
    assert all(p.read_bytes() == raw for p, raw in notes.items()), "plaintext went before the commit"
    # The next run finishes the job: no revision twice, every entry there once.
    assert practice.run("syncd", "--once").code == 0
    _sealed_once(practice, notes)


def test_a_commit_that_cannot_sync_the_audit_log_is_no_seal_for_drafts_either(
    strace: list[str], practice: Env
) -> None:
    """Drafts (not signed) stay in the inbox, but a failed commit must not call them sealed:
    the run fails, `status` says they wait, and the next run makes them durable."""
    inbox = practice.practice.inbox
    drafts = [write_note(inbox, f"2026-11-{n:02d}-AB-1.md", note_id=f"{n:016x}") for n in range(1, 6)]
    with practice.vault() as vault:
        log = vault.audit.path
    done = _syncd_once(
        practice, [*strace, "-P", str(log), "-e", f"trace={SYNC_CALLS}", "-e", "inject=fsync:error=EIO"]
    )
    assert done.returncode == 1, "a commit the disk refused was reported as a success"
    status = practice.run("status").out.decode()
    assert "sealed as revision" not in status and status.count("draft, not sealed yet") == len(drafts)
    # The next run seals them again: the existing revisions made durable, none twice.
    trace = practice.practice.root / "strace.log"
    again = _syncd_once(practice, [strace[0], "-f", "-qq", "-y", "-e", "trace=fsync", "-o", str(trace)])
    assert again.returncode == 0
    assert f"<{log}>" in trace.read_text(), "the audit log was never made durable"
    status = practice.run("status").out.decode()
    assert status.count("draft, sealed as revision 1, not signed") == len(drafts)
    with practice.vault() as vault:
        assert verify(vault) == [] and vault.audit.verify(vault.trust.device_keys()) == []


@pytest.mark.parametrize("signed_first", [False, True], ids=["draft-then-signed", "signed-then-draft"])
def test_two_files_of_one_note_in_a_burst_are_sealed_in_order_as_by_one_thread(
    practice: Env, signed_first: bool
) -> None:
    """syncd files a burst on several threads, but one note's files one after another, in
    order: a signed revision is never followed by another, and no number is taken twice."""
    from syncd import Daemon, DaemonSettings

    inbox = practice.practice.inbox
    others = _burst(practice)  # so that the threads are busy with other notes meanwhile
    note_id = "00000000000000ff"
    # The inbox is read in name order: "…-copy.md" comes before "….md".
    first, second = inbox / "2026-11-21-AB-1-copy.md", inbox / "2026-11-21-AB-1.md"
    signed, draft = (first, second) if signed_first else (second, first)
    write_note(inbox, signed.name, note_id=note_id, status="signed", body="The signed text.")
    write_note(inbox, draft.name, note_id=note_id, body="A draft of the same note.")
    summary = Daemon(
        practice.vault(), inbox, practice.practice.state_dir, DaemonSettings(threads=4)
    ).run_once()
    with practice.vault() as vault:
        client_id = vault.resolve("AB-1")
        revisions = vault.revisions(client_id, note_id)
        finals = [vault.load(path).header.final for _, _, path in revisions]
        assert verify(vault) == []
    if signed_first:  # the draft came too late: it waits for an addendum
        assert finals == [True]
        assert summary.left == [draft.name]
    else:
        assert [number for number, _, _ in revisions] == [1, 2] and finals == [False, True]
    assert draft.exists() and not signed.exists()
    assert not [p for p in others if p.exists()]
