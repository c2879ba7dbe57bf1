"""Whom a vault trusts: registered devices, pinned practitioners and their colleagues.

Held by `Vault` as ``vault.trust``: the device keys that verify every signed file, and
the colleagues a pinned practitioner vouched for (``colleagues.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from nacl.public import PublicKey, SealedBox
from nacl.signing import VerifyKey

from .. import durable
from ..errors import TamperedFile, VaultError
from ..format import sync_artefacts
from ..format.constants import DEVICE_REGISTRATION_FORMAT, PRACTITIONER_KEY_FORMAT
from ..format.encoding import b64, stamp
from ..format.keys import (
    Device,
    Practitioner,
    check_registration,
    public_keys,
    read_record,
    signed_box_key,
)
from . import colleagues as team
from . import ledger
from .audit import AuditLog, Entry, read_entries, signed_entries, vouching_entries


class Trust:
    def __init__(self, root: Path, device: Device, audit: AuditLog, clock: Callable[[], datetime]) -> None:
        self.root = root
        self.device = device
        self.audit = audit
        self.clock = clock
        self._device_keys: dict[str, VerifyKey] | None = None
        self._registrants: dict[str, str] = {}  # device id -> the practitioner who registered it
        self._registered_at: dict[str, str] = {}  # device id -> when, as its registration says
        self._bad_registrations: list[TamperedFile] = []
        self._devices_stamp: tuple[int, ...] = ()
        self._retired: tuple[tuple[int, ...], dict[str, str], dict[str, int], list[TamperedFile]] | None = (
            None
        )

    # -- devices ------------------------------------------------------------------------
    def device_keys(self) -> dict[str, VerifyKey]:
        """Public keys of every device a pinned practitioner registered (cached until the
        devices folder changes: a daemon sees a machine registered while it runs)."""
        folders = [self.root / "devices", self.root / "colleagues"]
        stamp = tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in folders)
        if self._device_keys is None or stamp != self._devices_stamp:
            keys: dict[str, VerifyKey] = {}
            bad: list[TamperedFile] = []
            registrants: dict[str, str] = {}
            registered_at: dict[str, str] = {}
            signers = self.trusted_signers()
            for path in sync_artefacts.glob(self.root / "devices", "*.json"):
                try:
                    keys[path.stem] = check_registration(path, signers)
                    record = read_record(path, DEVICE_REGISTRATION_FORMAT)
                    registrants[path.stem] = str(record["practitioner_id"])
                    registered_at[path.stem] = str(record.get("registered_at", ""))
                except TamperedFile as exc:  # it signs nothing valid; verify() reports it
                    bad.append(exc)
            # Complete before the stamp says so: syncd's sealing threads read them meanwhile.
            self._device_keys, self._bad_registrations, self._registrants = keys, bad, registrants
            self._registered_at = registered_at
            self._devices_stamp = stamp
        return self._device_keys

    def registrant(self, device_id: str) -> str | None:
        """The practitioner who registered a device (whose records it signs), if registered."""
        self.device_keys()
        return self._registrants.get(device_id)

    def registered_at(self, device_id: str) -> str | None:
        """When a registered device was registered, as its signed registration says."""
        self.device_keys()
        return self._registered_at.get(device_id)

    def retired(self) -> dict[str, str]:
        """Devices retired by their own practitioner (vault/store/retired.py): device id ->
        when. Cached with the registrations: a retire written while a daemon runs counts."""
        return self._read_retired()[1]

    def _read_retired(self) -> tuple[tuple[int, ...], dict[str, str], dict[str, int], list[TamperedFile]]:
        from . import retired

        self.device_keys()
        if self._retired is None or self._retired[0] != self._devices_stamp:
            found, last, bad = retired.read_all(self.root, self.trusted_signers(), self.registrant)
            self._retired = (self._devices_stamp, found, last, bad)
        return self._retired

    def retire(self, practitioner: Practitioner, device_id: str) -> str:
        """Retire one of the practitioner's own other devices (vault/store/retired.py); returns
        when, as the vault stamps it. Recorded in the ledger (``device-retire``)."""
        from . import retired

        if device_id == self.device.device_id:
            raise retired.NotRetirable(
                device_id, "it is this machine's own device (retire it from another of yours)"
            )
        registrant = self.registrant(device_id)
        if registrant is None:
            raise retired.NotRetirable(
                device_id,
                "it is not a registered device of this practice (`casenotes audit show` names them)",
            )
        if registrant != practitioner.practitioner_id:
            raise retired.NotRetirable(
                device_id, f"it was registered by practitioner {registrant}: only they retire it"
            )
        already = self.retired().get(device_id)
        if already is not None:
            raise retired.NotRetirable(device_id, f"it was retired at {already}")
        when = stamp(self.clock())
        path = retired.path_for(self.root, device_id)
        last_seq = max((e.seq for e in read_entries(self.audit.directory, {device_id})), default=0)
        try:
            durable.write_new(path, retired.record(device_id, practitioner, when, last_seq))
        except FileExistsError:
            raise TamperedFile(
                path, "a retire record that does not check is already there: remove it, then retire again"
            ) from None
        self.audit.append(retired.EVENT, device=device_id, files=ledger.files(self.root, path))
        return when

    def retired_after(self, device_id: str, at: str, seq: int | None = None) -> str | None:
        """When the device was retired, if it was before the moment ``at`` claims or before
        its audit entry ``seq`` (beyond the last the retiring machine had: its clock may be
        set back). None: not retired, or not after it (the same second counts as before)."""
        _, found, last, _ = self._read_retired()
        when = found.get(device_id)
        if when is None:
            return None
        beyond = seq is not None and device_id in last and seq > last[device_id]
        return when if at > when or beyond else None

    def trusted_signers(self) -> dict[str, str]:
        """Practitioners whose signatures count in this vault: this device's pins, and the
        colleagues a pinned practitioner added who are members of this very practice (their
        key file is here). One step only; a colleague from another practice, added to
        exchange shares, cannot register devices or sign records here."""
        signers = dict(self.device.trusted)
        for colleague in self.colleagues():
            if self._is_member(colleague.identity):
                signers.setdefault(colleague.practitioner_id, b64(bytes(colleague.identity.sign_public)))
        return signers

    def _is_member(self, identity: team.Identity) -> bool:
        own_key = self.root / "practitioners" / f"{identity.practitioner_id}.json"
        if not own_key.exists():
            return False
        record = read_record(own_key, PRACTITIONER_KEY_FORMAT)
        box, sign = public_keys(record, own_key)
        # a renewed key (a passphrase change, vault/store/key_renewal.py) is signed by the
        # signing key the identity names
        return sign == identity.sign_public and (
            box == identity.box_public or signed_box_key(record, identity.sign_public) == box
        )

    def renewed_box_key(self, practitioner_id: str) -> str | None:
        """The practitioner's key record's encryption key (b64), if it differs from this
        device's pin because the practitioner renewed it on another machine: signed by the
        pinned signing key, and the newest record the ledger holds, recorded with that key
        by a device of theirs (signed lines only). None otherwise: the pin stands."""
        pinned = self.device.trusted_box.get(practitioner_id)
        path = self.root / "practitioners" / f"{practitioner_id}.json"
        try:
            record = read_record(path, PRACTITIONER_KEY_FORMAT)
            box, sign = public_keys(record, path)
        except VaultError:
            return None
        box_b64 = b64(bytes(box))
        if pinned in (None, box_b64) or self.device.trusted.get(practitioner_id) != b64(bytes(sign)):
            return None
        if signed_box_key(record, sign) != box:
            return None
        return box_b64 if self._renewal_recorded(practitioner_id, path, box_b64) else None

    def renewals(self, practitioner_id: str, path: Path) -> list[Entry]:
        """The ledger lines renewing the practitioner's key record at ``path``: signed, by a
        device the practitioner registered. Only these may say a record was replaced (an
        unsigned line, or a colleague's device, would else lock the practitioner out)."""
        needle = json.dumps(str(path.relative_to(self.root))).encode()
        entries = signed_entries(self.audit.directory, self.device_keys(), needle)
        return [e for e in entries if "renewed" in e.data and self.registrant(e.device) == practitioner_id]

    def _renewal_recorded(self, practitioner_id: str, path: Path, box_b64: str) -> bool:
        """Whether a device of the practitioner recorded renewing the key record to exactly
        these bytes, with ``box_b64``, and no later renewal replaced them (signed lines only:
        a record planted with an old record's signing key is not a renewal). Each renewal
        names the digest it replaces, so no order of entries is needed: two machines' clocks
        within one second cannot give one."""
        relative = str(path.relative_to(self.root))
        renewals = self.renewals(practitioner_id, path)
        digest = ledger.digest(path)
        if any(e.data.get("replaces") == digest for e in renewals):
            return False
        return any(
            e.data["renewed"] == box_b64
            and isinstance(e.data.get("files"), dict)
            and e.data["files"].get(relative) == digest
            for e in renewals
        )

    def box_key(self, colleague: team.Colleague) -> PublicKey:
        """The key to seal a colleague's client keys to: the one their key record in this
        vault holds, when they renewed it since their identity was vouched for (a passphrase
        change: signed by their signing key and recorded by a device of theirs in the ledger);
        else the vouched identity's. Not the old one after a renewal: an older copy of their
        key record, with the old passphrase, would open it."""
        identity = colleague.identity
        path = self.root / "practitioners" / f"{identity.practitioner_id}.json"
        try:
            record = read_record(path, PRACTITIONER_KEY_FORMAT)
        except VaultError:
            return identity.box_public
        box, sign = public_keys(record, path)
        if sign != identity.sign_public or box == identity.box_public:
            return identity.box_public
        if signed_box_key(record, sign) != box:
            return identity.box_public
        recorded = self._renewal_recorded(identity.practitioner_id, path, b64(bytes(box)))
        return box if recorded else identity.box_public

    def colleagues(self) -> list[team.Colleague]:
        return team.read_all(self.root, self.device.trusted)[0]

    def colleague(self, name: str) -> team.Colleague:
        for known in self.colleagues():
            if known.name.casefold() == name.casefold():
                return known
        raise team.UnknownPractitioner(name)

    def add_colleague(self, practitioner: Practitioner, name: str, identity: team.Identity) -> str:
        """Vouch for a colleague's identity; a colleague in this very practice also receives
        the handle-index key, so their own machines can register and find clients."""
        pid = identity.practitioner_id
        for known in self.colleagues():
            if known.practitioner_id == pid and known.added_by == practitioner.practitioner_id:
                raise team.ColleagueExists(pid, known.name)
            if known.name.casefold() == name.casefold() and known.practitioner_id != pid:
                raise team.NameTaken(name)  # a second "Sam" would make `--to Sam` ambiguous
        if pid == practitioner.practitioner_id:
            raise team.IdentityInvalid("it is your own")
        record = team.colleague_record(
            name, identity, practitioner.practitioner_id, practitioner.signing_key, stamp(self.clock())
        )
        team.add_colleague(self.root, record, pid, practitioner.practitioner_id)
        index = self.root / "practitioners" / f"{pid}.index"
        member = self._is_member(identity)
        written = member and not index.exists()
        if written:
            durable.write_new(index, SealedBox(identity.box_public).encrypt(self.device.index_key))
        elif member:  # another colleague added them first, or whoever writes the folder planted it
            entries = vouching_entries(self.audit.directory, self.device_keys())
            if problem := ledger.vouch(self.root, index, entries):
                raise TamperedFile(problem.path, problem.why)
        self.audit.append(
            "practitioner-add",
            practitioner=pid,
            same_practice=member,
            **({"files": ledger.files(self.root, index)} if written else {}),
        )
        return "same practice" if member else "another practice"

    def device_practitioner(self, device_id: str) -> str | None:
        """Whose device this is (None: not a registered device)."""
        if device_id not in self.device_keys():
            return None
        return str(
            read_record(self.root / "devices" / f"{device_id}.json", DEVICE_REGISTRATION_FORMAT)[
                "practitioner_id"
            ]
        )

    def bad_registrations(self) -> list[TamperedFile]:
        self.device_keys()
        return list(self._bad_registrations) + list(self._read_retired()[3])
