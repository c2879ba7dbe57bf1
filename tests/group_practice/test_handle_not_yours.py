"""A handle names one client per practitioner, everywhere (issue 29, item 2).

Alex has client AB-1; Bea, in the same practice, cannot read it. Before, her `client add
AB-1` was refused ("a client already has this handle") while `new AB-1` worked, and her
syncd sealed her signed note into Alex's client, which she cannot read, and deleted her
plaintext: nobody was told. Now `new`, `check`, `seal` and syncd resolve a handle only to a
client its practitioner can read, and the draft stays in the inbox with the reason.
"""

from __future__ import annotations

from conftest import Env
from helpers.people import BEA_PASS, People
from helpers.people import people as people  # a fixture: Alex and Bea in one practice
from notes import note_text


def _alex_client(alex: Env) -> str:
    with alex.vault() as vault:
        return vault.resolve("AB-1")


def _bea_revisions(bea: Env, client_id: str) -> list[str]:
    with bea.vault() as vault:
        mine = vault.device.device_id
        return [
            str(path)
            for path in (bea.vault_dir / "clients" / client_id / "records").rglob("*.rev")
            if path.stem.endswith(mine)
        ]


def test_new_refuses_a_handle_that_names_only_a_colleagues_client(people: People) -> None:
    bea = people.bea
    made = bea.run("new", "AB-1", "--no-edit", passphrase=BEA_PASS)
    assert made.code == 1
    assert "a colleague's client that you cannot read" in made.err
    assert "casenotes client add OTHER-HANDLE" in made.err and "HANDLE@" in made.err
    assert not list(bea.practice.inbox.glob("*.md"))


def test_a_signed_note_for_a_colleagues_client_stays_in_the_inbox_through_check_seal_and_syncd(
    people: People,
) -> None:
    alex, bea = people.alex, people.bea
    client_id = _alex_client(alex)
    draft = bea.practice.inbox / "bea-note.md"
    text = note_text(client="AB-1", note_id=None, status="signed", body="Fictional session by Bea.")
    draft.write_text(text)
    for command in (["check", str(draft)], ["seal", str(draft)]):
        result = bea.run(*command, passphrase=BEA_PASS)
        assert result.code == 1, (command, result.err)
        assert "a colleague's client that you cannot read" in result.err
    picked = draft.with_name("picked.md")
    picked.write_text(note_text(client=f"AB-1@{client_id[:6]}", note_id=None, status="signed"))
    result = bea.run("seal", str(picked), passphrase=BEA_PASS)
    assert result.code == 1 and "cannot read" in result.err  # naming it does not make it hers
    picked.unlink()

    once = bea.run("syncd", "--once", passphrase=BEA_PASS)
    assert "a colleague's client that you cannot read" in once.err
    assert draft.read_text() == text  # her plaintext is kept
    assert _bea_revisions(bea, client_id) == []
    status = bea.run("status", passphrase=BEA_PASS)
    assert "bea-note.md" in status.text and "cannot read" in status.text, status.text

    # Alex, who can read it, seals into it as before.
    draft.unlink()
    mine = alex.practice.inbox / "alex-note.md"
    mine.write_text(note_text(client="AB-1", note_id=None))
    assert alex.run("seal", str(mine)).code == 0
