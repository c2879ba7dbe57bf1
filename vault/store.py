"""The vault on disk: one practice's keys, clients, sealed revisions and audit log.

Layout (every name below ``vault/`` is an id, a blinded value or a number; see
docs/format.md)::

    practice.json                           practice id, format
    practitioners/<pid>.json                wrapped practitioner keys
    practitioners/<pid>.index               the handle-index key, sealed to the practitioner
    devices/<did>.json                      device registrations, signed by a practitioner
    index/<blinded handle>.json             blinded handle -> client id, signed by a device
    clients/<cid>/client.json               the client's public key, signed by a device
    clients/<cid>/keys/<gen>.json           a newer client key pair's public half (after a revoke)
    clients/<cid>/access/<pid>[.<gen>].sealed   the client's private key(s), sealed to a practitioner
    colleagues/<pid>-<by>.json              a colleague's identity, signed by the practitioner ``by``
    clients/<cid>/records/<nid>/<rev>-<did>.rev   one sealed revision (record 0…0 = profile)
    audit/<did>.log, audit/<did>.checkpoint       the audit log and its signed head

Every file is written once under a unique name, except a practitioner's own key file
(rewritten on a passphrase change) and a device's own log and checkpoint, so a file-sync
engine between the machines of a group practice never sees two writers of one file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nacl.exceptions
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from . import colleagues as team
from . import durable
from . import seal as revision_format
from .audit import AuditLog
from .backup import BackupTarget, Progress, Snapshot
from .clients import (
    PROFILE_RECORD_ID,
    Profile,
    blind,
    client_record,
    index_record,
    key_record,
    read_client_record,
    read_index_record,
    read_key_record,
)
from .constants import (
    CONTENT_MAC_BYTES,
    CONTENT_MAC_PERSON,
    DEVICE_REGISTRATION_FORMAT,
    JSON_FORMAT_VERSION,
    PRACTICE_FORMAT,
    PRACTITIONER_KEY_FORMAT,
    KdfParams,
)
from .encoding import b64, canonical, is_id, new_id
from .errors import (
    DeviceMissing,
    HandleTaken,
    KeyFileInvalid,
    NoAccess,
    NotAPractice,
    NoteLocked,
    PracticeExists,
    TamperedFile,
    UnknownClient,
    UnknownNote,
    WriteFailed,
    WrongPassphrase,
)
from .keys import (
    Device,
    Practitioner,
    check_registration,
    load_device,
    public_keys,
    read_record,
    registration,
    save_device,
    unlock_practitioner,
    wrap_practitioner,
)
from .redact import Passphrase, Plaintext

Clock = Callable[[], datetime]
REVISION_NAME = re.compile(r"^(\d{6})-([0-9a-f]{16})\.rev$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SealedRevision:
    client_id: str
    note_id: str
    revision: int
    path: Path
    unchanged: bool = False  # the newest revision already held these exact bytes


@dataclass(frozen=True, repr=False)
class OpenedNote:
    """The newest revision of one note, decrypted."""

    note_id: str
    revision: int
    sealed_at: str
    final: bool
    body: Plaintext

    def __repr__(self) -> str:
        return f"<OpenedNote {self.note_id} r{self.revision}>"


class Vault:
    """One practice's vault, opened with this machine's device key."""

    def __init__(self, root: Path, config_dir: Path, clock: Clock = utc_now) -> None:
        self.root = root
        self.clock = clock
        practice = root / "practice.json"
        if not practice.exists():
            raise NotAPractice(root)
        self.practice_id = str(read_record(practice, PRACTICE_FORMAT, TamperedFile)["practice_id"])
        self.device_dir = config_dir / self.practice_id
        device_file = self.device_dir / "device.json"
        if not device_file.exists():
            raise DeviceMissing(config_dir)
        self.device = load_device(device_file)
        self.audit = AuditLog(root / "audit", self.device, clock, self.device_dir)
        self._device_keys: dict[str, VerifyKey] | None = None
        self._devices_stamp: tuple[int, ...] = ()
        self._client_generations: dict[str, list[PublicKey]] = {}

    # -- creating a practice ----------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: Path,
        config_dir: Path,
        passphrase: Passphrase,
        kdf: KdfParams,
        clock: Clock = utc_now,
    ) -> Vault:
        """A new vault with one practitioner and this machine registered as its device."""
        if (root / "practice.json").exists():
            raise PracticeExists(root)
        practice_id = new_id()
        practitioner = Practitioner(new_id(), PrivateKey.generate(), SigningKey.generate())
        device = Device(
            new_id(),
            practice_id,
            practitioner.practitioner_id,
            SigningKey.generate(),
            nacl.utils.random(32),
            {practitioner.practitioner_id: b64(bytes(practitioner.signing_key.verify_key))},
            {practitioner.practitioner_id: b64(bytes(practitioner.box_key.public_key))},
        )
        when = stamp(clock())
        pid, did = practitioner.practitioner_id, device.device_id
        durable.make_dirs(root)
        durable.write_new(
            root / "practitioners" / f"{pid}.json",
            canonical(wrap_practitioner(practitioner, passphrase, kdf)),
        )
        durable.write_new(
            root / "practitioners" / f"{pid}.index",
            SealedBox(practitioner.box_key.public_key).encrypt(device.index_key),
        )
        durable.write_new(
            root / "devices" / f"{did}.json", canonical(registration(device, practitioner, when))
        )
        save_device(config_dir / practice_id / "device.json", device)
        # practice.json last: until it exists, the folder is not a practice, and init can rerun.
        durable.write_new(
            root / "practice.json",
            canonical(
                {
                    "format": PRACTICE_FORMAT,
                    "version": JSON_FORMAT_VERSION,
                    "practice_id": practice_id,
                    "created": when,
                }
            ),
        )
        vault = cls(root, config_dir, clock)
        vault.audit.append("init", practitioner=pid, kdf_opslimit=kdf.opslimit, kdf_memlimit=kdf.memlimit)
        vault.audit.checkpoint()
        return vault

    # -- backups --------------------------------------------------------------------------
    def backup(self, destination: BackupTarget, progress: Progress | None = None) -> Snapshot:
        """A snapshot of the whole vault on a target (audited, checkpoint included)."""
        self.audit.checkpoint()  # the snapshot carries the signed head, so a cut log is caught
        destination.open(self.practice_id, create=True)
        snap = destination.snapshot(self.root, self.device, stamp(self.clock()), progress)
        self.audit.append("backup", snapshot=snap.name, files=len(snap.files))
        return snap

    def record_restore(self, snapshot: str) -> None:
        self.audit.append("restore", snapshot=snapshot)

    @classmethod
    def register_device(
        cls, root: Path, config_dir: Path, passphrase: Passphrase, clock: Clock = utc_now
    ) -> Vault:
        """Register this machine for a vault that has no device key here (a restore, a new laptop).

        The passphrase proves the practitioner; their key then vouches for the new device,
        and the handle-index key is unsealed from the vault.
        """
        practice = root / "practice.json"
        if not practice.exists():
            raise NotAPractice(root)
        practice_id = str(read_record(practice, PRACTICE_FORMAT, TamperedFile)["practice_id"])
        keys = sorted((root / "practitioners").glob("*.json"))
        for key_file in keys:
            try:
                practitioner = unlock_practitioner(key_file, passphrase)
                break
            except WrongPassphrase:
                continue
        else:
            raise WrongPassphrase(root / "practitioners")
        index_file = root / "practitioners" / f"{practitioner.practitioner_id}.index"
        device = Device(
            new_id(),
            practice_id,
            practitioner.practitioner_id,
            SigningKey.generate(),
            practitioner.open_sealed(index_file.read_bytes()),
            {practitioner.practitioner_id: b64(bytes(practitioner.signing_key.verify_key))},
            {practitioner.practitioner_id: b64(bytes(practitioner.box_key.public_key))},
        )
        durable.write_new(
            root / "devices" / f"{device.device_id}.json",
            canonical(registration(device, practitioner, stamp(clock()))),
        )
        save_device(config_dir / practice_id / "device.json", device)
        vault = cls(root, config_dir, clock)
        vault.audit.append("device-registered", practitioner=practitioner.practitioner_id)
        return vault

    def close(self) -> None:
        """Sign the audit log's head, so a later cut-off of its tail is detected."""
        self.audit.checkpoint()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- practitioner -------------------------------------------------------------------
    @property
    def practitioner_file(self) -> Path:
        return self.root / "practitioners" / f"{self.device.practitioner_id}.json"

    def unlock(self, passphrase: Passphrase) -> Practitioner:
        try:
            practitioner = unlock_practitioner(self.practitioner_file, passphrase)
        except WrongPassphrase:
            self.audit.append("unlock-failed", practitioner=self.device.practitioner_id)
            raise
        self.audit.append("unlock", practitioner=practitioner.practitioner_id)
        return practitioner

    def change_passphrase(self, old: Passphrase, new: Passphrase, kdf: KdfParams | None = None) -> None:
        """Re-wrap the practitioner keys; no note, client key or backup is re-encrypted."""
        practitioner = self.unlock(old)
        if kdf is None:
            current = read_record(self.practitioner_file, PRACTITIONER_KEY_FORMAT)["kdf"]
            kdf = KdfParams(current["opslimit"], current["memlimit"])
        durable.replace(self.practitioner_file, canonical(wrap_practitioner(practitioner, new, kdf)))
        self.audit.append("passphrase-changed", practitioner=practitioner.practitioner_id)

    # -- devices ------------------------------------------------------------------------
    def device_keys(self) -> dict[str, VerifyKey]:
        """Public keys of every device a pinned practitioner registered (cached until the
        devices folder changes: a daemon sees a machine registered while it runs)."""
        folders = [self.root / "devices", self.root / "colleagues"]
        stamp = tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in folders)
        if self._device_keys is None or stamp != self._devices_stamp:
            self._devices_stamp = stamp
            self._device_keys = {}
            signers = self.trusted_signers()
            for path in sorted((self.root / "devices").glob("*.json")):
                try:
                    self._device_keys[path.stem] = check_registration(path, signers)
                except TamperedFile:
                    continue  # verify() reports it; an unregistered device signs nothing valid
        return self._device_keys

    def trusted_signers(self) -> dict[str, str]:
        """Practitioners whose signatures this device accepts: its pins, and the colleagues
        a pinned practitioner added (one step: a colleague's colleague is not trusted)."""
        signers = dict(self.device.trusted)
        for colleague in team.colleagues(self.root, self.device.trusted):
            signers.setdefault(colleague.practitioner_id, b64(bytes(colleague.identity.sign_public)))
        return signers

    def colleagues(self) -> list[team.Colleague]:
        return team.colleagues(self.root, self.device.trusted)

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
        if pid == practitioner.practitioner_id:
            raise team.IdentityInvalid("it is your own")
        record = team.colleague_record(
            name, identity, practitioner.practitioner_id, practitioner.signing_key, stamp(self.clock())
        )
        team.add_colleague(self.root, record, pid, practitioner.practitioner_id)
        own_key = self.root / "practitioners" / f"{pid}.json"
        index = self.root / "practitioners" / f"{pid}.index"
        member = (
            own_key.exists()
            and public_keys(read_record(own_key, PRACTITIONER_KEY_FORMAT), own_key)[0] == identity.box_public
        )
        if member and not index.exists():
            durable.write_new(index, SealedBox(identity.box_public).encrypt(self.device.index_key))
        self.audit.append("practitioner-add", practitioner=pid, same_practice=member)
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
        found = []
        signers = self.trusted_signers()
        for path in sorted((self.root / "devices").glob("*.json")):
            try:
                check_registration(path, signers)
            except TamperedFile as exc:
                found.append(exc)
        return found

    # -- clients ------------------------------------------------------------------------
    def client_dir(self, client_id: str) -> Path:
        return self.root / "clients" / client_id

    def client_ids(self) -> list[str]:
        folder = self.root / "clients"
        return sorted(p.name for p in folder.iterdir() if is_id(p.name)) if folder.exists() else []

    def add_client(self, handle: str, name: str | None = None, dob: str | None = None) -> str:
        """Create a client: needs no passphrase, since only public keys are used."""
        blinded = blind(handle, self.device.index_key)
        index_path = self.root / "index" / f"{blinded}.json"
        if index_path.exists():
            raise HandleTaken("")
        client_id = new_id()
        key = PrivateKey.generate()
        folder = self.client_dir(client_id)
        durable.write_new(
            folder / "client.json",
            client_record(client_id, key.public_key, self.device, stamp(self.clock())),
        )
        # Only the practitioner adding the client reads it; colleagues by `access grant`.
        own = self.device.practitioner_id
        owner_key = self._practitioner_box_keys()[own]
        durable.write_new(folder / "access" / f"{own}.sealed", SealedBox(owner_key).encrypt(bytes(key)))
        profile = Profile(client_id, handle, name, dob)
        self.seal_record(client_id, PROFILE_RECORD_ID, profile.to_bytes(), kind="profile")
        try:
            durable.write_new(index_path, index_record(blinded, client_id, self.device))
        except FileExistsError:
            raise HandleTaken(" (another machine took it a moment ago)") from None
        self.audit.append("client-add", client=client_id)
        return client_id

    def _practitioner_box_keys(self) -> dict[str, PublicKey]:
        """The keys new client keys are sealed to, each checked against this device's pin:
        a swapped key would let whoever swapped it read every new client's notes."""
        keys = {}
        for pid in self.device.trusted:
            path = self.root / "practitioners" / f"{pid}.json"
            key = public_keys(read_record(path, PRACTITIONER_KEY_FORMAT), path)[0]
            pinned = self.device.trusted_box.get(pid)
            if pinned is not None and pinned != b64(bytes(key)):
                raise TamperedFile(
                    path, "the practitioner's encryption key is not the one this device pinned (swapped?)"
                )
            keys[pid] = key
        return keys

    def bad_practitioner_keys(self) -> list[TamperedFile]:
        try:
            self._practitioner_box_keys()
        except (TamperedFile, KeyFileInvalid) as exc:
            return [TamperedFile(exc.path, str(exc))] if isinstance(exc, KeyFileInvalid) else [exc]
        return []

    def resolve(self, handle: str) -> str:
        """Client id for a handle, without a passphrase (through the blinded index)."""
        path = self.root / "index" / f"{blind(handle, self.device.index_key)}.json"
        if not path.exists():
            raise UnknownClient("")
        client_id = read_index_record(path, self.device_keys())
        if not self.client_dir(client_id).exists():
            raise UnknownClient(" (its records are gone: purged or not yet synced)")
        return client_id

    def client_public(self, client_id: str) -> PublicKey:
        """The key new revisions are sealed to: the client's newest key generation."""
        return self.client_generations(client_id)[-1]

    def client_generations(self, client_id: str) -> list[PublicKey]:
        """Every public key the client has had, oldest first (a revoke adds one)."""
        if client_id not in self._client_generations:
            path = self.client_dir(client_id) / "client.json"
            if not path.exists():
                raise UnknownClient("")
            keys = [read_client_record(path, self.device_keys())]
            folder = self.client_dir(client_id) / "keys"
            for number, key_file in enumerate(sorted(folder.glob("*.json")) if folder.is_dir() else [], 2):
                keys.append(read_key_record(key_file, number, self.device_keys()))
            self._client_generations[client_id] = keys
        return self._client_generations[client_id]

    def access_file(self, practitioner_id: str, client_id: str, generation: int) -> Path:
        suffix = "" if generation == 1 else f".{generation:06d}"
        return self.client_dir(client_id) / "access" / f"{practitioner_id}{suffix}.sealed"

    def access_holders(self, client_id: str) -> set[str]:
        folder = self.client_dir(client_id) / "access"
        return {p.name.split(".")[0] for p in folder.glob("*.sealed")} if folder.is_dir() else set()

    def client_keys(self, practitioner: Practitioner, client_id: str) -> list[PrivateKey]:
        """Every private key of the client this practitioner holds, newest first."""
        generations = self.client_generations(client_id)
        for generation in range(len(generations), 0, -1):
            path = self.access_file(practitioner.practitioner_id, client_id, generation)
            if path.exists():
                break
        else:
            self.audit.append("access-denied", client=client_id, practitioner=practitioner.practitioner_id)
            raise NoAccess(client_id)
        try:
            secret = practitioner.open_sealed(path.read_bytes())
            keys = [PrivateKey(secret[i : i + 32]) for i in range(0, len(secret), 32)]
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise TamperedFile(path, "sealed client key does not open") from exc
        if [k.public_key for k in keys] != generations[: len(keys)] or len(keys) != generation:
            raise TamperedFile(path, "sealed client key belongs to another client")
        return keys[::-1]

    def seal_access(self, client_id: str, keys: list[PrivateKey], to_id: str, to_key: PublicKey) -> Path:
        """Seal a client's keys (newest first) to a practitioner; write-once."""
        path = self.access_file(to_id, client_id, len(keys))
        durable.write_new(path, SealedBox(to_key).encrypt(b"".join(bytes(k) for k in reversed(keys))))
        return path

    def add_generation(self, client_id: str, key: PrivateKey) -> None:
        """Make a new key pair the one new revisions are sealed to (after a revoke)."""
        number = len(self.client_generations(client_id)) + 1
        durable.write_new(
            self.client_dir(client_id) / "keys" / f"{number:06d}.json",
            key_record(client_id, number, key.public_key, self.device, stamp(self.clock())),
        )
        self._client_generations.pop(client_id, None)

    # -- revisions ----------------------------------------------------------------------
    def revisions(self, client_id: str, note_id: str) -> list[tuple[int, str, Path]]:
        """(revision, device, path) of one note's revision files, oldest first."""
        folder = self.client_dir(client_id) / "records" / note_id
        found = []
        if folder.exists():
            for path in folder.iterdir():
                match = REVISION_NAME.match(path.name)
                if match:
                    found.append((int(match[1]), match[2], path))
        return sorted(found)

    def note_ids(self, client_id: str) -> list[str]:
        folder = self.client_dir(client_id) / "records"
        if not folder.exists():
            return []
        return sorted(p.name for p in folder.iterdir() if is_id(p.name) and p.name != PROFILE_RECORD_ID)

    def locate_note(self, note_id: str) -> str:
        """The client id a note belongs to (from the folder names; nothing is decrypted)."""
        if is_id(note_id) and note_id != PROFILE_RECORD_ID:
            for client_id in self.client_ids():
                if (self.client_dir(client_id) / "records" / note_id).is_dir():
                    return client_id
        raise UnknownNote("in this practice", note_id)

    def load(self, path: Path) -> revision_format.ParsedRevision:
        parsed = revision_format.parse(path.read_bytes(), path)
        key = self.device_keys().get(parsed.header.device)
        if key is None:
            raise TamperedFile(path, "signed by an unregistered device (forged?)")
        revision_format.check_signature(parsed, path, key)
        return parsed

    def check_place(self, parsed: revision_format.ParsedRevision, path: Path) -> None:
        """The header must name the folder and file the revision lies in."""
        match = REVISION_NAME.match(path.name)
        h = parsed.header
        in_profile_folder = path.parent.name == PROFILE_RECORD_ID
        if (
            h.client != path.parent.parent.parent.name
            or h.note != path.parent.name
            or (h.kind == "profile") != in_profile_folder
        ):
            raise TamperedFile(path, "revision belongs to another client or note (moved or swapped)")
        if not match or int(match[1]) != h.revision or match[2] != h.device:
            raise TamperedFile(path, "revision number does not match its file (renamed or swapped)")

    def seal(self, client_id: str, note_id: str, body: bytes, final: bool = False) -> SealedRevision:
        """Seal ``body`` as the next revision of a note; durable and read back on return."""
        if not is_id(note_id) or note_id == PROFILE_RECORD_ID:
            raise ValueError("note ids are 16 lowercase hex digits")
        return self.seal_record(client_id, note_id, body, "note", final)

    def seal_record(
        self, client_id: str, note_id: str, body: bytes, kind: revision_format.RecordKind, final: bool = False
    ) -> SealedRevision:
        public = self.client_public(client_id)
        mac = self.content_mac(body)
        existing = self.revisions(client_id, note_id)
        number = 1
        if existing:
            newest, _, newest_path = existing[-1]
            latest = self.load(newest_path).header
            if latest.content_mac == mac and latest.final == final:
                # Same bytes again (an editor's no-op save, or a retry after a crash
                # between sealing and cleaning up): no duplicate revision.
                return SealedRevision(client_id, note_id, newest, newest_path, unchanged=True)
            if latest.final:
                raise NoteLocked(note_id)
            number = newest + 1
        while True:  # another writer may take a number first; revision files are write-once
            header = revision_format.RevisionHeader(
                client_id, note_id, number, self.device.device_id, kind, final, stamp(self.clock()), mac
            )
            data, file_key = revision_format.seal(header, body, public, self.device)
            path = (
                self.client_dir(client_id) / "records" / note_id / f"{number:06d}-{self.device.device_id}.rev"
            )
            try:
                durable.write_new(path, data)
                break
            except FileExistsError:
                number += 1
        self._read_back(path, data, file_key, body)
        self.audit.append(
            "seal",
            client=client_id,
            note=note_id,
            revision=number,
            final=final,
            file=str(path.relative_to(self.root)),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        return SealedRevision(client_id, note_id, number, path)

    def content_mac(self, body: bytes) -> str:
        return hashlib.blake2b(
            body, key=self.device.index_key, digest_size=CONTENT_MAC_BYTES, person=CONTENT_MAC_PERSON
        ).hexdigest()

    def _read_back(self, path: Path, written: bytes, file_key: bytes, body: bytes) -> None:
        """Read the file back from disk and open it before anyone trusts it."""
        data = path.read_bytes()
        parsed = self.load(path)
        if data != written or revision_format.decrypt_with_file_key(parsed, file_key, path) != body:
            raise WriteFailed(path, "the revision read back differs from what was written")

    def open_revision(
        self, path: Path, client_keys: list[PrivateKey], parsed: revision_format.ParsedRevision | None = None
    ) -> tuple[revision_format.ParsedRevision, Plaintext]:
        """Check and decrypt one revision with whichever of the client's keys sealed it."""
        parsed = parsed or self.load(path)
        self.check_place(parsed, path)
        for key in client_keys[:-1]:
            try:
                return parsed, revision_format.decrypt(parsed, key, path)
            except TamperedFile:
                continue  # sealed under another generation of the client's key
        return parsed, revision_format.decrypt(parsed, client_keys[-1], path)

    def read_notes(
        self,
        practitioner: Practitioner,
        client_id: str,
        note_id: str | None = None,
        damaged: list[TamperedFile] | None = None,
    ) -> list[OpenedNote]:
        """The newest revision of each note of a client (or of one note), decrypted."""
        if note_id is not None and (not is_id(note_id) or note_id == PROFILE_RECORD_ID):
            raise UnknownNote(f"for client {client_id}", "with that id (ids are 16 hex digits)")
        keys = self.client_keys(practitioner, client_id)
        note_ids = [note_id] if note_id else self.note_ids(client_id)
        opened = []
        for nid in note_ids:
            revisions = self.revisions(client_id, nid)
            if not revisions:
                raise UnknownNote(f"for client {client_id}", nid)
            try:
                parsed = self.load(revisions[-1][2])
                if parsed.header.kind != "note":
                    continue  # a consent or an attached document: not a session note
                parsed, body = self.open_revision(revisions[-1][2], keys, parsed)
            except TamperedFile as exc:
                if damaged is None:
                    raise
                damaged.append(exc)  # the caller shows it as damaged, never drops it silently
                continue
            h = parsed.header
            opened.append(OpenedNote(nid, h.revision, h.sealed_at, h.final, body))
        self.audit.append(
            "decrypt",
            client=client_id,
            notes=len(opened),
            practitioner=practitioner.practitioner_id,
        )
        return opened

    def read_profile(self, practitioner: Practitioner, client_id: str) -> Profile:
        """One client's profile, decrypted (audited)."""
        profile = self._open_profile(practitioner, client_id)
        self.audit.append("decrypt-profile", client=client_id, practitioner=practitioner.practitioner_id)
        return profile

    def _open_profile(self, practitioner: Practitioner, client_id: str) -> Profile:
        revisions = self.revisions(client_id, PROFILE_RECORD_ID)
        if not revisions:
            raise TamperedFile(self.client_dir(client_id), "the client's profile is missing")
        _, body = self.open_revision(revisions[-1][2], self.client_keys(practitioner, client_id))
        return Profile.from_bytes(client_id, body)

    def profiles(self, practitioner: Practitioner) -> Iterator[Profile]:
        """Profiles of every client this practitioner may read (audited as one decryption)."""
        readable = [
            cid for cid in self.client_ids() if practitioner.practitioner_id in self.access_holders(cid)
        ]
        self.audit.append(
            "decrypt-profiles", clients=len(readable), practitioner=practitioner.practitioner_id
        )
        for cid in readable:
            yield self._open_profile(practitioner, cid)

    def find(self, practitioner: Practitioner, handle: str) -> Profile:
        return self.read_profile(practitioner, self.resolve(handle))
