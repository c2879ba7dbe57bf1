# ruff: noqa: F811  (`machines` is the fixture imported from helpers.group_purge)
"""What a retired device writes about who holds a client's key is judged by its audit log
(issue 28), as its notes are (tests/attacks/test_retired_authority.py): the laptop is stolen, the
desk retires it, and the thief, with the laptop's device key, its copy of the vault and
the passphrase, sets its clock back and makes a key generation (whose private half it
keeps), grants a client to a colleague, or adds a colleague of its own. Two machines,
merged as a sync engine merges them. None of it is ever sealed to or believed on the
desk, and `verify` names each file with the laptop and its practitioner."""

from __future__ import annotations

import pytest
from conftest import CHEAP_KDF, PASSPHRASE
from helpers.group_purge import machines  # noqa: F401
from helpers.stolen_laptop import file_as_syncd as _file
from helpers.stolen_laptop import stolen as _stolen
from helpers.stolen_laptop import texts as _texts
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from vault import Passphrase, Vault, verify
from vault.errors import KeyNotUsable
from vault.format.encoding import new_id
from vault.format.keys import Practitioner
from vault.sharing import access
from vault.store import colleagues as team
from vault.store import recovery
from vault.store.practice import register_device

AFTER = "Session after the laptop was lost."


def _identity() -> team.Identity:
    """A colleague's identity, from another practice (fictional)."""
    return team.identity_of(Practitioner(new_id(), PrivateKey.generate(), SigningKey.generate()))


def _named(vault: Vault, path, device: Vault) -> str:
    """What verify says of ``path``; it names the device and its practitioner."""
    [why] = [p.why for p in verify(vault) if p.path == path]
    assert device.device.device_id in why and device.device.practitioner_id in why, why
    return why


def test_a_key_generation_the_stolen_laptop_makes_after_its_retire_is_never_sealed_to(machines) -> None:
    """The thief renews the client's key on the laptop (clock set back): a generation
    sealed to the practitioner, whose private half the thief keeps. On the desk no note is
    sealed to it (sealing stops, naming the file, until it is removed); verify names it."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    gid = laptop.keyring.merge(client_id, "key-renew")
    stolen_key = laptop.keyring.held(laptop.unlock(Passphrase(PASSPHRASE)), client_id)[gid]
    sync()
    clock.set("2019-02-02T09:00:00")

    key_file = desk.client_dir(client_id) / "keys" / f"{gid}.json"
    assert desk.keyring.current(client_id) != gid
    with pytest.raises(KeyNotUsable) as refused:
        desk.keyring.sealing_key(client_id)
    assert key_file.name in str(refused.value)
    assert "retired" in _named(desk, key_file, laptop)

    key_file.unlink()  # as verify says: the desk seals to its own key again
    _file(desk, "AB-1", "2019-02-02", AFTER)
    assert desk.keyring.sealing_key(client_id) != stolen_key.public_key
    assert any(AFTER in t for t in _texts(desk, client_id))


def test_a_grant_the_stolen_laptop_records_after_its_retire_gives_no_key(machines) -> None:
    """Bea is a colleague of the practice who never held the client. The thief grants it
    to her from the laptop, recorded in the laptop's own signed log: the desk's next key
    generation is not sealed to her, and verify names the grant."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    bea = _identity()
    desk.trust.add_colleague(desk.unlock(Passphrase(PASSPHRASE)), "Bea", bea)
    sync()
    access.grant(laptop, laptop.unlock(Passphrase(PASSPHRASE)), client_id, laptop.trust.colleague("Bea"))
    [grant] = [p for pid, _, p in laptop.keyring.access_files(client_id) if pid == bea.practitioner_id]
    sync()
    clock.set("2019-02-02T09:00:00")

    held, _ = desk.keyring.entitled(client_id)
    assert not any(bea.practitioner_id in holders for holders in held.values())
    gid = desk.keyring.merge(client_id, "key-renew")  # the desk's next renewal or revoke
    assert not any(
        pid == bea.practitioner_id and of == gid for pid, of, _ in desk.keyring.access_files(client_id)
    )
    assert "grant" in _named(desk, desk.root / grant.relative_to(laptop.root), laptop)


def _names(vault: Vault) -> set[str]:
    return {c.name for c in vault.trust.colleagues()}


def test_a_colleague_the_stolen_laptop_adds_after_its_retire_is_not_believed(machines) -> None:
    """The thief adds "Mallory" (its own identity) as a colleague from the laptop, signed
    with the practitioner's key and recorded in the laptop's log beyond its retire: the desk
    does not list her, grants nothing to her by name, and verify names the record. Bea,
    added from the laptop before it was lost, and Carol, added at the desk since, stand."""
    desk, laptop, sync, clock = machines
    laptop.trust.add_colleague(laptop.unlock(Passphrase(PASSPHRASE)), "Bea", _identity())
    sync()
    clock.set("2019-02-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    desk.trust.add_colleague(desk.unlock(Passphrase(PASSPHRASE)), "Carol", _identity())
    clock.set("2019-01-15T09:00:00")  # the thief's clock
    mallory = _identity()
    laptop.trust.add_colleague(laptop.unlock(Passphrase(PASSPHRASE)), "Mallory", mallory)
    sync()
    clock.set("2019-02-02T09:00:00")

    assert _names(desk) == {"Bea", "Carol"}
    with pytest.raises(team.UnknownPractitioner):
        desk.trust.colleague("Mallory")
    record = desk.root / "colleagues" / f"{mallory.practitioner_id}-{desk.device.practitioner_id}.json"
    assert "retired" in _named(desk, record, laptop)


def test_a_member_the_stolen_laptop_adds_registers_no_device_of_the_practice(machines, tmp_path) -> None:
    """The thief joins the practice as "Mallory" on the laptop, adds her as a colleague of
    the same practice with the practitioner's passphrase (she would then vouch for machines
    of her own), and registers a device of hers. On the desk neither she signs for anything
    nor her device counts as one of the practice's: verify names both."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    thief_pass = Passphrase("fictional thief passphrase, long enough")
    mallory, _ = team.join_practice(laptop.root, thief_pass, CHEAP_KDF)
    laptop.trust.add_colleague(laptop.unlock(Passphrase(PASSPHRASE)), "Mallory", mallory)
    hers = register_device(laptop.root, tmp_path / "mallory-config", thief_pass, clock)
    her_device = hers.device.device_id
    hers.close()
    sync()
    clock.set("2019-02-02T09:00:00")

    assert mallory.practitioner_id not in desk.trust.trusted_signers()
    assert her_device not in desk.trust.device_keys() and desk.trust.registrant(her_device) is None
    why = {p.path.name: p.why for p in verify(desk)}
    assert mallory.practitioner_id in why[f"{her_device}.json"]
    assert laptop.device.device_id in why[f"{mallory.practitioner_id}-{desk.device.practitioner_id}.json"]


def test_a_passphrase_change_on_the_stolen_laptop_after_its_retire_gives_the_practitioner_no_new_key(
    machines,
) -> None:
    """The thief changes the passphrase on the laptop, clock set back: a key record with an
    encryption key of its choosing, recorded in the laptop's log beyond its retire. The
    desk never pins it (colleagues would seal keys to it), and verify names the record."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    pinned = dict(desk.device.trusted_box)
    laptop.change_passphrase(Passphrase(PASSPHRASE), Passphrase("fictional thief passphrase, long enough"))
    sync()
    clock.set("2019-02-02T09:00:00")

    pid = desk.device.practitioner_id
    assert desk.trust.renewed_box_key(pid) is None
    problems = verify(desk)  # which adopts a renewal the ledger vouches for, first
    assert desk.device.trusted_box == pinned
    [why] = [p.why for p in problems if p.path == desk.practitioner_file]
    assert laptop.device.device_id in why and pid in why and "retired" in why, why


def test_a_recovery_set_the_stolen_laptop_makes_after_its_retire_is_not_given_the_renewed_key(
    machines,
) -> None:
    """The thief makes a recovery set on the laptop (its shares in the thief's hands). The
    practitioner then changes the passphrase at the desk, as one does after a loss: the new
    key is not sealed to the thief's set, the command says the set must be made again, and
    verify names it with the laptop."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    recovery.create(laptop, laptop.unlock(Passphrase(PASSPHRASE)), 3, 2)
    sync()
    clock.set("2019-02-02T09:00:00")

    path = recovery.recovery_file(desk)
    planted = path.read_bytes()
    renewal = desk.change_passphrase(Passphrase(PASSPHRASE), Passphrase("a new fictional passphrase, long"))
    assert renewal.recovery_renewed is False and path.read_bytes() == planted
    assert "retired" in _named(desk, path, laptop)


def test_a_client_the_stolen_laptop_adds_after_its_retire_is_never_sealed_to(machines) -> None:
    """The thief adds a client on the laptop (its key made there, known to the thief), with
    the clock set back. The desk seals nothing to it and verify names its client.json with
    the laptop; the client the laptop added before it was lost is written as ever."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    planted = laptop.add_client("ZZ-9", "Fictional Planted Client", None)
    sync()
    clock.set("2019-02-02T09:00:00")

    with pytest.raises(KeyNotUsable):
        desk.keyring.sealing_key(planted)
    assert "retired" in _named(desk, desk.client_dir(planted) / "client.json", laptop)
    _file(desk, "AB-1", "2019-02-02", AFTER)
    assert any(AFTER in t for t in _texts(desk, client_id))


def test_a_client_the_laptop_added_before_its_retire_is_written_as_ever(machines) -> None:
    """The honest way round: the laptop added the client and synced; it is retired later
    (an old machine replaced). The desk seals the client's notes as before, verify is clean."""
    desk, laptop, sync, clock = machines
    client_id = laptop.add_client("AB-2", "Fictional Client", None)
    sync()
    clock.set("2019-02-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    _file(desk, "AB-2", "2019-02-01", AFTER)
    assert any(AFTER in t for t in _texts(desk, client_id))
    assert verify(desk) == []
