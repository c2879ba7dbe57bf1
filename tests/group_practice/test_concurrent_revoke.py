"""Two machines of a group practice rotate one client's key while apart (issue 16, items 3
and 4). Each machine is a copy of one vault folder, worked on by its own practitioner's
device, then merged file by file as a sync engine would: a file changed on one side only
is carried over (a deletion too); a file both sides changed is a conflict, which must not
happen. Afterwards every note opens for exactly who may read it, `verify` is clean on
both sides, and both agree on the key the next note is sealed to."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.four_practitioners import PASSPHRASES, Practice, _revoke, sync
from helpers.four_practitioners import practice as practice  # a fixture
from nacl.public import PrivateKey, SealedBox

from vault import Passphrase, verify
from vault.errors import KeyNotUsable
from vault.format import key_generations
from vault.format.constants import CLIENT_KEY_FORMAT
from vault.format.encoding import new_id, stamp
from vault.sharing import access
from vault.store import ledger
from vault.store.clients import _public_key_record
from vault.store.practice import register_device


def test_two_revokes_of_one_client_at_once_keep_both_keys_and_the_next_seal_shuts_both_out(
    practice: Practice,
) -> None:
    before = practice.seal("alex", "before")
    base = practice.apart()
    _revoke(practice, "alex", "carol")  # on Alex's machine...
    _revoke(practice, "bea", "dan")  # ...and on Bea's, at the same time
    alex_apart = practice.seal("alex", "sealed by Alex while apart")
    bea_apart = practice.seal("bea", "sealed by Bea while apart")
    base = sync(base, practice.machines["alex"], practice.machines["bea"])

    keys = sorted(
        p.name for p in (practice.machines["alex"] / "clients" / practice.client / "keys").iterdir()
    )
    assert len(keys) == 2 and all(name.startswith("000002-") for name in keys)  # both kept
    everything = {before, alex_apart, bea_apart}
    for machine in ("alex", "bea"):
        for who in ("alex", "bea"):
            assert practice.readable(who, machine) == everything  # nothing lost to the other key
        assert practice.vault("alex", machine).keyring.current(practice.client) is None  # a merge is due

    after = practice.seal("alex", "the first note after both revokes met")  # merges
    base = sync(base, practice.machines["alex"], practice.machines["bea"])
    later = practice.seal("bea", "Bea's next note")  # seals to the merge: no second one
    base = sync(base, practice.machines["alex"], practice.machines["bea"])
    assert len(list((practice.machines["bea"] / "clients" / practice.client / "keys").iterdir())) == 3

    for machine in ("alex", "bea"):
        for who in ("alex", "bea"):
            assert practice.readable(who, machine) == everything | {after, later}
        # Each revoke holds on the other line too: neither keeps a key in the vault.
        assert practice.readable("carol", machine) == practice.readable("dan", machine) == set()
        practice.clean(machine)


def test_two_revokes_of_the_same_colleague_at_once_leave_cat_client_list_and_verify_working(
    practice: Practice,
) -> None:
    """The case of the issue: both machines wrote keys/000002.json and deleted each other's
    access files; cat and client list failed on both, and notes sealed to the lost key were
    gone."""
    before = practice.seal("alex", "before")
    base = practice.apart()
    _revoke(practice, "alex", "carol")
    _revoke(practice, "bea", "carol")
    notes = {before, practice.seal("alex", "Alex, apart"), practice.seal("bea", "Bea, apart")}
    sync(base, practice.machines["alex"], practice.machines["bea"])

    currents = {practice.vault("alex", m).keyring.current(practice.client) for m in ("alex", "bea")}
    assert len(currents) == 1 and None not in currents  # both kept Alex, Bea, Dan: no merge needed
    for machine in ("alex", "bea"):
        for who in ("alex", "bea", "dan"):
            assert practice.readable(who, machine) == notes
            vault, practitioner = practice.unlock(who, machine)
            assert [p.client_id for p in vault.profiles(practitioner)] == [practice.client]  # client list
        assert practice.readable("carol", machine) == set()
        practice.clean(machine)


def test_both_machines_merge_at_once_and_then_agree_on_one_key(practice: Practice) -> None:
    base = practice.apart()
    _revoke(practice, "alex", "carol")
    _revoke(practice, "bea", "dan")
    base = sync(base, practice.machines["alex"], practice.machines["bea"])
    notes = {practice.seal("alex", "Alex merges"), practice.seal("bea", "Bea merges too, apart")}
    base = sync(base, practice.machines["alex"], practice.machines["bea"])
    currents = {practice.vault("alex", m).keyring.current(practice.client) for m in ("alex", "bea")}
    assert len(currents) == 1 and None not in currents
    notes |= {practice.seal("alex", "one more"), practice.seal("bea", "and one more")}
    sync(base, practice.machines["alex"], practice.machines["bea"])
    assert len(list((practice.machines["alex"] / "clients" / practice.client / "keys").iterdir())) == 4
    for machine in ("alex", "bea"):
        assert practice.readable("bea", machine) == notes
        assert practice.readable("carol", machine) == practice.readable("dan", machine) == set()
        practice.clean(machine)


def test_a_grant_made_while_another_machine_revoked_is_made_again_and_then_holds(
    practice: Practice,
) -> None:
    """Documented in docs/sharing.md: a revoke rotates to a key sealed to the holders its
    machine knew, so a grant made apart is not in it; granting again is allowed and works."""
    vault, alex = practice.unlock("alex")
    access.revoke(vault, alex, practice.client, vault.trust.colleague("Carol"))
    base = practice.apart()
    vault, alex = practice.unlock("alex", "alex")
    access.grant(vault, alex, practice.client, vault.trust.colleague("Carol"))  # Alex grants Carol again...
    _revoke(practice, "bea", "dan")  # ...while Bea revokes Dan
    base = sync(base, practice.machines["alex"], practice.machines["bea"])
    missed = practice.seal("bea", "after the revoke")
    assert missed not in practice.readable("carol", "bea")
    vault, alex = practice.unlock("alex", "alex")
    access.grant(vault, alex, practice.client, vault.trust.colleague("Carol"))
    sync(base, practice.machines["alex"], practice.machines["bea"])
    assert missed in practice.readable("carol", "bea")  # a grant gives every key Alex holds
    assert missed not in practice.readable("dan", "bea")
    practice.clean("alex")
    practice.clean("bea")


def test_a_seal_never_uses_the_old_key_while_a_newer_one_cannot_be_checked_yet(
    practice: Practice, tmp_path: Path
) -> None:
    """Alex revokes Carol on a laptop registered while the machines were apart. Its key
    file reaches Bea's machine before its registration: Bea's syncd must not go on sealing
    to the key the revoke replaced."""
    base = practice.apart()
    laptop = tmp_path / "alex-laptop-config"
    vault = register_device(practice.machines["alex"], laptop, Passphrase(PASSPHRASES["alex"]))
    alex = vault.unlock(Passphrase(PASSPHRASES["alex"]))
    access.revoke(vault, alex, practice.client, vault.trust.colleague("Carol"))
    vault.close()
    [key_file] = (practice.machines["alex"] / "clients" / practice.client / "keys").iterdir()
    arriving = practice.machines["bea"] / key_file.relative_to(practice.machines["alex"])
    arriving.parent.mkdir()
    arriving.write_bytes(key_file.read_bytes())  # the engine brought this file first

    syncd = practice.vault("bea")  # a running syncd's long-lived view
    with pytest.raises(KeyNotUsable, match="cannot be checked yet"):
        syncd.seal(practice.client, new_id(), b"a note Carol must not read")
    assert not list(syncd.note_ids(practice.client))

    sync(base, practice.machines["alex"], practice.machines["bea"])  # the registration arrives
    note = new_id()
    syncd.seal(practice.client, note, b"sealed once the revoke is here")
    syncd.close()
    assert note not in practice.readable("carol", "bea")
    assert note in practice.readable("alex", "bea")


def test_an_older_vaults_generation_is_read_and_the_next_revoke_names_its_own_by_device(
    practice: Practice,
) -> None:
    """A vault written before this: keys/000002.json and <pid>.000002.sealed, read as they
    are (a note sealed to them opens); the next revoke adds keys/000003-<did>.json after it."""
    vault, alex = practice.unlock("alex")
    client_dir = vault.client_dir(practice.client)
    first = vault.keyring.client_keys(alex, practice.client)
    second = PrivateKey.generate()
    record = _public_key_record(
        CLIENT_KEY_FORMAT,
        practice.client,
        second.public_key,
        vault.device,
        stamp(vault.clock()),
        generation=2,
    )
    (client_dir / "keys").mkdir()
    (client_dir / "keys" / "000002.json").write_bytes(record)
    written = []
    for who in ("alex", "bea"):  # the older revoke kept Alex and Bea, and removed Carol and Dan
        path = client_dir / "access" / f"{practice.ids[who]}.000002.sealed"
        box = alex.box_key.public_key if who == "alex" else vault.trust.colleague("Bea").identity.box_public
        path.write_bytes(SealedBox(box).encrypt(bytes(first[0]) + bytes(second)))
        written.append(path)
    removed = [p for p in (client_dir / "access").iterdir() if p.name.startswith(practice.ids["carol"])]
    removed += [p for p in (client_dir / "access").iterdir() if p.name.startswith(practice.ids["dan"])]
    vault.audit.append(
        "access-revoke",
        client=practice.client,
        key_file=str((client_dir / "keys" / "000002.json").relative_to(vault.root)),
        sha256=ledger.digest(client_dir / "keys" / "000002.json"),
        files=ledger.files(vault.root, *written),
        removed=[str(p.relative_to(vault.root)) for p in removed],
    )
    for path in removed:
        path.unlink()
    vault.close()

    assert practice.vault("alex").keyring.current(practice.client) == "000002"
    older = practice.seal("alex", "sealed to the older vault's second key")
    vault, alex = practice.unlock("alex")
    assert len(vault.keyring.client_keys(alex, practice.client)) == 2
    access.revoke(vault, alex, practice.client, vault.trust.colleague("Bea"))
    vault.close()
    newest = practice.vault("alex").keyring.current(practice.client)
    assert newest == key_generations.new_gid(3, practice.vault("alex").device.device_id)
    newer = practice.seal("alex", "sealed to the third")
    assert practice.readable("alex", "alex") == {older, newer}
    assert practice.readable("bea", "alex") == practice.readable("carol", "alex") == set()
    with practice.vault("alex") as vault:
        assert [str(p) for p in verify(vault)] == []
