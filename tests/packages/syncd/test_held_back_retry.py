"""A draft held back for a reason that goes away is tried again without an edit (issue 29,
item 6): a fork resolved (here or on another machine), or access to the client granted.
Before, syncd skipped a draft whose bytes it had already tried until it was edited, and its
status line stayed stale."""

from __future__ import annotations

from conftest import PASSPHRASE
from daemon import RunningDaemon, configure, state, wait_for
from helpers.forks import NOTE, _draft, _fork
from helpers.people import BEA_PASS, People
from helpers.people import people as people  # a fixture: Alex and Bea in one practice
from notes import note_text


def test_a_draft_held_by_a_fork_is_sealed_once_the_fork_is_resolved(people: People) -> None:
    alex = people.alex
    alex_rev, _ = _fork(people, "Alex's text.", "Bea's text.")
    draft = _draft(alex, "Alex keeps writing after the fork.")
    alex.run("syncd", "--once")
    assert "conflict" in alex.run("status").text

    resolved = alex.run("resolve", NOTE, "--keep", alex_rev.stem)
    assert resolved.code == 0, resolved.err
    again = alex.run("syncd", "--once")
    assert again.code == 0, again.err
    status = alex.run("status").text
    assert "conflict" not in status, status
    assert state(alex)["files"][draft.name]["state"] == "sealed"
    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert "Alex keeps writing after the fork." in shown.text, shown.err


def test_a_running_syncd_seals_a_held_draft_once_access_is_granted(people: People) -> None:
    alex, bea = people.alex, people.bea
    configure(bea, rescan_seconds=1)
    draft = bea.practice.inbox / "bea-note.md"
    draft.write_text(note_text(client="AB-1", note_id=None, status="signed", body="Fictional by Bea."))
    daemon = RunningDaemon(bea).wait_ready()
    try:
        wait_for(lambda: draft.name in state(bea)["files"], what="the draft to be tried")
        held = state(bea)["files"][draft.name]
        assert held["state"] == "error" and "cannot read" in held["reason"]
        assert "cannot read" in bea.run("status", passphrase=BEA_PASS).text

        granted = alex.run("access", "grant", "AB-1", "Bea", passphrase=PASSPHRASE)
        assert granted.code == 0, granted.err
        wait_for(lambda: not draft.exists(), what="the held draft to be sealed without an edit")
    finally:
        assert daemon.stop() == 0
    assert state(bea)["files"][draft.name]["state"] == "signed"
    assert "cannot read" not in bea.run("status", passphrase=BEA_PASS).text
    assert "Fictional by Bea." in bea.run("cat", "AB-1", passphrase=BEA_PASS).text
