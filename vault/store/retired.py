"""Retired devices: a lost or replaced machine that keeps no authority (issue 28).

`casenotes device retire DEVICE` (`Trust.retire`) writes ``devices/<did>.retired``, a record signed by the
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

from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import TamperedFile, VaultError
from ..format.constants import DEVICE_RETIRE_FORMAT, JSON_FORMAT_VERSION
from ..format.keys import Practitioner, check_record, sign_record, signer

EVENT = "device-retire"
SUFFIX = ".retired"


class NotRetirable(VaultError):
    template = "device {} cannot be retired: {}; nothing was changed"


def path_for(root: Path, device_id: str) -> Path:
    return root / "devices" / f"{device_id}{SUFFIX}"


def read_all(
    root: Path, signers: Mapping[str, str], registrant: Callable[[str], str | None]
) -> tuple[dict[str, str], list[TamperedFile]]:
    """Device id -> when it was retired, from every retire record its own practitioner
    (``registrant``) signed, among the trusted ``signers``; and the records that do not
    check (signed by someone else, or changed)."""
    found: dict[str, str] = {}
    bad: list[TamperedFile] = []
    folder = root / "devices"
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        device_id = path.name.removesuffix(SUFFIX)
        try:
            record = check_record(
                path, DEVICE_RETIRE_FORMAT, signers, "practitioner_id", "retired by no trusted practitioner"
            )
            if record.get("device") != device_id:
                raise TamperedFile(path, "a retire record moved from another device")
            if registrant(device_id) != record.get("practitioner_id"):
                raise TamperedFile(path, "retired by a practitioner who did not register the device")
            found[device_id] = str(record["retired_at"])
        except KeyError:
            bad.append(TamperedFile(path, "a damaged retire record"))
        except TamperedFile as exc:
            bad.append(exc)
    return found, bad


def record(device_id: str, practitioner: Practitioner, when: str) -> bytes:
    """The bytes of a retire record, signed with the practitioner's own key."""
    fields = {
        "format": DEVICE_RETIRE_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "device": device_id,
        "practitioner_id": practitioner.practitioner_id,
        "retired_at": when,
    }
    return sign_record(fields, signer(practitioner.signing_key))
