"""Whom a vault trusts: registered devices, pinned practitioners and their colleagues.

Held by `Vault` as ``vault.trust``: the device keys that verify every signed file, and
the colleagues a pinned practitioner vouched for (``colleagues.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from .audit import AuditLog, Entry, signed_entries, vouching_entries
from .retired import EVENT as RETIRE_EVENT
from .retired import Before, Last

RETIRE_NEEDLE = f'"event":"{RETIRE_EVENT}"'.encode()
ADD_NEEDLE = b'"event":"practitioner-add"'


@dataclass(frozen=True)
class _Retired:
    """The retire records as last read: cached until the devices or audit folder changes."""

    stamp: tuple[int, ...]
    found: dict[str, str]  # device -> when, of the records that stand
    last: dict[str, Last]  # device -> the end of its log its retire names
    bad: list[TamperedFile]  # records that do not check or carry no authority
    circles: tuple[tuple[str, str], ...]  # devices that retired each other while apart


@dataclass(frozen=True)
class _Colleagues:
    """The colleague records judged against the retires: cached with them."""

    stamp: tuple[int, ...]
    own: int  # this device's log's mtime when judged
    refused: dict[tuple[str, str], TamperedFile]  # (practitioner, added by) -> why
    outcast: frozenset[str]  # practitioners no standing record vouches for
    registrations: tuple[TamperedFile, ...]  # their devices: not of this practice


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
        self._retired: _Retired | None = None
        self._before: dict[str, tuple[tuple[int, int, Last], Before]] = {}  # device -> (log stat, end, ...)
        self._judged: _Colleagues | None = None
        self._renewed: dict[str, tuple[tuple[object, ...], bool]] = {}  # `_ever_renewed`

    # -- devices ------------------------------------------------------------------------
    def device_keys(self) -> dict[str, VerifyKey]:
        """Public keys of every device a pinned practitioner, or a colleague of the practice
        one of them vouched for, registered; not a device of a colleague whose every record
        is refused (`refused_colleagues`: added only from a retired machine)."""
        keys = self._registered()
        outcast = self._judge_colleagues().outcast
        return {d: k for d, k in keys.items() if self._registrants.get(d) not in outcast} if outcast else keys

    def _registered(self) -> dict[str, VerifyKey]:
        """Every registration that checks, by any colleague record's signer (cached until the
        devices folder changes: a daemon sees a machine registered while it runs). The retire
        records are read with these: which colleague records stand depends on them."""
        folders = [self.root / "devices", self.root / "colleagues"]
        stamp = tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in folders)
        if self._device_keys is None or stamp != self._devices_stamp:
            keys: dict[str, VerifyKey] = {}
            bad: list[TamperedFile] = []
            registrants: dict[str, str] = {}
            registered_at: dict[str, str] = {}
            signers = self._signers(team.read_all(self.root, self.device.trusted)[0])
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
        found = self._registrant(device_id)
        if found is None or found in self.device.trusted:  # a pin is never refused: no need to judge
            return found
        return found if device_id in self.device_keys() else None

    def _registrant(self, device_id: str) -> str | None:
        """As `registrant`, before the colleague records are judged (`_registered`)."""
        self._registered()
        return self._registrants.get(device_id)

    def registered_at(self, device_id: str) -> str | None:
        """When a registered device was registered, as its signed registration says."""
        return self._registered_at.get(device_id) if device_id in self.device_keys() else None

    def retired(self) -> dict[str, str]:
        """Devices retired by their own practitioner (vault/store/retired.py): device id ->
        when. Cached with the registrations and the audit folder: a retire written, or its
        ledger entry arriving, while a daemon runs counts."""
        return self._read_retired().found

    def retire_circles(self) -> tuple[tuple[str, str], ...]:
        """Devices of one practitioner that retired each other while apart (both stay
        retired; vault/store/retired.py `settle`)."""
        return self._read_retired().circles

    def _read_retired(self) -> _Retired:
        from . import retired

        keys = self._registered()
        audit = self.root / "audit"
        stamp = (*self._devices_stamp, audit.stat().st_mtime_ns if audit.exists() else 0)
        if self._retired is None or self._retired.stamp != stamp:
            # the registrations unjudged: which colleague records stand depends on the retires
            signers = self._signers(team.read_all(self.root, self.device.trusted)[0])
            found, last, bad = retired.read_all(self.root, signers, self._registrant)
            recorded = signed_entries(audit, keys, RETIRE_NEEDLE)
            lost = retired.lost(self.root, found, recorded, self._registrant)
            # the ledger entry stands for its record (`verify` reports the record, as any the ledger holds)
            for device_id, (when, end) in lost.items():
                found[device_id], last[device_id] = when, end
            settled = (
                retired.settle(
                    self.root,
                    found,
                    recorded,
                    self._registrant,
                    # by its log alone: a retire's date is its author's to choose
                    lambda device, entry: self._after(found, last, device, entry.time, entry),
                    lost,
                )
                if found
                else retired.Settled(frozenset(), (), ())
            )
            standing = {d: when for d, when in found.items() if d in settled.standing}
            last = {d: end for d, end in last.items() if d in standing}
            self._retired = _Retired(stamp, standing, last, bad + list(settled.void), settled.circles)
        return self._retired

    def before_retire(self, device_id: str) -> Before | None:
        """What of a retired device's log its retire vouches for (None: not retired, or
        retired by a casenotes that recorded no end of its log: its date alone decides)."""
        last = self._read_retired().last.get(device_id)
        return None if last is None else self._before_of(device_id, last)

    def _before_of(self, device_id: str, last: Last) -> Before:
        from . import retired

        log = self.root / "audit" / f"{device_id}.log"
        try:
            st = log.stat()
            key = (st.st_mtime_ns, st.st_size, last)
        except FileNotFoundError:
            key = (0, 0, last)
        cached = self._before.get(device_id)
        if cached is None or cached[0] != key:
            cached = (key, retired.before(self.root / "audit", device_id, last))
            self._before[device_id] = cached
        return cached[1]

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
        own = self.retired().get(self.device.device_id)
        if own is not None:  # as this machine knows; whoever bypasses it is refused on read
            raise retired.NotRetirable(
                device_id, f"this machine was itself retired at {own}: a retired machine retires nothing"
            )
        path = retired.path_for(self.root, device_id)
        last_seq, last_hash = retired.log_head(self.audit.directory, device_id)
        had = retired.had(self.root, device_id, practitioner.practitioner_id, last_seq)
        try:
            durable.write_new(path, retired.record(device_id, practitioner, when, last_seq, last_hash, had))
        except FileExistsError:
            raise TamperedFile(
                path, "a retire record that does not check is already there: remove it, then retire again"
            ) from None
        files = ledger.files(self.root, path)  # the end of the log too: a lost record loses nothing
        end = {retired.LAST_SEQ: last_seq, retired.LAST_HASH: last_hash, retired.HAD: had}
        self.audit.append(retired.EVENT, device=device_id, files=files, **end)
        self._retired = None  # its ledger entry is what makes it stand
        return when

    def retired_after(self, device_id: str, at: str, entry: Entry | None = None) -> str | None:
        """When the device was retired, if it was before the moment ``at`` claims or before
        its audit ``entry`` (not one of those the retiring machine had: its clock may be set
        back). None: not retired, or not after it (the same second counts as before)."""
        known = self._read_retired()
        return known.found[device_id] if self._after(known.found, known.last, device_id, at, entry) else None

    def _after(
        self,
        found: Mapping[str, str],
        last: Mapping[str, Last],
        device_id: str,
        at: str,
        entry: Entry | None,
    ) -> bool:
        """Whether the device's ``entry`` (dated ``at``) is after its retire: not one of the
        entries up to the end of its log the retire names, whatever its date (either clock may
        be wrong); where the retire names no end, or no entry is given, dated after it."""
        when = found.get(device_id)
        if when is None:
            return False
        end = last.get(device_id)
        if entry is not None and end is not None:  # what the retiring machine had: whatever its date
            return not self._before_of(device_id, end).entry(entry)
        return at > when

    def trusted_signers(self) -> dict[str, str]:
        """Practitioners whose signatures count in this vault: this device's pins, and the
        colleagues a pinned practitioner added who are members of this very practice (their
        key file is here). One step only; a colleague from another practice, added to
        exchange shares, cannot register devices or sign records here."""
        return self._signers(self.colleagues())

    def _signers(self, colleagues: list[team.Colleague]) -> dict[str, str]:
        signers = dict(self.device.trusted)
        for colleague in colleagues:
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
        unsigned line, or a colleague's device, would else lock the practitioner out). Not a
        retired device's beyond its retire: a thief with the stolen laptop and the passphrase
        would else give the practitioner a key of its choosing, pinned by their other
        machines and sealed to by colleagues."""
        needle = json.dumps(str(path.relative_to(self.root))).encode()
        entries = signed_entries(self.audit.directory, self.device_keys(), needle)
        return [
            e
            for e in entries
            if "renewed" in e.data
            and self.registrant(e.device) == practitioner_id
            and self.retired_after(e.device, e.time, e) is None
        ]

    def late_renewal(self, practitioner_id: str, path: Path) -> str:
        """Who renewed the key record at ``path`` to its present bytes from a retired device,
        beyond its retire ("" if none): that renewal gives the practitioner no new key."""
        needle = json.dumps(str(path.relative_to(self.root))).encode()
        digest = ledger.digest(path)
        for e in signed_entries(self.audit.directory, self.device_keys(), needle):
            files = e.data.get("files")
            if "renewed" not in e.data or not isinstance(files, dict) or digest not in files.values():
                continue
            if self.registrant(e.device) == practitioner_id and (
                when := self.retired_after(e.device, e.time, e)
            ):
                return (
                    f"renewed by device {e.device} of practitioner {practitioner_id}, which was retired at "
                    f"{when}, beyond the last entry of its log the retire saw: a retired device keeps no "
                    "authority, whatever date it claims"
                )
        return ""

    def late_file(self, path: Path) -> str:
        """Why the file at ``path`` counts as written by a retired device after its retire
        ("" if not): the ledger entries recording its exact bytes are all a retired device's,
        beyond the end of its log its retire names (none at all: the ledger reports it)."""
        relative = str(path.relative_to(self.root))
        digest = ledger.digest(path)
        late = []
        for e in signed_entries(self.audit.directory, self.device_keys(), json.dumps(relative).encode()):
            files = e.data.get("files")
            if not isinstance(files, dict) or files.get(relative) != digest:
                continue
            when = self.retired_after(e.device, e.time, e)
            if when is None:
                return ""
            late.append(f"device {e.device} of practitioner {self.registrant(e.device)}, retired at {when}")
        return (
            f"written by {'; '.join(sorted(set(late)))}, beyond the last entry of its log the retire saw: a "
            "retired device keeps no authority, whatever date it claims"
            if late
            else ""
        )

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
        else the vouched identity's, only if they never renewed it. Not the old one after a
        renewal: an older copy of their key record, with the old passphrase, would open it;
        and a record put back over the renewed one is such a copy (TamperedFile)."""
        identity = colleague.identity
        path = self.root / "practitioners" / f"{identity.practitioner_id}.json"
        try:
            record = read_record(path, PRACTITIONER_KEY_FORMAT)
            box, sign = public_keys(record, path)
        except VaultError:
            record = None
        if (
            record is not None
            and sign == identity.sign_public
            and box != identity.box_public
            and signed_box_key(record, sign) == box
            and self._renewal_recorded(identity.practitioner_id, path, b64(bytes(box)))
        ):
            return box
        if self._ever_renewed(identity.practitioner_id, path):
            raise TamperedFile(
                path,
                f"colleague {colleague.name}'s key record is not the one their latest key renewal "
                "recorded (an older copy put back?): nothing is sealed to them until a machine of "
                "theirs restores their current record",
            )
        return identity.box_public

    def _ever_renewed(self, practitioner_id: str, path: Path) -> bool:
        """Whether a device of theirs recorded renewing their key record (`renewals`): then
        the key their identity names is an old one. Cached until a log changes."""
        logs = sync_artefacts.glob(self.root / "audit", "*.log")
        stamp_ = (*self._devices_stamp, *((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in logs))
        cached = self._renewed.get(practitioner_id)
        if cached is None or cached[0] != stamp_:
            cached = self._renewed[practitioner_id] = (stamp_, bool(self.renewals(practitioner_id, path)))
        return cached[1]

    def colleagues(self) -> list[team.Colleague]:
        """The colleagues a pinned practitioner vouched for, less those refused (added from a
        machine of theirs after its retire: `refused_colleagues`)."""
        everyone = team.read_all(self.root, self.device.trusted)[0]
        refused = self._judge_colleagues().refused
        return (
            [c for c in everyone if (c.practitioner_id, c.added_by) not in refused] if refused else everyone
        )

    def refused_colleagues(self) -> list[TamperedFile]:
        """Colleague records added from a retired machine after its retire, and the devices
        registered by a colleague no other record vouches for: neither is trusted here."""
        judged = self._judge_colleagues()
        return list(judged.refused.values()) + list(judged.registrations)

    def _judge_colleagues(self) -> _Colleagues:
        """Which colleague records stand: cached with the retires; while one is refused, also
        with this device's own log (a colleague added by another process here is recorded
        just after its record is written: not refused for good for that moment)."""
        keys = self._registered()
        audit = self.root / "audit"
        own = audit / f"{self.device.device_id}.log"
        stamp = (*self._devices_stamp, audit.stat().st_mtime_ns if audit.exists() else 0)
        mtime = own.stat().st_mtime_ns if own.exists() else 0
        judged = self._judged
        if judged is None or judged.stamp != stamp or judged.refused and judged.own != mtime:
            everyone = team.read_all(self.root, self.device.trusted)[0]
            adders = {self._registrant(d) for d in self.retired()}
            # every log read once for all colleagues, not once each: a practice has many
            adds = (
                signed_entries(audit, keys, ADD_NEEDLE) if any(c.added_by in adders for c in everyone) else []
            )
            refused = {
                (c.practitioner_id, c.added_by): TamperedFile(team.path_for(self.root, c), why)
                for c in everyone
                if (why := self._colleague_refusal(c, adds))
            }
            standing = {c.practitioner_id for c in everyone if (c.practitioner_id, c.added_by) not in refused}
            outcast = frozenset({pid for pid, _ in refused} - standing - set(self.device.trusted))
            registrations = tuple(
                TamperedFile(
                    self.root / "devices" / f"{d}.json",
                    f"a device registered by practitioner {self._registrants[d]}, whom only a colleague "
                    "record written from a retired machine vouches for: it is not a device of this practice",
                )
                for d in sorted(keys)
                if self._registrants.get(d) in outcast
            )
            judged = self._judged = _Colleagues(stamp, mtime, refused, outcast, registrations)
        return judged

    def _colleague_refusal(self, colleague: team.Colleague, adds: list[Entry]) -> str:
        """Why a colleague record does not stand ("" if it does). It is signed with the
        practitioner's own key, which a thief with the passphrase uses from a stolen laptop
        with its clock set back; so once a machine of theirs is retired, it stands only if
        a device of theirs recorded it (``practitioner-add``, with its SHA-256 where casenotes
        wrote one) while it had authority (not retired, or before its retire by its log)."""
        by = colleague.added_by
        retired = sorted(d for d in self.retired() if self._registrant(d) == by)
        if not retired:
            return ""
        path = team.path_for(self.root, colleague)
        digest = ledger.digest(path)
        # an older entry names no digest: it vouches for the bytes a retire of theirs had
        had = any((b := self.before_retire(d)) is not None and b.vouches(digest) for d in retired)
        late = []
        for entry in adds:  # the signed `practitioner-add` entries
            if (
                entry.event != "practitioner-add"
                or entry.data.get("practitioner") != colleague.practitioner_id
                or self._registrant(entry.device) != by
                or entry.data.get("sha256", digest if had else None) != digest
            ):
                continue
            if self.retired_after(entry.device, entry.time, entry) is None:
                return ""
            late.append(entry.device)
        wrote = f"recorded by device {', '.join(sorted(set(late)))}" if late else "recorded by no device"
        return (
            f"refused: colleague {colleague.name!r} ({colleague.practitioner_id}) added by practitioner "
            f"{by}, {wrote} of theirs that had authority then (device {', '.join(retired)} retired: a "
            "retired machine keeps none, whatever date it claims); nothing is sealed to them and they "
            "vouch for no device: remove the file, and add them again from a machine you kept if they "
            "are a colleague"
        )

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
        added = team.add_colleague(self.root, record, pid, practitioner.practitioner_id)
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
            sha256=ledger.digest(added),  # what a retire checks it against (`_colleague_refusal`)
            **({"files": ledger.files(self.root, index)} if written else {}),
        )
        self._judged = None
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
        return list(self._bad_registrations) + list(self._read_retired().bad) + self.refused_colleagues()
