"""A sealed note costs at most four fsyncs: the revision, its folder (and, for a new note,
the records folder that names it), its audit entry. Counted by strace on a real
`casenotes seal` process, so a change that adds a durable write per note is caught here
rather than in a benchmark months later."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

from conftest import PASSPHRASE, Env
from helpers.fsyncs import SYNC_CALLS
from notes import write_note

from retention import records

MAX_FSYNCS_PER_SEAL = 4


def sync_calls(strace: list[str], practice: Env, *args: str) -> int:
    log = practice.practice.root / "strace.log"
    tracer = [strace[0], "-f", "-qq", "-c", "-e", f"trace={SYNC_CALLS}", "-o", str(log)]
    proc = subprocess.run(
        [*tracer, sys.executable, "-m", "casenotes", *args],
        capture_output=True,
        env=dict(practice.env, CASENOTES_PASSPHRASE=PASSPHRASE),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    total = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d*\s+(\d+)\s+(?:\d+\s+)?total$", log.read_text(), re.M)
    return int(total[1]) if total else 0  # no total line: no call of the family at all


def test_sealing_a_new_note_takes_at_most_four_fsyncs(strace: list[str], practice: Env) -> None:
    note = write_note(practice.practice.inbox, note_id="00000000000000a1")
    assert sync_calls(strace, practice, "seal", str(note)) <= MAX_FSYNCS_PER_SEAL


def test_a_new_revision_of_a_note_takes_at_most_four_fsyncs(strace: list[str], practice: Env) -> None:
    note = write_note(practice.practice.inbox, note_id="00000000000000a2")
    assert practice.run("seal", str(note)).code == 0
    note.write_text(note.read_text() + "\nA fictional afterthought.\n")
    assert sync_calls(strace, practice, "seal", str(note)) <= MAX_FSYNCS_PER_SEAL


def test_the_seal_is_still_durable_audited_and_dated(practice: Env) -> None:
    # The fsyncs saved are not the ones invariant 1 needs: the revision is there, audited,
    # and its session date reaches retention without a facts file of its own.
    note = write_note(practice.practice.inbox, note_id="00000000000000a3", date="2026-03-09")
    assert practice.run("seal", str(note)).code == 0
    with practice.vault() as vault:
        client_id = vault.resolve("AB-1")
        assert vault.audit.has("seal", note="00000000000000a3")
        assert records.current(vault, client_id).last_sessions == {"note": dt.date(2026, 3, 9)}
        assert not Path(records.path_for(vault, client_id, vault.device.device_id)).exists()
