"""One note changed on two machines while they were apart (Alex's and Bea's devices in a
group practice): both revision files with the same number are kept, and the fork is shown
by `cat`, `open`, `status` and `verify`, blocks the next revision until `resolve`, and a
signed sibling locks the note. The fork is made as a sync engine would leave it: each
machine seals its revision 2 without seeing the other's, then the files meet."""

from __future__ import annotations

from conftest import PASSPHRASE
from helpers.forks import NOTE, _draft, _fork
from helpers.people import People
from helpers.people import people as people  # a fixture: Alex and Bea in one practice

from site_builder.site import load_timeline
from vault import Passphrase
from vault.format import revision as revision_format


def test_both_texts_of_a_note_changed_on_two_machines_are_shown_until_resolved(people: People) -> None:
    alex = people.alex
    alex_rev, bea_rev = _fork(people, "Alex's wording of the plan.", "Bea's wording of the plan.")

    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert shown.code == 0, shown.err
    assert "Alex's wording" in shown.text and "Bea's wording" in shown.text
    assert "changed on two machines" in shown.err and f"resolve {NOTE}" in shown.err
    status = alex.run("status").text
    assert f"conflict: note {NOTE} was changed on two machines" in status
    assert alex_rev.stem in status and bea_rev.stem in status
    checked = alex.run("verify")
    assert checked.code == 1 and f"note {NOTE} was changed on two machines" in checked.err
    assert "backup" not in checked.err and "resolve each as its line says" in checked.err

    with alex.vault() as vault:
        practitioner = vault.unlock(Passphrase(PASSPHRASE))
        timeline = load_timeline(vault, practitioner, vault.resolve("AB-1"), "AB-1", False)
        [entry] = [e for e in timeline.entries if e.note_id == NOTE]
        assert "Alex's wording" in entry.body and "Bea's wording" in entry.body  # `open` shows both

    # The next revision waits, in the inbox, until the practitioner chooses.
    draft = _draft(alex, "A third wording, written before the conflict was seen.")
    refused = alex.run("seal", str(draft))
    assert refused.code == 1 and "changed on two machines" in refused.err and draft.exists()

    asked = alex.run("resolve", NOTE)
    assert asked.code == 2 and alex_rev.stem in asked.err and bea_rev.stem in asked.err
    done = alex.run("resolve", NOTE, "--keep", bea_rev.stem)
    assert done.code == 0, done.err
    merge = next(alex_rev.parent.glob("000003-*.rev"))
    merges = revision_format.parse(merge.read_bytes(), merge).header.merges
    assert sorted(merges) == sorted([alex_rev.stem, bea_rev.stem])
    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert "Bea's wording" in shown.text and "Alex's wording" not in shown.text and shown.err == ""
    assert alex.run("verify").code == 0
    assert alex.run("audit", "verify").code == 0
    assert alex.run("seal", str(draft)).code == 0  # and the waiting draft goes in after it
    assert next(alex_rev.parent.glob("000004-*.rev"))


def test_a_signed_revision_is_never_hidden_behind_an_unsigned_one_and_locks_the_note(people: People) -> None:
    alex = people.alex
    signed, edited = _fork(people, "Signed wording.", "Unsigned edit on the other machine.", "signed")
    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert shown.code == 0, shown.err
    assert shown.text.index("Signed wording.") < shown.text.index("Unsigned edit")  # the signed text first
    assert "(signed)" in shown.text
    checked = alex.run("verify")
    assert checked.code == 1 and "signed on one machine" in checked.err and "addendum" in checked.err

    draft = _draft(alex, "Yet another change.")
    refused = alex.run("seal", str(draft))
    assert refused.code == 1 and "signed" in refused.err and draft.exists()
    assert alex.run("resolve", NOTE, "--keep", edited.stem).code == 1  # cannot undo a signature
    assert alex.run("resolve", NOTE, "--keep", signed.stem).code == 0
    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert "Signed wording." in shown.text and "Unsigned edit" not in shown.text
    assert alex.run("verify").code == 0
    assert alex.run("seal", str(draft)).code == 1  # still signed: an addendum, not a revision


def test_syncd_keeps_the_draft_of_a_forked_note_in_the_inbox(people: People) -> None:
    alex = people.alex
    _fork(people, "Alex's text.", "Bea's text.")
    draft = _draft(alex, "Alex keeps writing.")
    ran = alex.run("syncd", "--once")
    assert draft.exists(), ran.err
    status = alex.run("status").text
    assert "conflict" in status and NOTE in status
