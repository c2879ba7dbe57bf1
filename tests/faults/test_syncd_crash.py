"""Invariant 1: killed at any instant, syncd leaves every note in the inbox or durable in
the vault, never neither, and never seals the same content twice."""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path

from conftest import Env
from daemon import RunningDaemon, configure, sealed_notes
from notes import note_text, write_note

from syncd.daemon import REMOVING, Daemon, DaemonSettings

NOTES, ROUNDS = 200, 20
NOTE_ID = "0123456789abcdef"


def run_once(env: Env) -> None:
    """syncd --once in this process, so that a test can fault what it does."""
    Daemon(env.vault(), env.practice.inbox, env.practice.state_dir, DaemonSettings()).run_once()


def test_sigkill_at_random_moments_loses_no_note_and_duplicates_no_revision(practice: Env) -> None:
    configure(practice, quiet_period_seconds=0.1, rescan_seconds=1)
    rng = random.Random(20261126)
    inbox = practice.practice.inbox
    last: dict[str, bytes] = {}
    for round_ in range(ROUNDS):
        daemon = RunningDaemon(practice)  # not waiting for it: the kill may come before it is ready
        time.sleep(rng.uniform(0.0, 0.6))
        final = round_ == ROUNDS - 1
        for index in range(NOTES):
            note_id = f"{index + 1:016x}"
            status = "signed" if final and index % 2 == 0 else "draft"
            body = note_text(note_id=note_id, status=status, body=f"note {index}, round {round_}").encode()
            (inbox / f"note-{index:03d}.md").write_bytes(body)
            last[note_id] = body
        time.sleep(rng.uniform(0.0, 1.5))
        daemon.kill()

    sealed = sealed_notes(practice)
    for index in range(NOTES):
        note_id = f"{index + 1:016x}"
        revisions = sealed.get(note_id, [])
        assert all(a != b for a, b in itertools.pairwise(revisions)), f"duplicate revision of {note_id}"
        copies = [inbox / f"note-{index:03d}.md", inbox / f"{REMOVING}note-{index:03d}.md"]
        in_inbox = any(p.exists() and p.read_bytes() == last[note_id] for p in copies)
        in_vault = bool(revisions) and revisions[-1] == last[note_id]
        assert in_inbox or in_vault, f"note {note_id} is neither in the inbox nor in the vault"

    # and a normal run afterwards finishes the work: everything sealed, signed notes gone
    done = practice.run("syncd", "--once")
    assert done.code == 0, done.err
    sealed = sealed_notes(practice)
    for index in range(NOTES):
        note_id = f"{index + 1:016x}"
        assert sealed[note_id][-1] == last[note_id]
        assert (inbox / f"note-{index:03d}.md").exists() == (index % 2 == 1)
    assert not list(inbox.glob(f"{REMOVING}*"))
    assert practice.run("verify").code == 0


def test_a_revision_damaged_on_its_way_to_disk_keeps_the_signed_note_in_the_inbox(
    practice: Env, monkeypatch
) -> None:
    """A controller or cable that flips one bit: the seal must not be trusted, so syncd
    neither records it nor deletes the plaintext of a signed note; once the disk writes
    what it is given, the next run seals the note and only then removes it."""
    from vault import durable

    note = write_note(practice.practice.inbox, status="signed", note_id=NOTE_ID)
    original = note.read_bytes()
    writes = durable.write_new

    def damaging(path: Path, data: bytes, defer: set[Path] | None = None) -> None:
        if path.suffix == ".rev":
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0x01
            data = bytes(flipped)
        writes(path, data, defer)

    def seals() -> list[int]:
        entries = practice.vault().audit.entries()
        return [e.data["revision"] for e in entries if e.event == "seal" and e.data["note"] == NOTE_ID]

    monkeypatch.setattr(durable, "write_new", damaging)
    run_once(practice)
    assert note.exists() and note.read_bytes() == original
    assert seals() == []
    state = json.loads((practice.practice.state_dir / "state.json").read_text())
    assert state["files"]["note.md"]["state"] == "pending"  # a failed write: retried, not given up

    monkeypatch.setattr(durable, "write_new", writes)
    run_once(practice)
    assert not note.exists()
    assert seals() == [1]
    assert sealed_notes(practice)[NOTE_ID] == [original]
    assert practice.run("verify").code == 0


def test_an_edit_saved_while_a_signed_notes_plaintext_is_removed_is_put_back(
    practice: Env, monkeypatch
) -> None:
    """The practitioner saves once more at the instant syncd moves the sealed plaintext
    aside: the save lands in the moved file, and it must come back, not be deleted."""
    note = write_note(practice.practice.inbox, status="signed", note_id=NOTE_ID)
    original = note.read_bytes()
    edit = note_text(note_id=NOTE_ID, status="signed", body="One more line, saved at that very instant.")
    renames = os.rename

    def rename(src, dst, *args, **kwargs) -> None:
        renames(src, dst, *args, **kwargs)
        if Path(dst).name.startswith(REMOVING):
            Path(dst).write_text(edit)  # the editor still had the file open: its write lands here

    monkeypatch.setattr(os, "rename", rename)
    run_once(practice)
    monkeypatch.undo()
    assert note.exists() and note.read_text() == edit
    assert not list(practice.practice.inbox.glob(f"{REMOVING}*"))
    assert sealed_notes(practice)[NOTE_ID] == [original]
