"""Who can read a client: grant a colleague the client's key, or revoke it by rotation.

A grant seals every generation of the client's private key the granter holds to the
colleague's pinned encryption key (``access/<pid>.<gid>.<did>.sealed``). Revoking cannot
take back what was already readable: the colleague may have kept the keys or copies of
the notes. It makes a new key pair that every later revision is sealed to, gives it to
everyone else who holds access, and then deletes the colleague's sealed keys. A revoke
made on another machine at once is a second new generation: both are kept and readable,
and the next seal merges them (vault/store/client_keys.py). Order matters: the new key
is published only after every remaining holder has it, so a crash can never leave a
note sealed to a key nobody holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import VaultError
from ..format import key_generations
from ..format.keys import Practitioner
from ..store import ledger
from ..store.client_keys import oldest_first, remove
from ..store.colleagues import Colleague
from ..store.vault import Vault


class AlreadyGranted(VaultError):
    template = "{} can already read client {}; nothing was changed"


class NotCurrent(VaultError):
    template = (
        "you do not hold the newest key of client {} (it was replaced while you had no access): "
        "ask a colleague who does to grant you access again"
    )


class OwnerKeepsAccess(VaultError):
    template = (
        "{} added client {} and keeps access to it; nothing was changed (a key that shut them out "
        "would not be used on any machine)"
    )


class NotGranted(VaultError):
    template = "{} holds no key for client {}; nothing was changed"


@dataclass(frozen=True)
class Revoked:
    notes_before: int  # notes the colleague could read until now (and may have copied)
    kept: list[str]  # practitioners who hold the new key
    left_out: list[str]  # holders whose key this device does not know: they must be granted again
    unvouched: list[str] = field(default_factory=list)  # "holders" by a file the audit log never vouched for


def grant(vault: Vault, practitioner: Practitioner, client_id: str, colleague: Colleague) -> None:
    """Seal every key of the client this practitioner holds to the colleague, named for
    the current generation (which they must hold: sealing an older set would give the
    colleague keys that are not current)."""
    gid = vault.keyring.settle(client_id)
    keys = vault.keyring.held(practitioner, client_id)
    if gid not in keys:
        raise NotCurrent(client_id)
    to = colleague.practitioner_id
    if any(pid == to and g == gid for pid, g, _ in vault.keyring.access_files(client_id)):
        raise AlreadyGranted(colleague.name, client_id)
    path = vault.keyring.seal_access(client_id, oldest_first(keys), to, vault.trust.box_key(colleague), gid)
    vault.audit.append(
        "access-grant",
        client=client_id,
        to=to,
        by=practitioner.practitioner_id,
        files=ledger.files(vault.root, path),
    )


def revoke(vault: Vault, practitioner: Practitioner, client_id: str, colleague: Colleague) -> Revoked:
    """A new generation that replaces every one this machine knows (so also one another
    machine made at once), for every holder but the colleague and whoever another revoke
    shut out; then the colleague's (and their) access files go."""
    keyring = vault.keyring
    # by the ledger too: a colleague whose file was deleted still holds the key (see
    # `Keyring.entitled`), and would be sealed the next one if she could not be revoked
    if colleague.practitioner_id not in keyring.access_holders(client_id) | keyring.granted(client_id):
        raise NotGranted(colleague.name, client_id)
    if colleague.practitioner_id == keyring.owner(client_id):
        raise OwnerKeepsAccess(colleague.name, client_id)
    found, _ = keyring.generations(client_id)
    held = keyring.held(practitioner, client_id)
    if not set(key_generations.tips(found)) & set(held):
        raise NotCurrent(client_id)
    rotation = keyring.rotation(client_id, colleague.practitioner_id, practitioner.practitioner_id)
    rotated = keyring.rotate(client_id, rotation, held)
    # A revoke cut short after publishing its key leaves the kept holders' files of that
    # generation unrecorded: they hold keys these holders are given again now, so record them.
    recorded = ledger.expected(vault.audit.entries())
    mine = f".{vault.device.device_id}.sealed"
    stale = [
        path
        for pid, _, path in keyring.access_files(client_id)
        if pid in rotation.sealed_to
        and path.name.endswith(mine)
        and path not in rotated.access
        and str(path.relative_to(vault.root)) not in recorded
    ]
    # The entry before the deletions: a run cut short between them is run again (the
    # colleague still holds a file), never left with a deletion the log does not know of.
    vault.audit.append(
        "access-revoke",
        client=client_id,
        of=colleague.practitioner_id,
        by=practitioner.practitioner_id,
        key_file=str(rotated.key_file.relative_to(vault.root)),
        sha256=ledger.digest(rotated.key_file),
        files=ledger.files(vault.root, *rotated.access, *sorted(stale)),
        removed=[str(p.relative_to(vault.root)) for p in rotated.removed],
        shut_out=sorted(rotation.shut_out - {colleague.practitioner_id}),
    )
    remove(rotated.removed)
    kept = sorted(rotation.sealed_to)
    return Revoked(len(vault.note_ids(client_id)), kept, rotation.left_out, rotation.unvouched)
