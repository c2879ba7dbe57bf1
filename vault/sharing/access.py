"""Who can read a client: grant a colleague the client's key, or revoke it by rotation.

A grant seals every generation of the client's private key to the colleague's pinned
encryption key (``access/<pid>[.<gen>].sealed``). Revoking cannot take back what was
already readable: the colleague may have kept the keys or copies of the notes. It makes
a new key pair that every later revision is sealed to, gives it to everyone else who
holds access, and then deletes the colleague's sealed keys. Order matters: the new key
is published only after every remaining holder has it, so a crash can never leave a
note sealed to a key nobody holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from nacl.public import PrivateKey, PublicKey

from .. import durable
from ..errors import VaultError
from ..format.keys import Practitioner
from ..store import audit, ledger
from ..store.colleagues import Colleague
from ..store.vault import Vault


class AlreadyGranted(VaultError):
    template = "{} can already read client {}; nothing was changed"


class NotCurrent(VaultError):
    template = (
        "you do not hold the newest key of client {} (it was replaced while you had no access): "
        "ask a colleague who does to grant you access again"
    )


class NotGranted(VaultError):
    template = "{} holds no key for client {}; nothing was changed"


@dataclass(frozen=True)
class Revoked:
    notes_before: int  # notes the colleague could read until now (and may have copied)
    kept: list[str]  # practitioners who hold the new key
    left_out: list[str]  # holders whose key this device does not know: they must be granted again
    unvouched: list[str] = field(default_factory=list)  # "holders" by a file the audit log never vouched for


def _all_keys(vault: Vault, practitioner: Practitioner, client_id: str) -> list[PrivateKey]:
    """Every generation of the client's key, newest first; refused unless this practitioner
    holds the newest (sealing an older set would give others a key that is not current)."""
    keys = vault.keyring.client_keys(practitioner, client_id)
    if len(keys) != len(vault.keyring.client_generations(client_id)):
        raise NotCurrent(client_id)
    return keys


def grant(vault: Vault, practitioner: Practitioner, client_id: str, colleague: Colleague) -> None:
    keys = _all_keys(vault, practitioner, client_id)
    if vault.keyring.access_file(colleague.practitioner_id, client_id, len(keys)).exists():
        raise AlreadyGranted(colleague.name, client_id)
    to = colleague.practitioner_id
    path = vault.keyring.seal_access(client_id, keys, to, colleague.identity.box_public)
    vault.audit.append(
        "access-grant",
        client=client_id,
        to=to,
        by=practitioner.practitioner_id,
        files=ledger.files(vault.root, path),
    )


def revoke(vault: Vault, practitioner: Practitioner, client_id: str, colleague: Colleague) -> Revoked:
    holders = vault.keyring.access_holders(client_id)
    if colleague.practitioner_id not in holders:
        raise NotGranted(colleague.name, client_id)
    keys = [PrivateKey.generate(), *_all_keys(vault, practitioner, client_id)]
    known: dict[str, PublicKey] = {practitioner.practitioner_id: practitioner.box_key.public_key}
    known |= {c.practitioner_id: c.identity.box_public for c in vault.trust.colleagues()}
    vouched = _vouched_holders(vault, client_id) | {practitioner.practitioner_id}
    kept, left_out, sealed, unvouched = [], [], [], []
    for holder in sorted(holders - {colleague.practitioner_id}):
        if holder not in vouched:
            unvouched.append(holder)  # a planted or put-back file must not earn the new key
        elif holder in known:
            # replace, not write-once: a revoke cut short may have left this very file, for a
            # key that was never published; the retry's new key supersedes it
            sealed.append(vault.keyring.seal_access(client_id, keys, holder, known[holder], replace=True))
            kept.append(holder)
        else:
            left_out.append(holder)
    key_file = vault.keyring.add_generation(client_id, keys[0])  # from here on, revisions use the new key
    folder = vault.client_dir(client_id) / "access"
    removed = sorted(folder.glob(f"{colleague.practitioner_id}*.sealed"))
    # A revoke cut short after publishing its key leaves the kept holders' files of that
    # generation unrecorded: they hold keys these holders are given again now, so record them.
    recorded = ledger.expected(vault.audit.entries())
    stale = [
        path
        for holder in kept
        for path in folder.glob(f"{holder}*.sealed")
        if path not in sealed and str(path.relative_to(vault.root)) not in recorded
    ]
    # The entry before the deletions: a run cut short between them is run again (the
    # colleague still holds a file), never left with a deletion the log does not know of.
    vault.audit.append(
        "access-revoke",
        client=client_id,
        of=colleague.practitioner_id,
        by=practitioner.practitioner_id,
        key_file=str(key_file.relative_to(vault.root)),
        sha256=hashlib.sha256(key_file.read_bytes()).hexdigest(),
        files=ledger.files(vault.root, *sealed, *sorted(stale)),
        removed=[str(p.relative_to(vault.root)) for p in removed],
    )
    for path in removed:
        path.unlink()
    durable.fsync_dir(folder)
    return Revoked(len(vault.note_ids(client_id)), kept, left_out, unvouched)


def _vouched_holders(vault: Vault, client_id: str) -> set[str]:
    """Holders with at least one access file the signed audit log vouches for (as it is now).

    Only logs of registered devices, checked first: an entry added by whoever can write the
    folder must not vouch for a file they planted. A client from before the ledger has no
    recorded files: each of its holders counts, as before.
    """
    entries = audit.vouching_entries(vault.audit.directory, vault.trust.device_keys())
    folder = vault.client_dir(client_id) / "access"
    return {
        path.name.split(".")[0]
        for path in sorted(folder.glob("*.sealed"))
        if ledger.vouch(vault.root, path, entries) is None
    }
