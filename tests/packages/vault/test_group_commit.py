"""syncd seals a burst as one group commit (`Vault.group_commit`): each note's file is
fsynced before it is linked, its folders and the audit log once at the end, and no
plaintext goes before that end. Attacked with real faults (strace) on the commit itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from helpers.fsyncs import SYNC_CALLS
from notes import write_note
from syscalls import Syscall, record

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
    # folder each) and its backup job's audit entry. Once a practice (3): its first retention
    # run writes the practice's rules into the vault (the file, vault/settings/, its entry).
    assert len(calls) <= 2 * BURST + 12 + 3, f"{len(calls)} sync calls in the vault for a burst of {BURST}"
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


def _traced_burst(strace: list[str], practice: Env) -> tuple[list[Syscall], str]:
    """A burst of new notes and a new revision of a note already sealed (its folder exists),
    sealed by a real `syncd --once` under the recording spy; its calls and the audit log."""
    existing = write_note(practice.practice.inbox, "2026-10-01-AB-1.md", note_id="00000000000000ee")
    assert practice.run("syncd", "--once").code == 0
    existing.write_text(existing.read_text() + "\nA fictional afterthought.\n")
    _burst(practice)
    env = dict(practice.env, CASENOTES_PASSPHRASE=PASSPHRASE)
    command = [sys.executable, "-m", "casenotes", "syncd", "--once"]
    done, calls = record(strace, command, env, practice.practice.root / "strace.log")
    assert done.returncode == 0, done.stderr.decode()
    with practice.vault() as vault:
        return calls, str(vault.audit.path)


def _gained_entries(calls: list[Syscall], vault_dir: str) -> dict[str, int]:
    """Each vault folder the run linked a revision into or made a folder in -> when that
    happened (the entries a crash loses unless the folder is fsynced)."""
    gained: dict[str, int] = {}
    for call in calls:
        if call.ok and call.name in ("link", "linkat") and call.paths[-1].endswith(".rev"):
            gained.setdefault(str(Path(call.paths[-1]).parent), call.finished)
        elif call.ok and call.name in ("mkdir", "mkdirat") and call.paths[0].startswith(vault_dir):
            gained.setdefault(str(Path(call.paths[0]).parent), call.finished)
    return gained


def _synced_at(calls: list[Syscall], path: str, after: int) -> int | None:
    """When the first successful fsync of PATH begun after AFTER finished."""
    return next(
        (
            c.finished
            for c in calls
            if c.name in ("fsync", "fdatasync") and c.ok and c.fd_path == path and c.started > after
        ),
        None,
    )


def test_no_plaintext_of_a_burst_goes_before_every_folder_it_linked_a_revision_into_is_durable(
    strace: list[str], practice: Env
) -> None:
    """Issue 31 item 1: a commit that fsyncs too few folders passed the fsync budget (an
    upper bound). Here every folder that gained a revision or a note's folder must be
    fsynced, after it gained it, before the first plaintext of the burst is renamed away:
    else a power cut then loses the revision's name, and the plaintext is gone too."""
    calls, _ = _traced_burst(strace, practice)
    inbox = str(practice.practice.inbox)
    removals = [c for c in calls if c.name.startswith("rename") and c.ok and c.paths[0].startswith(inbox)]
    assert removals, "the burst removed no plaintext: nothing to check the order against"
    first_removal = min(c.started for c in removals)
    gained = _gained_entries(calls, str(practice.vault_dir))
    assert len(gained) >= BURST + 1, f"the spy saw {len(gained)} folders gain entries"
    unsynced = [
        folder
        for folder, at in gained.items()
        if (synced := _synced_at(calls, folder, at)) is None or synced > first_removal
    ]
    assert not unsynced, f"plaintext removed before these folders were durable: {unsynced[:3]}"


def test_no_false_revision_deleted_alarm_after_a_power_cut_the_log_is_synced_after_what_it_names(
    strace: list[str], practice: Env
) -> None:
    """Issue 31 item 8: the commit's audit entries name its revisions. If the log were made
    durable before the revisions' files and folders, a power cut between the two leaves
    entries naming revisions that are not there, and `verify` then reports them deleted.
    So the log's fsync begins only after every revision file and every folder that gained
    an entry is durable."""
    calls, log = _traced_burst(strace, practice)
    links = [c for c in calls if c.ok and c.name in ("link", "linkat") and c.paths[-1].endswith(".rev")]
    assert len(links) == BURST + 1
    first_link = min(c.started for c in links)
    log_sync = next(
        (
            c
            for c in calls
            if c.name in ("fsync", "fdatasync") and c.fd_path == log and c.started > first_link
        ),
        None,
    )
    assert log_sync is not None, "the burst's audit entries were never made durable"
    for link in links:  # the revision's own data: fsynced in its temp file before the link
        assert (synced := _synced_at(calls, link.paths[0], -1)) is not None and synced < link.started
    late = [
        folder
        for folder, at in _gained_entries(calls, str(practice.vault_dir)).items()
        if (synced := _synced_at(calls, folder, at)) is None or synced > log_sync.started
    ]
    assert not late, f"the audit log was made durable before these folders: {late[:3]}"
