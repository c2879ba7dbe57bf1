"""Invariant 1: killed at any instant, syncd leaves every note in the inbox or durable in
the vault, never neither, and never seals the same content twice."""

from __future__ import annotations

import itertools
import random
import time

from conftest import Env
from daemon import RunningDaemon, configure, sealed_notes
from notes import note_text

from syncd.daemon import REMOVING

NOTES, ROUNDS = 200, 20


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
