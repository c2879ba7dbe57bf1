"""Retired devices: a lost or replaced machine that keeps no authority (issue 28).

`casenotes device retire DEVICE` writes ``devices/<did>.retired``, a record signed by the
practitioner's own key (not a device's), naming the device and the moment it was retired,
and records it in the ledger (an audit entry ``device-retire`` carrying its SHA-256): a
retire file deleted or swapped afterwards is reported by `verify` like any key file.

Who may retire a device: the practitioner who registered it, and only from another of
their own devices. A colleague may not: retiring a machine means it is no longer waited
for before a purge (retention/intents.py), so one practitioner could otherwise silence
another's machine, and the hold it knows of, before destroying a client.

What a retire changes, for every reader: the device is no longer one of the practice's
machines a group purge waits for (retention/group.py), anything it signs dated after the
retire carries no authority (a revision: vault/store/authority.py; a purge, intent or
acknowledgement: vault/store/purged.py), and its earlier files keep the authority they had.
A hold it placed before is still a hold: a hold only ever keeps records.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import durable
from ..errors import TamperedFile, VaultError
from ..format.constants import DEVICE_RETIRE_FORMAT, JSON_FORMAT_VERSION
from ..format.encoding import stamp
from ..format.keys import Practitioner, check_record, sign_record, signer
from . import ledger

if TYPE_CHECKING:
    from .trust import Trust
    from .vault import Vault

EVENT = "device-retire"
SUFFIX = ".retired"


class NotRetirable(VaultError):
    template = "device {} cannot be retired: {}; nothing was changed"


def path_for(root: Path, device_id: str) -> Path:
    return root / "devices" / f"{device_id}{SUFFIX}"


def read_all(root: Path, trust: Trust) -> tuple[dict[str, str], list[TamperedFile]]:
    """Device id -> when it was retired, from every retire record its own practitioner
    signed; and the records that do not check (signed by someone else, or changed)."""
    found: dict[str, str] = {}
    bad: list[TamperedFile] = []
    folder = root / "devices"
    if not folder.is_dir():
        return found, bad
    signers = trust.trusted_signers()
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        device_id = path.name.removesuffix(SUFFIX)
        try:
            record = check_record(
                path, DEVICE_RETIRE_FORMAT, signers, "practitioner_id", "retired by no trusted practitioner"
            )
            if record.get("device") != device_id:
                raise TamperedFile(path, "a retire record moved from another device")
            if trust.registrant(device_id) != record.get("practitioner_id"):
                raise TamperedFile(path, "retired by a practitioner who did not register the device")
            found[device_id] = str(record["retired_at"])
        except (TamperedFile, KeyError) as exc:
            bad.append(
                exc if isinstance(exc, TamperedFile) else TamperedFile(path, "a damaged retire record")
            )
    return found, bad


def retire(vault: Vault, practitioner: Practitioner, device_id: str) -> str:
    """Retire one of the practitioner's own devices; returns when (as the vault stamps)."""
    if device_id == vault.device.device_id:
        raise NotRetirable(device_id, "it is this machine's own device (retire it from another of yours)")
    registrant = vault.trust.registrant(device_id)
    if registrant is None:
        raise NotRetirable(
            device_id, "it is not a registered device of this practice (`casenotes audit show` names them)"
        )
    if registrant != practitioner.practitioner_id:
        raise NotRetirable(device_id, f"it was registered by practitioner {registrant}: only they retire it")
    already = vault.trust.retired().get(device_id)
    if already is not None:
        raise NotRetirable(device_id, f"it was retired at {already}")
    when = stamp(vault.clock())
    record = {
        "format": DEVICE_RETIRE_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "device": device_id,
        "practitioner_id": practitioner.practitioner_id,
        "retired_at": when,
    }
    path = path_for(vault.root, device_id)
    try:
        durable.write_new(path, sign_record(record, signer(practitioner.signing_key)))
    except FileExistsError:
        raise TamperedFile(
            path, "a retire record that does not check is already there: remove it, then retire again"
        ) from None
    vault.audit.append(EVENT, device=device_id, files=ledger.files(vault.root, path))
    return when
