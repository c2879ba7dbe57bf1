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
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey, SealedBox

from .. import durable
from ..backup.snapshots import BackupTarget, Progress, Snapshot
from ..errors import (
    DeviceMissing,
    HandleTaken,
    NotAPractice,
    NoteLocked,
    TamperedFile,
    UnknownClient,
    UnknownNote,
    WriteFailed,
    WrongPassphrase,
    reason,
)
from ..format import revision as revision_format
from ..format.constants import (
    CONTENT_MAC_BYTES,
    CONTENT_MAC_PERSON,
    PRACTICE_FORMAT,
    PRACTITIONER_KEY_FORMAT,
    KdfParams,
)
from ..format.encoding import Clock, canonical, is_id, new_id, stamp, utc_now
from ..format.keys import (
    Practitioner,
    load_device,
    read_record,
    unlock_practitioner,
    wrap_practitioner,
)
from ..format.redact import Passphrase, Plaintext
from .audit import AuditLog
from .client_keys import Keyring
from .clients import (
    PROFILE_RECORD_ID,
    Profile,
    blind,
    client_record,
    index_record,
    read_index_record,
)
from .trust import Trust

REVISION_NAME = re.compile(r"^(\d{6})-([0-9a-f]{16})\.rev$")
ADDING = ".adding-"  # a client being made; renamed to its id when complete


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
        self.trust = Trust(root, self.device, self.audit, clock)
        self.keyring = Keyring(self.trust)
        self._backup_lock_depth = 0

    # -- backups --------------------------------------------------------------------------
    @contextmanager
    def backup_lock(self) -> Iterator[None]:
        """One backup or purge at a time on this machine: a purge collecting unreferenced
        objects must not delete those a running backup has just written. Re-entrant."""
        if self._backup_lock_depth:
            self._backup_lock_depth += 1
            try:
                yield
            finally:
                self._backup_lock_depth -= 1
            return
        with durable.locked(self.device_dir / "backup.lock"):
            self._backup_lock_depth = 1
            try:
                yield
            finally:
                self._backup_lock_depth = 0

    def backup(self, destination: BackupTarget, progress: Progress | None = None) -> Snapshot:
        """A snapshot of the whole vault on a target (audited, checkpoint included)."""
        with self.backup_lock():
            return self._backup(destination, progress)

    def _backup(self, destination: BackupTarget, progress: Progress | None) -> Snapshot:
        self.audit.checkpoint()  # the snapshot carries the signed head, so a cut log is caught
        destination.open(self.practice_id, create=True)
        snap = destination.snapshot(self.root, self.device, stamp(self.clock()), progress)
        self.audit.append("backup", snapshot=snap.name, files=len(snap.files))
        return snap

    def sweep(self, now: float) -> int:
        """Remove what killed writers left: temp files in the vault and the device folder,
        and clients whose `add_client` never finished (hidden ``.adding-*`` folders). Only
        leftovers older than an hour: a younger one may be a writer still at work."""
        removed = durable.sweep_temps(self.root, now) + durable.sweep_temps(self.device_dir, now)
        clients = self.root / "clients"
        for staging in clients.glob(f"{ADDING}*") if clients.is_dir() else []:
            try:
                if now - staging.stat().st_mtime >= durable.STALE_TEMP_SECONDS:
                    shutil.rmtree(staging)
                    removed += 1
            except OSError:
                continue  # the next sweep tries again
        return removed

    def record_restore(self, snapshot: str) -> None:
        self.audit.append("restore", snapshot=snapshot)

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

    # -- clients ------------------------------------------------------------------------
    def client_dir(self, client_id: str) -> Path:
        return self.keyring.client_dir(client_id)

    def client_ids(self) -> list[str]:
        folder = self.root / "clients"
        return sorted(p.name for p in folder.iterdir() if is_id(p.name)) if folder.exists() else []

    def add_client(
        self,
        handle: str,
        name: str | None = None,
        dob: str | None = None,
        on_created: Callable[[str], None] | None = None,
    ) -> str:
        """Create a client: needs no passphrase, since only public keys are used.

        All or nothing: the client is made in a hidden ``clients/.adding-<cid>/`` folder,
        renamed into place, ``on_created(client_id)`` adds what the layers above keep
        (retention facts), and only then is the handle written. A failure on the way removes
        what was made, so no orphan id is left and running the command again works (a kill
        leaves at most the hidden folder, which syncd's sweep removes).
        """
        blinded = blind(handle, self.device.index_key)
        index_path = self.root / "index" / f"{blinded}.json"
        if index_path.exists():
            raise HandleTaken("")
        client_id = new_id()
        folder = self.client_dir(client_id)
        staging = folder.with_name(f"{ADDING}{client_id}")
        try:
            profile = self._stage_client(staging, client_id, Profile(client_id, handle, name, dob))
            try:
                os.rename(staging, folder)
            except OSError as exc:
                raise WriteFailed(folder, reason(exc)) from exc
            durable.fsync_dir(folder.parent)
            if on_created is not None:
                on_created(client_id)
            try:
                durable.write_new(index_path, index_record(blinded, client_id, self.device))
            except FileExistsError:
                raise HandleTaken(" (another machine took it a moment ago)") from None
        except BaseException:
            for made in (staging, folder):
                shutil.rmtree(made, ignore_errors=True)
            raise
        profile = folder / profile.relative_to(staging)
        self.audit.append(
            "seal",
            client=client_id,
            note=PROFILE_RECORD_ID,
            revision=1,
            final=False,
            file=str(profile.relative_to(self.root)),
            sha256=hashlib.sha256(profile.read_bytes()).hexdigest(),
        )
        self.audit.append("client-add", client=client_id)
        return client_id

    def _stage_client(self, staging: Path, client_id: str, profile: Profile) -> Path:
        """Write a new client's key records and first profile revision into ``staging``;
        returns the profile revision's path."""
        key = PrivateKey.generate()
        durable.write_new(
            staging / "client.json",
            client_record(client_id, key.public_key, self.device, stamp(self.clock())),
        )
        # Only the practitioner adding the client reads it; colleagues by `access grant`.
        own = self.device.practitioner_id
        owner_key = self.keyring.practitioner_box_keys()[own]
        durable.write_new(staging / "access" / f"{own}.sealed", SealedBox(owner_key).encrypt(bytes(key)))
        body = profile.to_bytes()
        header = revision_format.RevisionHeader(
            client_id, PROFILE_RECORD_ID, 1, self.device.device_id, "profile", False,
            stamp(self.clock()), self.content_mac(body),
        )  # fmt: skip
        data, file_key = revision_format.seal(header, body, key.public_key, self.device)
        path = staging / "records" / PROFILE_RECORD_ID / f"{1:06d}-{self.device.device_id}.rev"
        durable.write_new(path, data)
        self._read_back(path, data, file_key, body)
        return path

    def resolve(self, handle: str) -> str:
        """Client id for a handle, without a passphrase (through the blinded index)."""
        path = self.root / "index" / f"{blind(handle, self.device.index_key)}.json"
        if not path.exists():
            raise UnknownClient("")
        client_id = read_index_record(path, self.trust.device_keys())
        if not self.client_dir(client_id).exists():
            raise UnknownClient(" (its records are gone: purged or not yet synced)")
        return client_id

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
        key = self.trust.device_keys().get(parsed.header.device)
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
        public = self.keyring.client_public(client_id)
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
        keys = self.keyring.client_keys(practitioner, client_id)
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
        _, body = self.open_revision(revisions[-1][2], self.keyring.client_keys(practitioner, client_id))
        return Profile.from_bytes(client_id, body)

    def profiles(self, practitioner: Practitioner) -> Iterator[Profile]:
        """Profiles of every client this practitioner may read (audited as one decryption)."""
        readable = [
            cid
            for cid in self.client_ids()
            if practitioner.practitioner_id in self.keyring.access_holders(cid)
        ]
        self.audit.append(
            "decrypt-profiles", clients=len(readable), practitioner=practitioner.practitioner_id
        )
        for cid in readable:
            yield self._open_profile(practitioner, cid)

    def find(self, practitioner: Practitioner, handle: str) -> Profile:
        return self.read_profile(practitioner, self.resolve(handle))
