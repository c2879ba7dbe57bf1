"""Recovery: K of N custodians' shares set a new passphrase when the old one is lost.

`create` (with the practitioner unlocked) writes ``practitioners/<pid>.recovery``, a second
wrapped copy of the practitioner's keys under a fresh recovery key, and returns that key
as SLIP-39 shares (vault/format/recovery.py); the shares are shown once and kept nowhere.
Creating again replaces the copy, so the old shares open nothing. `use` combines shares,
opens the copy, checks the keys against the key file and this device's pins, and rewraps
the practitioner key file under a new passphrase. Each is an audit entry, and the copy is
recorded in the ledger like every key file, so a deleted or swapped copy is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import durable
from ..errors import NoRecovery, RecoveryFailed, TamperedFile
from ..format import recovery as recovery_format
from ..format.constants import RECOVERY_FORMAT
from ..format.encoding import canonical, stamp
from ..format.keys import Practitioner, checked_practitioner, practitioner_secret, read_record
from ..format.redact import Passphrase
from . import ledger

if TYPE_CHECKING:
    from .vault import Vault


@dataclass(frozen=True)
class RecoveryStatus:
    """What the recovery record says openly: no share, nothing secret."""

    shares: int
    threshold: int
    created: str


def recovery_file(vault: Vault) -> Path:
    return vault.root / "practitioners" / f"{vault.device.practitioner_id}.recovery"


def status(vault: Vault) -> RecoveryStatus | None:
    """This practitioner's recovery set, or None if none was made."""
    path = recovery_file(vault)
    if not path.exists():
        return None
    record = read_record(path, RECOVERY_FORMAT)
    shares, threshold = recovery_format.counts(record, path)
    return RecoveryStatus(shares, threshold, str(record.get("created", "")))


def create(vault: Vault, practitioner: Practitioner, shares: int, threshold: int) -> list[str]:
    """A new recovery set: the copy written (replacing any older one, whose shares then open
    nothing), audited, and the N mnemonic shares returned for the caller to show once."""
    path = recovery_file(vault)
    replaced = path.exists()
    recovery_key, mnemonics = recovery_format.split(shares, threshold)
    record = recovery_format.wrap(
        practitioner.practitioner_id,
        practitioner_secret(practitioner),
        recovery_key,
        shares,
        threshold,
        stamp(vault.clock()),
    )
    durable.replace(path, canonical(record))
    vault.audit.append(
        "recovery-replaced" if replaced else "recovery-created",
        practitioner=practitioner.practitioner_id,
        shares=shares,
        threshold=threshold,
        files=ledger.files(vault.root, path),
    )
    return mnemonics


def open_copy(vault: Vault, mnemonics: list[str]) -> Practitioner:
    """The practitioner's keys from the recovery copy, opened with K shares. Fewer, mixed,
    malformed or retired shares: RecoveryFailed, audited as ``recovery-failed``."""
    pid = vault.device.practitioner_id
    path = recovery_file(vault)
    if not path.exists():
        raise NoRecovery(pid)
    if problem := ledger.check_file(vault.root, path, vault.audit.entries()):
        raise TamperedFile(problem.path, problem.why)
    record = read_record(path, RECOVERY_FORMAT)
    if record.get("practitioner_id") != pid:
        raise TamperedFile(path, "the recovery copy is another practitioner's (swapped?)")
    key_record = vault.pinned_key_record()
    try:
        secret = recovery_format.unwrap(record, recovery_format.combine(mnemonics), path)
    except RecoveryFailed:
        vault.audit.append("recovery-failed", practitioner=pid, shares_given=len(mnemonics))
        raise
    return checked_practitioner(key_record, secret, vault.practitioner_file)


def reset(vault: Vault, practitioner: Practitioner, new: Passphrase) -> None:
    """Set ``new`` (with its key file, if it carries one) on keys the shares opened."""
    vault.rewrap(practitioner, new, None, "recovery-used")


def use(vault: Vault, mnemonics: list[str], new: Passphrase) -> Practitioner:
    """`open_copy`, then `reset`: K shares set a new passphrase; nothing else changes."""
    practitioner = open_copy(vault, mnemonics)
    reset(vault, practitioner, new)
    return practitioner
