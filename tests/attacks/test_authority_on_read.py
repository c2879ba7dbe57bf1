# ruff: noqa: F811  (`practice` is the fixture imported from helpers/four_practitioners.py)
"""Authority on read (issue 28; DESIGN.md invariant 8): a revision is believed only if the
practitioner whose device signed it was entitled to write the client at the time it
claims. Carol's machine is still registered in the practice (its signatures check), but
Alex revoked her from client AB-1; a colleague never granted a client is in the same place.
What their machines write into the synced folder is refused on Alex's machine: never shown
as the client's record, never blocking his next revision, and named by `verify` with the
device and the practitioner."""

from __future__ import annotations

import datetime as dt
import shutil

from helpers.four_practitioners import (
    PASSPHRASES,
    Practice,
    _machine,
    _revoke,
    practice,  # noqa: F401 (the fixture: shadows conftest's)
)

from vault import Passphrase, Vault, verify
from vault.errors import TamperedFile
from vault.format.encoding import new_id
from vault.store.clients import PROFILE_RECORD_ID, Profile


def _shown(practice: Practice, who: str, client: str | None = None) -> tuple[dict[str, bytes], list[str]]:
    """The notes ``who`` is shown (note id -> text) and the files reported beside them, read
    on a copy of the vault (reading is audited)."""
    copy = practice.root.parent / f"reading-{new_id()}"
    shutil.copytree(practice.root, copy)
    vault = Vault(copy, practice.configs[who])
    practitioner = vault.unlock(Passphrase(PASSPHRASES[who]))
    damaged: list[TamperedFile] = []
    notes = vault.read_notes(practitioner, client or practice.client, damaged=damaged)
    return {n.note_id: bytes(n.body) for n in notes}, [f"{e.path.name}: {e.why}" for e in damaged]


def _reported(practice: Practice, name: str, who: str) -> str:
    with practice.vault("alex") as vault:
        found = [p.why for p in verify(vault) if p.path.name == name]
    assert found, f"verify does not name {name}"
    assert practice.ids[who] in found[0] and name[7:23] in found[0]  # the practitioner and the device
    return found[0]


def test_a_revoked_colleague_cannot_replace_a_note_with_a_revision_from_her_still_registered_machine(
    practice: Practice,
) -> None:
    note = practice.seal("alex", "Risk: high. Safety plan agreed.")
    _revoke(practice, "alex", "carol")
    with _machine(practice, "carol") as carol:  # her casenotes seals it: the client's key is public
        forged = carol.seal(practice.client, note, b"Risk: none.").path

    shown, reported = _shown(practice, "alex")
    assert shown[note] == b"Risk: high. Safety plan agreed."
    assert any(forged.name in line and "not entitled" in line for line in reported)  # never silent
    why = _reported(practice, forged.name, "carol")
    assert "revoked" in why

    with practice.vault("alex") as vault:  # Alex's next revision is not blocked, nor numbered under hers
        sealed = vault.seal(practice.client, note, b"Risk: high. Plan reviewed.")
    assert sealed.revision == 3
    assert _shown(practice, "alex")[0][note] == b"Risk: high. Plan reviewed."
    assert _shown(practice, "bea")[0][note] == b"Risk: high. Plan reviewed."


def test_a_new_note_forged_by_a_revoked_colleague_is_not_the_clients_record(practice: Practice) -> None:
    _revoke(practice, "alex", "carol")
    with _machine(practice, "carol") as carol:
        forged = carol.seal(practice.client, new_id(), b"No risk; discharged.")
    shown, reported = _shown(practice, "bea")
    assert forged.note_id not in shown
    assert any(forged.path.name in line for line in reported)
    _reported(practice, forged.path.name, "carol")


def test_a_colleague_never_granted_a_client_cannot_write_into_it(practice: Practice) -> None:
    with practice.vault("alex") as vault:
        client = vault.add_client("CD-2")  # Alex's alone
    with practice.vault("bea") as bea:
        forged = bea.seal(client, new_id(), b"Written by someone without access.")
    shown, reported = _shown(practice, "alex", client)
    assert forged.note_id not in shown
    why = _reported(practice, forged.path.name, "bea")
    assert "never granted" in why


def test_a_signed_revision_from_a_revoked_colleague_does_not_lock_the_note(practice: Practice) -> None:
    """Carol's machine signs revision 2 of Alex's draft after her revoke: the note is not
    taken as signed; Alex goes on writing it and signs it himself."""
    note = practice.seal("alex", "Draft: plan to be agreed.")
    _revoke(practice, "alex", "carol")
    with _machine(practice, "carol") as carol:
        carol.seal(practice.client, note, b"Signed by Carol: no plan needed.", final=True)
    with practice.vault("alex") as vault:
        sealed = vault.seal(practice.client, note, b"Signed: plan agreed.", final=True)
    assert sealed.revision == 3
    assert _shown(practice, "alex")[0][note] == b"Signed: plan agreed."


def test_work_a_colleague_sealed_before_her_revoke_stays_the_record(practice: Practice) -> None:
    """What Carol wrote while she held the client is hers and stays: only what claims a
    time from her revoke on is refused."""
    note = new_id()
    with _machine(practice, "carol", dt.timedelta(0)) as carol:
        carol.seal(practice.client, note, b"Carol's session, while she held the client.")
    _revoke(practice, "alex", "carol")
    shown, reported = _shown(practice, "alex")
    assert shown[note] == b"Carol's session, while she held the client." and reported == []
    with practice.vault("alex") as vault:
        assert [p for p in verify(vault) if "not entitled" in p.why] == []


def test_a_revoked_colleague_cannot_rename_the_client(practice: Practice) -> None:
    """The client's profile (name, handle, birth date) is a record like a note."""
    _revoke(practice, "alex", "carol")
    with _machine(practice, "carol") as carol:
        forged = carol.seal_record(
            practice.client, PROFILE_RECORD_ID, Profile("x", "ZZ-9", "Someone Else").to_bytes(), "profile"
        )
    vault, alex = practice.unlock("alex")
    assert vault.read_profile(alex, practice.client).handle == "AB-1"
    vault.close()
    _reported(practice, forged.path.name, "carol")
