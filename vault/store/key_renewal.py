"""A passphrase or key-file change renews the practitioner's encryption key (issue 28).

Re-wrapping the same keys under a new passphrase would leave every older copy of the key
record (a backup, a sync engine's version folder) opening, with the old passphrase alone,
every note sealed afterwards: the client keys would be the same. So a change makes a new
X25519 key (the signing key stays: devices, colleagues and signed records name it), keeps
the replaced ones inside the new record to open what was sealed to them, and gives every
client the practitioner holds a new key generation sealed to the new key (and to every
other holder, as a merge does: vault/store/client_keys.py). Notes sealed from then on open
only with the new record.

Plan, then execute, in an order a kill at any instant leaves whole:

1. a journal in this device's config dir (outside the vault and its backups; no secret):
   the digests of the old and new records, the new public key, the clients to re-key;
2. the new record replaces the old one (`durable.replace`): before, the old passphrase
   opens everything as it did; after, the new one does (the record holds the old key);
3. `resume`, idempotent, run at once and by every unlock until it is done: this device's
   pin, the handle-index key sealed to the new key, the recovery copy renewed, one audit
   entry recording the new record in the ledger (so an older one is refused by `unlock`),
   one new generation per client (``key-renew``), then the journal is removed.

A kill before 2 leaves the old record: `adopt` drops the journal (nothing was sealed to a
key no record holds). A kill after 2 leaves the new record: the next unlock finishes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import nacl.exceptions
from nacl.public import PublicKey, SealedBox

from .. import durable
from ..errors import KeyFileInvalid, KeyNotUsable, MergeNotHere, TamperedFile, UnknownClient, WriteFailed
from ..format import recovery as recovery_format
from ..format.constants import PRACTITIONER_KEY_FORMAT, RECOVERY_FORMAT, KdfParams
from ..format.encoding import b64, canonical, unb64
from ..format.keys import (
    Device,
    Practitioner,
    practitioner_secret,
    read_record,
    renewed,
    save_device,
    wrap_practitioner,
)
from ..format.redact import Passphrase
from . import ledger
from .audit import AuditLog
from .client_keys import Keyring
from .trust import Trust


class Vault(Protocol):
    """What a renewal uses of the vault (vault/store/vault.py calls it from `unlock`)."""

    root: Path
    device: Device
    device_dir: Path
    audit: AuditLog
    keyring: Keyring
    trust: Trust

    @property
    def practitioner_file(self) -> Path: ...

    def client_ids(self) -> list[str]: ...


JOURNAL = "key-renewal.json"
JOURNAL_FORMAT = "casenotes-key-renewal"
RENEW_EVENT = "key-renew"  # one client's new generation, made by a renewal


@dataclass(frozen=True)
class Renewal:
    """What a renewal did: clients given a new generation, those still waiting (a key file
    that cannot be checked yet, a merge due elsewhere: retried by the next unlock), and the
    recovery set: None if there is none, False if it is older than renewals and must be
    made again to open notes sealed from now on."""

    clients: int
    waiting: list[str]
    recovery_renewed: bool | None


def journal_path(vault: Vault) -> Path:
    return vault.device_dir / JOURNAL


def renew(
    vault: Vault, practitioner: Practitioner, new: Passphrase, kdf: KdfParams | None, event: str
) -> Renewal:
    """Renew ``practitioner``'s encryption key under ``new`` (its key file too, if it
    carries one); audited as ``event``. ``practitioner`` was unlocked from the record in
    force (`Vault.unlock`, which also finished or dropped any renewal cut short)."""
    path = vault.practitioner_file
    if kdf is None:
        current = read_record(path, PRACTITIONER_KEY_FORMAT)["kdf"]
        kdf = KdfParams(current["opslimit"], current["memlimit"])
    fresh = renewed(practitioner)
    record = canonical(wrap_practitioner(fresh, new, kdf))
    pid = practitioner.practitioner_id
    journal = {
        "format": JOURNAL_FORMAT,
        "practitioner_id": pid,
        "event": event,
        "key_file": new.key_file is not None,
        "old_sha256": ledger.digest(path),
        # the .index and .recovery this renewal rewrites, as they were: the ledger counts them
        # older than the renewal's, whatever two machines' clocks say (vault/store/ledger.py)
        "old_files": {
            str(other.relative_to(vault.root)): ledger.digest(other)
            for other in (path.with_suffix(".index"), path.with_suffix(".recovery"))
            if other.exists()
        },
        "new_sha256": hashlib.sha256(record).hexdigest(),
        "box_public": b64(bytes(fresh.box_key.public_key)),
        # how far each log was read before the clients were listed: a client named after
        # that may have been sealed to the old key, one named before is renewed here
        # (vault/store/renewal_catchup.py starts from these)
        "seen_logs": seen_logs(vault),
        "clients": [cid for cid in vault.client_ids() if pid in vault.keyring.access_holders(cid)],
        "recorded": False,
        "recovery": False,
    }
    _write(vault, journal)
    durable.replace(path, record)  # the switch: from here on the new passphrase opens the key
    return resume(vault, fresh)


def adopt(vault: Vault) -> None:
    """Before any unlock, with no passphrase: after a renewal's switch, this device pins the
    new key (else the new record looks swapped); before it, the journal is dropped. With no
    renewal of its own, a renewal another machine of the same practitioner made is pinned
    once the ledger and the signing key vouch for it (`Trust.renewed_box_key`)."""
    journal = _read(vault)
    if journal is None:
        if renewed := vault.trust.renewed_box_key(vault.device.practitioner_id):
            _pin(vault, renewed)  # renewed on another machine of the same practitioner
        return
    try:
        found = ledger.digest(vault.practitioner_file)
    except OSError:
        return  # the unlock names the missing record
    if found == journal["new_sha256"]:
        _pin(vault, str(journal["box_public"]))
    elif found == journal["old_sha256"]:
        _drop(vault)  # cut short before the switch: nothing was sealed to the new key


def switched(vault: Vault) -> bool:
    """Whether the key record is the one a renewal cut short put in force before recording
    it in the ledger: not a replaced file, but a new passphrase the next unlock finishes."""
    journal = _read(vault)
    try:
        return journal is not None and ledger.digest(vault.practitioner_file) == journal["new_sha256"]
    except OSError:
        return False


def resume(vault: Vault, practitioner: Practitioner) -> Renewal:
    """Finish the renewal in the journal, if ``practitioner`` holds its new key; every step
    is done once, whichever step a kill interrupted."""
    journal = _read(vault)
    recovery = vault.root / "practitioners" / f"{practitioner.practitioner_id}.recovery"
    if journal is None or journal["box_public"] != b64(bytes(practitioner.box_key.public_key)):
        return Renewal(0, [], None)
    _pin(vault, str(journal["box_public"]))
    index = vault.root / "practitioners" / f"{practitioner.practitioner_id}.index"
    try:
        SealedBox(practitioner.box_key).decrypt(index.read_bytes())
    except (OSError, nacl.exceptions.CryptoError):
        # sealed to the new key alone: an older record cannot learn the handle-index key from it
        durable.replace(index, SealedBox(practitioner.box_key.public_key).encrypt(vault.device.index_key))
    renewable = None
    # a set a thief put in from the stolen laptop after its retire: never sealed to, nor recorded
    late = recovery.exists() and bool(vault.trust.late_file(recovery))
    if recovery.exists():
        copy = read_record(recovery, RECOVERY_FORMAT)
        renewable = recovery_format.renewable(copy) and not late
        if renewable and not journal["recovery"]:
            renewed_copy = recovery_format.renew(copy, practitioner_secret(practitioner), recovery)
            durable.replace(recovery, canonical(renewed_copy))
            journal["recovery"] = True
            _write(vault, journal)
    if not journal["recorded"]:
        recorded = [
            p
            for p in (vault.practitioner_file, index, recovery)
            if p.exists() and not (p == recovery and late)
        ]
        vault.audit.append(
            str(journal["event"]),
            practitioner=practitioner.practitioner_id,
            key_file=bool(journal["key_file"]),
            renewed=str(journal["box_public"]),
            replaces=str(journal["old_sha256"]),  # what an unlock refuses from now on
            replaces_files=dict(journal.get("old_files", {})),
            seen_logs=dict(journal.get("seen_logs", {})),
            clients=len(journal["clients"]),
            files=ledger.files(vault.root, *recorded),
        )
        journal["recorded"] = True
        _write(vault, journal)
    done, waiting = 0, []
    for client_id in list(journal["clients"]):
        try:
            renew_client(vault, client_id)
        except UnknownClient:
            pass  # purged meanwhile: nothing left to re-key
        except (KeyNotUsable, MergeNotHere, TamperedFile, WriteFailed):
            waiting.append(client_id)
            continue
        done += 1
        journal["clients"].remove(client_id)
        _write(vault, journal)
    if not waiting:
        _drop(vault)
    return Renewal(done, waiting, renewable)


def seen_logs(vault: Vault) -> dict[str, int]:
    """Each audit log's length in whole lines (a sync engine may be carrying the last one)."""
    seen = {}
    for log in vault.audit.logs():
        try:
            with log.open("rb") as f:
                size = f.seek(0, 2)
                start = f.seek(max(0, size - 2**16))  # a line is far shorter
                seen[log.name] = start + f.read().rfind(b"\n") + 1
        except OSError:
            continue
    return seen


def renew_client(vault: Vault, client_id: str) -> None:
    """A new generation of the client's key, sealed to every holder (this practitioner at
    their new key), replacing every tip: notes sealed from now on open only with it."""
    vault.keyring.settle(client_id)  # a rotation cut short or a merge due comes first
    vault.keyring.merge(client_id, event=RENEW_EVENT)


def _pin(vault: Vault, box_public: str) -> None:
    """This device seals to the new key from now on (its pins live outside the vault)."""
    pid = vault.device.practitioner_id
    if vault.device.trusted_box.get(pid) != box_public:
        vault.device.trusted_box[pid] = box_public  # one dict, shared by the keyring and trust
        save_device(vault.device_dir / "device.json", vault.device)


def _read(vault: Vault) -> dict[str, Any] | None:
    path = journal_path(vault)
    try:
        journal = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise KeyFileInvalid(path, f"the key-renewal journal cannot be read ({exc})") from exc
    if not isinstance(journal, dict) or journal.get("format") != JOURNAL_FORMAT:
        raise KeyFileInvalid(path, "not a key-renewal journal")
    if journal.get("practitioner_id") != vault.device.practitioner_id:
        return None
    PublicKey(unb64(journal.get("box_public"), 32))  # a damaged journal fails here, not halfway
    return journal


def _write(vault: Vault, journal: dict[str, Any]) -> None:
    durable.replace(journal_path(vault), canonical(journal))


def _drop(vault: Vault) -> None:
    path = journal_path(vault)
    path.unlink(missing_ok=True)
    durable.fsync_dir(path.parent)
