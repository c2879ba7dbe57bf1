# ruff: noqa: F811  (`practice` is the fixture imported from helpers/four_practitioners.py)
"""Attacks on a client's key generations by someone who can write into the synced vault:
a revoked colleague whose own machine is still registered in the practice (so her device
signs records and audit entries that check), or anyone with write access and no key.
Each attack is made with real files, then the practice's own machine seals a note as its
syncd would; what matters is who can read that note."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.four_practitioners import (
    Practice,
    _revoke,
    practice,  # noqa: F401 (the fixture: shadows conftest's)
)
from nacl.public import PrivateKey, SealedBox

from vault import Passphrase, Vault, verify
from vault.errors import KeyNotUsable, MergeNotHere
from vault.format import key_generations as kg
from vault.format.constants import CLIENT_KEY_FORMAT
from vault.format.encoding import new_id, stamp
from vault.sharing import access
from vault.sharing.access import OwnerKeepsAccess
from vault.store import ledger
from vault.store.clients import _public_key_record, key_record


def _carol(practice: Practice) -> Vault:
    """Carol's own machine: registered in the practice, holding the synced vault."""
    return Vault(practice.root, practice.configs["carol"])


def _forge_generation(
    practice: Practice,
    number: int,
    after: tuple[str, ...],
    holders: set[str],
    revoked: set[str] = frozenset(),  # type: ignore[assignment]
) -> PrivateKey:
    """Carol's device signs a key file she made (she keeps its private key) and seals it to
    herself; no passphrase of anyone's is needed."""
    carol = _carol(practice)
    key = PrivateKey.generate()
    gid = kg.new_gid(number, carol.device.device_id)
    ids = {practice.ids[h] for h in holders}
    generation = kg.Generation(
        gid, key.public_key, after, frozenset(ids), frozenset(practice.ids[r] for r in revoked)
    )
    folder = carol.client_dir(practice.client) / "keys"
    folder.mkdir(exist_ok=True)
    (folder / f"{gid}.json").write_bytes(
        key_record(practice.client, generation, carol.device, stamp(carol.clock()))
    )
    mine = carol.keyring.access_file(practice.ids["carol"], practice.client, gid)
    box = Vault(practice.root, practice.configs["carol"]).unlock(Passphrase("fictional charlie passphrase"))
    mine.write_bytes(SealedBox(box.box_key.public_key).encrypt(bytes(key)))
    carol.close()
    return key


def _refused(practice: Practice, forged: str) -> None:
    """The practice's machine seals nothing for the client and names the file; verify too."""
    with practice.vault("alex") as vault:
        with pytest.raises(KeyNotUsable, match=forged):
            vault.seal(practice.client, new_id(), b"a note")
        assert any(p.path.name == forged for p in verify(vault))


def test_a_revoked_colleague_cannot_make_new_notes_sealed_to_a_key_file_her_device_signed(
    practice: Practice,
) -> None:
    """Her device is still registered in the practice: its signature checks. A key file after
    the current key, naming everyone (her too) as holders, sealed to herself."""
    _revoke(practice, "alex", "carol")
    tip = practice.vault("alex").keyring.current(practice.client)
    assert tip is not None
    _forge_generation(practice, 3, (tip,), {"alex", "bea", "dan", "carol"})
    forged = f"000003-{_carol(practice).device.device_id}.json"
    _refused(practice, forged)
    (practice.root / "clients" / practice.client / "keys" / forged).unlink()  # the fix verify asks for
    note = practice.seal("alex", "written after Carol left")
    assert note not in practice.readable("carol", "alex")
    assert note in practice.readable("alex", "alex") & practice.readable("bea", "alex")


def test_a_key_file_naming_the_others_as_holders_but_sealed_to_its_maker_alone_is_refused(
    practice: Practice,
) -> None:
    """Carol (not revoked) makes a key that only she holds, claiming it was sealed to Alex and
    Bea: notes sealed to it would be lost to them, and readable by her alone."""
    tip = practice.vault("alex").keyring.current(practice.client)
    assert tip is not None
    carol = _carol(practice)
    carol.close()
    _forge_generation(practice, 2, (tip,), {"alex", "bea"})
    _refused(practice, f"000002-{carol.device.device_id}.json")


def test_a_backdated_key_file_cannot_shut_out_the_practitioner_who_added_the_client(
    practice: Practice,
) -> None:
    """A key file "made while apart" before her revoke, that revokes Alex: a merge of it
    would seal the client's new notes to everyone but the practitioner who added it."""
    _revoke(practice, "alex", "carol")
    _forge_generation(practice, 5, (kg.FIRST,), {"bea", "dan", "carol"}, {"alex"})
    _refused(practice, f"000005-{_carol(practice).device.device_id}.json")


def test_a_colleague_granted_a_client_cannot_revoke_the_practitioner_who_added_it(
    practice: Practice,
) -> None:
    vault, bea = practice.unlock("bea")
    with pytest.raises(OwnerKeepsAccess, match="Alex added client"):
        access.revoke(vault, bea, practice.client, vault.trust.colleague("Alex"))
    vault.close()
    note = practice.seal("alex", "Alex's own note")
    assert note in practice.readable("alex", "alex")


def test_a_revoked_colleague_cannot_earn_the_next_key_by_a_grant_entry_in_her_own_audit_log(
    practice: Practice,
) -> None:
    """Her device's log is signed and chained like anyone's: an `access-grant` there naming
    an access file of the current key (bytes she cannot fill with that key) must not make
    her a holder whom the next revoke seals its key to."""
    _revoke(practice, "alex", "carol")
    carol = _carol(practice)
    tip = carol.keyring.current(practice.client)
    assert tip is not None
    planted = carol.keyring.access_file(practice.ids["carol"], practice.client, tip)
    planted.write_bytes(b"\0" * 80)
    carol.audit.append(
        "access-grant",
        client=practice.client,
        to=practice.ids["carol"],
        by=practice.ids["alex"],
        files=ledger.files(carol.root, planted),
    )
    carol.close()
    vault, alex = practice.unlock("alex")
    revoked = access.revoke(vault, alex, practice.client, vault.trust.colleague("Dan"))
    vault.close()
    assert practice.ids["carol"] in revoked.unvouched  # the CLI names her: not given the new key
    planted.unlink()
    note = practice.seal("alex", "written after Dan left too")
    assert note not in practice.readable("carol", "alex")
    assert note in practice.readable("bea", "alex")


def test_key_files_under_an_older_casenotes_name_cannot_take_over_a_newer_vault(practice: Practice) -> None:
    """Downgrade: keys/000002.json and keys/000003.json (an older vault's names: each after the
    one numbered before it, holders as the access files say), made by Carol's machine after
    her revoke, with access files of Alex, Bea and Dan recorded in her own log: 000003 would
    be the newest tip held by exactly who may hold a merge, and new notes sealed to her key."""
    _revoke(practice, "alex", "carol")
    carol = _carol(practice)
    folder = carol.client_dir(practice.client)
    for number in (2, 3):
        key = PrivateKey.generate()
        record = _public_key_record(
            CLIENT_KEY_FORMAT,
            practice.client,
            key.public_key,
            carol.device,
            stamp(carol.clock()),
            generation=number,
        )
        (folder / "keys" / f"{number:06d}.json").write_bytes(record)
    planted = []
    for who in ("alex", "bea", "dan"):
        path = folder / "access" / f"{practice.ids[who]}.000003.sealed"
        path.write_bytes(b"\0" * 80)
        planted.append(path)
    carol.audit.append("access-grant", client=practice.client, files=ledger.files(carol.root, *planted))
    carol.close()
    _refused(practice, "000002.json")


def test_a_revoked_colleague_cannot_shut_out_a_holder_by_a_backdated_revoke(practice: Practice) -> None:
    """After her revoke, Carol's machine makes a key file "made while apart" from the key
    she held, revoking Bea: a merge would seal the client's new notes to everyone but Bea
    (and Bea's own machine could seal nothing). A revoke made apart by a practitioner
    whom another line of keys revoked (and who did not revoke its maker) does not count."""
    _revoke(practice, "alex", "carol")
    _forge_generation(practice, 2, (kg.FIRST,), {"alex", "dan", "carol"}, {"bea"})
    note = practice.seal("bea", "Bea's own note, sealed on her machine")
    assert note in practice.readable("bea", "bea")
    later = practice.seal("alex", "Alex's note after the forged key file")
    assert later in practice.readable("bea", "alex")
    assert later not in practice.readable("carol", "alex")


def test_granted_revoked_and_granted_again_then_a_colleague_revokes_another_and_she_still_reads(
    practice: Practice,
) -> None:
    """Legitimate work the key rules must not break: Alex revokes Carol and grants her
    again; Bea (granted by Alex) then revokes Dan: Carol gets the newest key."""
    _revoke(practice, "alex", "carol")
    vault, alex = practice.unlock("alex")
    access.grant(vault, alex, practice.client, vault.trust.colleague("Carol"))
    vault.close()
    _revoke(practice, "bea", "dan")
    note = practice.seal("alex", "after Dan left")
    assert note in practice.readable("carol", "alex") & practice.readable("bea", "alex")
    assert note not in practice.readable("dan", "alex")
    practice.clean("alex")


def test_a_revoked_colleague_who_revokes_back_is_named_to_the_one_she_shut_out(practice: Practice) -> None:
    """Bea revokes Carol; Carol's machine answers with a key file "made while apart"
    revoking Bea (two revokes of each other made apart both count): Bea's machine seals
    nothing for the client, and says which file did it, made on whose machine."""
    _revoke(practice, "bea", "carol")
    _forge_generation(practice, 2, (kg.FIRST,), {"alex", "dan", "carol"}, {"bea"})
    forged = f"000002-{_carol(practice).device.device_id}.json"
    with practice.vault("bea") as vault, pytest.raises(MergeNotHere) as refused:
        vault.seal(practice.client, new_id(), b"Bea's note")
    assert forged in str(refused.value) and practice.ids["carol"] in str(refused.value)
    (practice.root / "clients" / practice.client / "keys" / forged).unlink()  # the fix it names
    note = practice.seal("bea", "Bea's note, once the file is gone")
    assert note in practice.readable("bea", "bea") and note not in practice.readable("carol", "bea")


def _access_file(practice: Practice, who: str) -> Path:
    with practice.vault("alex") as vault:
        [path] = [p for pid, _, p in vault.keyring.access_files(practice.client) if pid == practice.ids[who]]
    return path


def test_a_holders_access_file_deleted_does_not_shut_her_out_of_the_next_key(practice: Practice) -> None:
    """Carol's machine (or anyone who can write the folder) deletes Bea's access file just
    before Alex revokes Dan. The ledger still records Bea's grant, and nobody revoked her:
    the revoke's new key is sealed to her too, and verify names the deleted file."""
    deleted = _access_file(practice, "bea")
    deleted.unlink()
    with practice.vault("alex") as vault:
        assert [p.why for p in verify(vault) if p.path == deleted] == [
            "a key or index file the audit log recorded is missing (deleted?)"
        ]
    _revoke(practice, "alex", "dan")
    note = practice.seal("alex", "after Dan left")
    assert note in practice.readable("bea", "alex") & practice.readable("carol", "alex")
    assert note not in practice.readable("dan", "alex")


def test_a_colleague_who_deletes_her_access_file_is_revoked_all_the_same_and_never_a_holder_again(
    practice: Practice,
) -> None:
    """Carol's machine deletes her own access file (she keeps a copy) just before Alex
    revokes her. As the ledger counts her, she still holds the key: the revoke goes ahead
    (refused as "holds no key", she would be sealed the next key by the next rotation) and
    records her file removed; then neither her copy put back nor the next rotation (Bea
    revokes Dan) makes her a holder again, and no note sealed after opens for her."""
    deleted = _access_file(practice, "carol")
    kept = deleted.read_bytes()
    deleted.unlink()
    _revoke(practice, "alex", "carol")
    with practice.vault("alex") as vault:
        assert practice.ids["carol"] not in vault.keyring.granted(practice.client)
        assert verify(vault) == []  # recorded removed: neither missing nor hers any more
    deleted.write_bytes(kept)  # put back from her copy
    with practice.vault("alex") as vault:
        assert practice.ids["carol"] not in vault.keyring.granted(practice.client)
        assert [p.why for p in verify(vault) if p.path == deleted] == [
            "is back, though the audit log recorded it deleted (put back?)"
        ]
    _revoke(practice, "bea", "dan")
    with practice.vault("alex") as vault:
        assert vault.keyring.granted(practice.client) == {practice.ids["alex"], practice.ids["bea"]}
    note = practice.seal("alex", "after Carol and Dan left")
    assert note in practice.readable("bea", "alex")
    assert note not in practice.readable("carol", "alex") | practice.readable("dan", "alex")
