"""Recovery: K of N custodians' shares set a new passphrase when the old one is lost.

`create` (with the practitioner unlocked) writes ``practitioners/<pid>.recovery``, a second
wrapped copy of the practitioner's keys under a fresh recovery key, and returns that key
as SLIP-39 shares (vault/format/recovery.py); the shares are shown once and kept nowhere.
Creating again replaces the copy, so the old shares open nothing; in two steps, so that
the practitioner always has a set that works (issue 31 item 3): `stage` writes the new copy
durably beside the one in force (``<pid>.recovery-new``), the caller shows its shares, and
`commit` records it in the audit log and renames it into place. A run cut short before the
entry leaves the old set in force; one cut short after it (the new shares were shown) is
finished by `finish` (the next `status`, `use`, `create`, or syncd's sweep). `use` combines shares,
opens the copy, checks the keys against the key file and this device's pins, and renews
the practitioner key under a new passphrase. Each is an audit entry, and the copy is
recorded in the ledger like every key file, so a deleted or swapped copy is reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import durable
from ..errors import KeyFileInvalid, NoRecovery, RecoveryFailed, TamperedFile, WriteFailed, reason
from ..format import recovery as recovery_format
from ..format.constants import RECOVERY_FORMAT
from ..format.encoding import canonical, stamp
from ..format.keys import Practitioner, checked_practitioner, practitioner_secret, read_record
from ..format.redact import Passphrase
from . import key_renewal, ledger

if TYPE_CHECKING:
    from .vault import Vault


@dataclass(frozen=True)
class RecoveryStatus:
    """What the recovery record says openly: no share, nothing secret."""

    shares: int
    threshold: int
    created: str
    # the time of the last key renewal this set could not follow ("" if none): made by an
    # older casenotes, its shares open only notes sealed before then
    outdated_since: str = ""


def recovery_file(vault: Vault) -> Path:
    return vault.root / "practitioners" / f"{vault.device.practitioner_id}.recovery"


def pending_file(vault: Vault) -> Path:
    return vault.root / "practitioners" / f"{vault.device.practitioner_id}.recovery-new"


def status(vault: Vault) -> RecoveryStatus | None:
    """This practitioner's recovery set, or None if none was made."""
    finish(vault)
    path = recovery_file(vault)
    if not path.exists():
        return None
    record = read_record(path, RECOVERY_FORMAT)
    shares, threshold = recovery_format.counts(record, path)
    created = str(record.get("created", ""))
    if recovery_format.renewable(record):
        return RecoveryStatus(shares, threshold, created)  # each renewal seals its key to it
    # A renewal records the files it found in force, this very copy among them: by digest,
    # not by dates, which two machines' clocks need not agree on.
    relative, digest = str(path.relative_to(vault.root)), ledger.digest(path)
    renewals = vault.trust.renewals(vault.device.practitioner_id, vault.practitioner_file)
    followed = [
        e.time
        for e in renewals
        if isinstance(e.data.get("files"), dict) and e.data["files"].get(relative) == digest
    ]
    return RecoveryStatus(shares, threshold, created, max(followed, default=""))


def create(vault: Vault, practitioner: Practitioner, shares: int, threshold: int) -> list[str]:
    """A new recovery set in force at once (`stage` then `commit`), its shares returned."""
    mnemonics = stage(vault, practitioner, shares, threshold)
    commit(vault)
    return mnemonics


def stage(vault: Vault, practitioner: Practitioner, shares: int, threshold: int) -> list[str]:
    """A new recovery copy written durably beside the one in force, which the earlier shares
    still open; its N mnemonic shares returned for the caller to show once, then `commit`."""
    finish(vault)
    recovery_key, mnemonics = recovery_format.split(shares, threshold)
    record = recovery_format.wrap(
        practitioner.practitioner_id,
        practitioner_secret(practitioner),
        recovery_key,
        shares,
        threshold,
        stamp(vault.clock()),
    )
    durable.replace(pending_file(vault), canonical(record))
    return mnemonics


def commit(vault: Vault) -> None:
    """Put the staged copy in force, retiring the earlier shares: its audit entry first (it
    records the copy under its final name), then the rename. Cut short before the entry, the
    earlier set stays in force; after it, `finish` completes the rename."""
    path, pending = recovery_file(vault), pending_file(vault)
    replaced = path.exists()
    shares, threshold = recovery_format.counts(read_record(pending, RECOVERY_FORMAT), pending)
    vault.audit.append(
        "recovery-replaced" if replaced else "recovery-created",
        practitioner=vault.device.practitioner_id,
        shares=shares,
        threshold=threshold,
        files={str(path.relative_to(vault.root)): ledger.digest(pending)},
    )
    _put_in_force(pending, path)


def committed(vault: Vault) -> bool:
    """Whether the audit log records the staged copy (or the copy in force, if none is
    staged) as the one in force: after a `commit` that failed, whether it took."""
    path, pending = recovery_file(vault), pending_file(vault)
    copy = pending if pending.exists() else path
    history = ledger.expected(vault.audit.entries()).get(str(path.relative_to(vault.root)))
    return history is not None and bool(history) and copy.exists() and history[-1] == ledger.digest(copy)


def finish(vault: Vault) -> None:
    """A `commit` cut short between its audit entry and its rename: finished. A staged copy
    the log does not record (cut short before the entry) is left to be replaced by the next
    `stage`: its shares were never confirmed."""
    pending = pending_file(vault)
    if pending.exists() and committed(vault):
        _put_in_force(pending, recovery_file(vault))


def _put_in_force(pending: Path, path: Path) -> None:
    try:
        os.rename(pending, path)
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc
    durable.fsync_dir(path.parent)


def open_copy(vault: Vault, mnemonics: list[str]) -> Practitioner:
    """The practitioner's keys from the recovery copy, opened with K shares. Fewer, mixed,
    malformed or retired shares: RecoveryFailed, audited as ``recovery-failed``."""
    pid = vault.device.practitioner_id
    finish(vault)
    path = recovery_file(vault)
    if not path.exists():
        raise NoRecovery(pid)
    if problem := ledger.check_file(vault.root, path, vault.audit.entries()):
        raise TamperedFile(problem.path, problem.why)
    record = read_record(path, RECOVERY_FORMAT)
    if record.get("practitioner_id") != pid:
        raise TamperedFile(path, "the recovery copy is another practitioner's (swapped?)")
    key_renewal.adopt(vault)  # a renewal cut short after its switch: this device pins its key
    key_record = vault.pinned_key_record()
    try:
        secrets = recovery_format.unwrap(record, recovery_format.combine(mnemonics), path)
    except RecoveryFailed:
        vault.audit.append("recovery-failed", practitioner=pid, shares_given=len(mnemonics))
        raise
    # The renewed copy, if a renewal sealed one, is the key in force; a renewal cut short
    # before its record was in force leaves the wrapped copy the one that fits.
    for secret in secrets[:-1]:
        try:
            return checked_practitioner(key_record, secret, vault.practitioner_file)
        except KeyFileInvalid:
            continue
    return checked_practitioner(key_record, secrets[-1], vault.practitioner_file)


def reset(vault: Vault, practitioner: Practitioner, new: Passphrase) -> key_renewal.Renewal:
    """Set ``new`` (with its key file, if it carries one) on keys the shares opened: a new
    passphrase renews the encryption key as every change does (vault/store/key_renewal.py),
    so the passphrase that was lost, or watched, opens nothing sealed from now on."""
    return key_renewal.renew(vault, practitioner, new, None, "recovery-used")


def use(vault: Vault, mnemonics: list[str], new: Passphrase) -> Practitioner:
    """`open_copy`, then `reset`: K shares set a new passphrase; nothing else changes."""
    practitioner = open_copy(vault, mnemonics)
    reset(vault, practitioner, new)
    return practitioner
