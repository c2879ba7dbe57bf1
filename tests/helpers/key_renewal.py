"""Steps of the key-renewal tests that the catch-up's attack tests take too."""

from __future__ import annotations

import shutil
from pathlib import Path

import nacl.exceptions
from conftest import PASSPHRASE, Env
from nacl.public import PrivateKey

from helpers.people import ok
from vault import Passphrase
from vault.errors import TamperedFile
from vault.format.keys import unlock_practitioner

NEW = "plum quietly orbit sextant marmalade"
BEFORE, AFTER = "zephyrquill before the change", "marmotlantern after the change"


def seal(practice: Env, note_id: str, text: str, handle: str = "AB-1") -> None:
    with practice.vault() as vault:
        vault.seal(vault.resolve(handle), note_id, f"---\ndate: 2026-01-05\n---\n{text}\n".encode())


def record_of(practice: Env) -> Path:
    return practice.vault().practitioner_file


def keys_an_old_record_opens(
    practice: Env, record: Path, passphrase: Passphrase, handle: str
) -> list[PrivateKey]:
    """Every client key the older record opens, as a thief who skips casenotes' checks
    (edits the device pins, cuts the audit log) would gather them: by hand, file by file."""
    vault = practice.vault()
    old = unlock_practitioner(record, passphrase)
    keys = []
    for _, _, path in vault.keyring.access_files(vault.resolve(handle)):
        try:
            secret = old.open_sealed(path.read_bytes())
        except nacl.exceptions.CryptoError:
            continue
        keys += [PrivateKey(secret[i : i + 32]) for i in range(0, len(secret), 32)]
    return keys


def opens(practice: Env, keys: list[PrivateKey], note_id: str, handle: str = "AB-1") -> bool:
    vault = practice.vault()
    path = vault.revisions(vault.resolve(handle), note_id)[-1][2]
    if not keys:
        return False  # an old record that opens no access file (deleted) opens no note
    try:
        return bool(vault.open_revision(path, keys))
    except TamperedFile:
        return False


def sync_new_files(source: Path, into: Path, device: str) -> None:
    """What a sync engine carries once two machines meet: every file the other side lacks,
    and the other machine's own log and checkpoint (written by it, DEVICE, alone)."""
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        target = into / path.relative_to(source)
        if not target.exists() or path.parent.name == "audit" and path.stem == device:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != path.read_bytes():
                shutil.copyfile(path, target)


def apart_during_a_renewal(practice: Env, tmp_path: Path, *handles: str, meet: bool = True) -> Path:
    """The practitioner's second laptop (its practice in ``tmp_path / "apart"``), apart from
    the first while the passphrase changes there, adds HANDLES (each with a note): their keys
    are sealed to the key the laptop knew, the old one. Then the machines meet, unless not
    ``meet``. Returns the key record from before the change."""
    from casenotes.config import Practice
    from vault.store.practice import register_device

    config = tmp_path / "second-laptop"
    register_device(practice.vault_dir, config, Passphrase(PASSPHRASE)).close()
    apart = tmp_path / "apart"
    shutil.copytree(practice.practice.root, apart, symlinks=True)
    env = {**practice.env, "CASENOTES_HOME": str(apart), "CASENOTES_CONFIG_DIR": str(config)}
    second = Env(Practice(apart, config), env)
    for number, handle in enumerate(handles):
        ok(second, "client", "add", handle)
        seal(second, f"00000000000000b{number}", f"{BEFORE} ({handle})", handle=handle)
    old_copy = tmp_path / "copy-before.json"
    shutil.copyfile(record_of(practice), old_copy)
    assert practice.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    if meet:
        sync_new_files(apart / "vault", practice.vault_dir, second.vault().device.device_id)
    return old_copy


def renewed_since(practice: Env, old_copy: Path, handle: str, note_id: str) -> bool:
    """Whether a note of HANDLE sealed now opens with the current secret and not with the
    key record from before the renewal and the old passphrase (by hand, past every check)."""
    seal(practice, note_id, AFTER, handle=handle)
    keys = keys_an_old_record_opens(practice, old_copy, Passphrase(PASSPHRASE), handle)
    with practice.vault() as vault:
        client = vault.resolve(handle)
        current = vault.keyring.client_keys(vault.unlock(Passphrase(NEW)), client)
        path = vault.revisions(client, note_id)[-1][2]
        assert AFTER.encode() in vault.open_revision(path, current)[1]
    return not opens(practice, keys, note_id, handle=handle)
