"""Two machines of a group practice rotate one client's key while apart (issue 16, items 3
and 4). Each machine is a copy of one vault folder, worked on by its own practitioner's
device, then merged file by file as a sync engine would: a file changed on one side only
is carried over (a deletion too); a file both sides changed is a conflict, which must not
happen. Afterwards every note opens for exactly who may read it, `verify` is clean on
both sides, and both agree on the key the next note is sealed to."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CHEAP_KDF
from nacl.public import PrivateKey, SealedBox

from casenotes.config import Practice as PracticeFolders
from vault import Passphrase, Vault, verify
from vault.errors import KeyNotUsable, NoAccess, TamperedFile
from vault.format import key_generations
from vault.format.constants import CLIENT_KEY_FORMAT
from vault.format.encoding import new_id, stamp
from vault.format.keys import Practitioner
from vault.sharing import access
from vault.store import ledger
from vault.store.clients import _public_key_record
from vault.store.colleagues import identity_of, join_practice
from vault.store.practice import create_practice, register_device

PASSPHRASES = {
    "alex": "fictional alpha passphrase",
    "bea": "fictional bravo passphrase",
    "carol": "fictional charlie passphrase",
    "dan": "fictional delta passphrase",
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def sync(base: dict[str, bytes], a: Path, b: Path) -> dict[str, bytes]:
    """Carry each side's changes since ``base`` to the other; returns the new common state."""
    seen_a, seen_b = snapshot(a), snapshot(b)
    for relative in set(seen_a) | set(seen_b) | set(base):
        mine, theirs, before = seen_a.get(relative), seen_b.get(relative), base.get(relative)
        if mine == theirs:
            continue
        assert before in (mine, theirs), (
            f"both machines wrote {relative}: a sync engine makes a conflict copy"
        )
        source, target, content = (a, b, mine) if theirs == before else (b, a, theirs)
        path = target / relative
        if content is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    assert snapshot(a) == snapshot(b)
    return snapshot(a)


@dataclass
class Practice:
    """One vault, four practitioners with a device each; Alex owns AB-1 and has granted it
    to the other three. ``apart()`` copies the vault to Alex's and Bea's machines."""

    root: Path
    configs: dict[str, Path]
    client: str
    ids: dict[str, str]
    machines: dict[str, Path]

    def vault(self, who: str, machine: str | None = None) -> Vault:
        """``who``'s view on a machine (their own by default; the one vault until apart)."""
        root = self.machines.get(machine or who)
        return Vault(root if root is not None and root.exists() else self.root, self.configs[who])

    def unlock(self, who: str, machine: str | None = None) -> tuple[Vault, Practitioner]:
        vault = self.vault(who, machine)
        return vault, vault.unlock(Passphrase(PASSPHRASES[who]))

    def apart(self) -> dict[str, bytes]:
        for who in ("alex", "bea"):
            shutil.copytree(self.root, self.machines[who])
        return snapshot(self.root)

    def seal(self, who: str, text: str) -> str:
        note = new_id()
        with self.vault(who) as vault:
            vault.seal(self.client, note, text.encode())
        return note

    def readable(self, who: str, machine: str) -> set[str]:
        """The notes ``who`` can open on that machine (read in a copy of it: reading is
        audited, and a machine's copy must not gain entries in another device's log)."""
        copy = self.root.parent / f"reading-{new_id()}"
        source = self.machines[machine]
        shutil.copytree(source if source.exists() else self.root, copy)
        vault = Vault(copy, self.configs[who])
        practitioner = vault.unlock(Passphrase(PASSPHRASES[who]))
        try:
            keys = vault.keyring.client_keys(practitioner, self.client)
        except NoAccess:
            return set()
        opened = set()
        for note in vault.note_ids(self.client):
            try:
                vault.open_revision(vault.revisions(self.client, note)[-1][2], keys)
                opened.add(note)
            except TamperedFile:
                pass
        return opened

    def clean(self, machine: str) -> None:
        who = machine
        with self.vault(who) as vault:
            assert [f"{p.path}: {p.why}" for p in verify(vault)] == []
            assert vault.audit.verify(vault.trust.device_keys()) == []


@pytest.fixture
def practice(tmp_path: Path) -> Practice:
    return four_practitioners(tmp_path)


def four_practitioners(tmp_path: Path) -> Practice:
    """Alex's practice with Bea, Carol and Dan joined, each with a device, AB-1 granted to all."""
    root = tmp_path / "vault"
    configs = {name: tmp_path / f"{name}-config" for name in PASSPHRASES}
    alex_vault = create_practice(root, configs["alex"], Passphrase(PASSPHRASES["alex"]), CHEAP_KDF)
    alex = alex_vault.unlock(Passphrase(PASSPHRASES["alex"]))
    client = alex_vault.add_client("AB-1")
    ids, identities = {"alex": alex.practitioner_id}, {"alex": identity_of(alex)}
    others = [n for n in PASSPHRASES if n != "alex"]
    for name in others:
        identities[name], _ = join_practice(root, Passphrase(PASSPHRASES[name]), CHEAP_KDF)
        alex_vault.trust.add_colleague(alex, name.title(), identities[name])
        ids[name] = identities[name].practitioner_id
    for name in others:
        own = register_device(root, configs[name], Passphrase(PASSPHRASES[name]))
        me = own.unlock(Passphrase(PASSPHRASES[name]))
        for other in PASSPHRASES:
            if other != name:
                own.trust.add_colleague(me, other.title(), identities[other])
        own.close()
    for name in others:
        access.grant(alex_vault, alex, client, alex_vault.trust.colleague(name.title()))
    alex_vault.close()
    machines = {"alex": tmp_path / "alex-machine", "bea": tmp_path / "bea-machine"}
    return Practice(root, configs, client, ids, machines)


def merge_due_on_alex(tmp_path: Path, practice: PracticeFolders) -> Practice:
    """Alex's machine, laid out as the practice PRACTICE (vault, inbox, his config), after two
    revokes of AB-1 made apart met (his of Carol, Bea's of Dan): the next note of AB-1
    sealed there merges the two keys first (issue 31 item 10)."""
    group = four_practitioners(tmp_path)
    group.seal("alex", "before")
    base = group.apart()
    _revoke(group, "alex", "carol")
    _revoke(group, "bea", "dan")
    sync(base, group.machines["alex"], group.machines["bea"])
    shutil.copytree(group.machines["alex"], practice.vault_dir)
    if practice.config_dir != group.configs["alex"]:
        shutil.copytree(group.configs["alex"], practice.config_dir)
        group.configs["alex"] = practice.config_dir
    practice.create_layout()
    group.machines["alex"] = practice.vault_dir  # what Alex's machine holds from now on
    return group


def _revoke(practice: Practice, who: str, whom: str) -> None:
    vault, practitioner = practice.unlock(who)
    access.revoke(vault, practitioner, practice.client, vault.trust.colleague(whom.title()))
    vault.close()


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
