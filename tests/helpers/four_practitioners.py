"""One vault with four practitioners (Alex, Bea, Carol, Dan), copied to two machines
that work apart and are then merged file by file as a sync engine would; a machine of
one of them with its clock set ahead."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CHEAP_KDF

from casenotes.config import Practice as PracticeFolders
from vault import Passphrase, Vault, verify
from vault.errors import NoAccess, TamperedFile
from vault.format.encoding import new_id
from vault.format.keys import Practitioner
from vault.sharing import access
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


LATER = dt.timedelta(minutes=5)  # after the revoke, by the writer's own clock


def _machine(practice: Practice, who: str, ahead: dt.timedelta = LATER) -> Vault:
    """``who``'s registered machine, its clock ``ahead`` of now."""
    return Vault(practice.root, practice.configs[who], clock=lambda: dt.datetime.now(dt.UTC) + ahead)
