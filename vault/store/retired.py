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

"After the retire" is not only what its clock says: a stolen machine's clock is set back at
will. The record also names the last entry of the device's audit log the retiring machine
had (``last_seq``), and an entry of that device beyond it is after the retire whatever its
time (its facts then stop every purge of the client, retention/records.py; its purge
entries count for nothing). An entry dated after the retire stays after it too, whichever
clock is wrong: a hold it placed then is judged by its date (retention/records.py
`believed`), so its facts must stop the purge. An entry it wrote before it was lost that
had not synced yet counts as after too: the safe way round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import TamperedFile, VaultError
from ..format.constants import DEVICE_RETIRE_FORMAT, JSON_FORMAT_VERSION
from ..format.keys import Practitioner, check_record, sign_record, signer

EVENT = "device-retire"
SUFFIX = ".retired"
LAST_SEQ = "last_seq"  # the last entry of the device's log the retiring machine had


class NotRetirable(VaultError):
    template = "device {} cannot be retired: {}; nothing was changed"


def path_for(root: Path, device_id: str) -> Path:
    return root / "devices" / f"{device_id}{SUFFIX}"


def read_all(
    root: Path, signers: Mapping[str, str], registrant: Callable[[str], str | None]
) -> tuple[dict[str, str], dict[str, int], list[TamperedFile]]:
    """Device id -> when it was retired, from every retire record its own practitioner
    (``registrant``) signed, among the trusted ``signers``; device id -> the last entry of
    its log the retiring machine had (a record that names it); and the records that do not
    check (signed by someone else, or changed)."""
    found: dict[str, str] = {}
    last: dict[str, int] = {}
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
            if LAST_SEQ in record:  # a record of casenotes before it: the clock alone
                last[device_id] = int(record[LAST_SEQ])
        except (KeyError, ValueError, TypeError):
            bad.append(TamperedFile(path, "a damaged retire record"))
        except TamperedFile as exc:
            bad.append(exc)
    return found, last, bad


def record(device_id: str, practitioner: Practitioner, when: str, last_seq: int) -> bytes:
    """The bytes of a retire record, signed with the practitioner's own key. ``last_seq``:
    the last entry of the device's audit log on the retiring machine."""
    fields = {
        "format": DEVICE_RETIRE_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "device": device_id,
        "practitioner_id": practitioner.practitioner_id,
        "retired_at": when,
        LAST_SEQ: last_seq,
    }
    return sign_record(fields, signer(practitioner.signing_key))
