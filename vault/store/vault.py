"""The vault on disk: one practice's keys, clients, sealed revisions and audit log.

Layout (every name below ``vault/`` is an id, a blinded value or a number; see
docs/format.md)::

    practice.json                           practice id, format
    practitioners/<pid>.json                wrapped practitioner keys
    practitioners/<pid>.index               the handle-index key, sealed to the practitioner
    practitioners/<pid>.recovery            a second wrapped copy, under the recovery key (recovery.py)
    devices/<did>.json                      device registrations, signed by a practitioner
    index/<blinded handle>.json             blinded handle -> client id, signed by a device
    clients/<cid>/client.json               the client's public key, signed by a device
    clients/<cid>/keys/<gen>.json           a newer client key pair's public half (after a revoke)
    clients/<cid>/access/<pid>[.<gen>].sealed   the client's private key(s), sealed to a practitioner
    colleagues/<pid>-<by>.json              a colleague's identity, signed by the practitioner ``by``
    clients/<cid>/records/<nid>/<rev>-<did>.rev   one sealed revision (record 0…0 = profile)
    audit/<did>.log, audit/<did>.checkpoint       the audit log and its signed head

Every file is written once under a unique name, except a practitioner's own key file
(rewritten on a passphrase change) and recovery copy (rewritten by a new recovery set),
and a device's own log and checkpoint, so a file-sync engine between the machines of a
group practice never sees two writers of one file.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.public import PrivateKey, SealedBox

from .. import durable
from ..backup.snapshots import BackupTarget, Progress, Snapshot
from ..errors import (
    DeviceMissing,
    HandleAmbiguous,
    HandleTaken,
    KeyFileNeeded,
    NotAPractice,
    NoteForked,
    NoteLocked,
    SealIncomplete,
    TamperedFile,
    UnknownClient,
    UnknownNote,
    WriteFailed,
    WrongPassphrase,
    reason,
)
from ..format import revision as revision_format
from ..format import sync_artefacts
from ..format.constants import (
    CONTENT_MAC_BYTES,
    CONTENT_MAC_PERSON,
    PRACTICE_FORMAT,
    PRACTITIONER_KEY_FORMAT,
    KdfParams,
)
from ..format.encoding import Clock, b64, canonical, is_id, new_id, stamp, utc_now
from ..format.keys import (
    Practitioner,
    load_device,
    public_keys,
    read_record,
    second_factor,
    unlock_practitioner,
    wrap_practitioner,
)
from ..format.redact import Passphrase, Plaintext
from . import forks, ledger, leftovers
from .audit import AuditLog
from .client_keys import Keyring
from .clients import (
    PROFILE_RECORD_ID,
    Profile,
    blind,
    client_record,
    index_name,
    index_paths,
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
    completed: bool = False  # ... and an earlier, cut-short run had not audited it yet


@dataclass(frozen=True, repr=False)
class OpenedNote:
    """The newest revision of one note, decrypted."""

    note_id: str
    revision: int
    sealed_at: str
    final: bool
    body: Plaintext
    device: str = ""
    # A fork (vault/store/forks.py): the other machines' texts of this note, shown beside it.
    siblings: tuple[OpenedNote, ...] = ()

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
        self.recorded_for_older_version = 0  # files the last unlock put into the ledger

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

    def _lock_file(self, name: str) -> int:
        durable.make_dirs(self.device_dir)
        path = self.device_dir / name
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT, durable.FILE_MODE)
        except OSError as exc:
            raise WriteFailed(path, exc.strerror or str(exc)) from exc

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Held (shared) by every write that makes a folder before its first file is in
        place; ``remove_leftovers`` takes it exclusively, so it never sweeps one away."""
        fd = self._lock_file("write.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def leftovers(self, client_id: str | None = None) -> list[Path]:
        """Folders and temp files a write cut short left behind (they hold no data)."""
        return leftovers.find(self.root, None if client_id is None else [client_id])

    def remove_leftovers(self, client_id: str | None = None) -> list[Path]:
        """Remove what ``leftovers`` finds, unless a write is under way on this machine
        (then the next run does it). Returns what was removed."""
        fd = self._lock_file("write.lock")
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []
            return leftovers.remove(self.leftovers(client_id))
        finally:
            os.close(fd)

    def backup(self, destination: BackupTarget, progress: Progress | None = None) -> Snapshot:
        """A snapshot of the whole vault on a target (audited, checkpoint included)."""
        with self.backup_lock():
            return self._backup(destination, progress)

    def _backup(self, destination: BackupTarget, progress: Progress | None) -> Snapshot:
        self.audit.checkpoint()  # the snapshot carries the signed head, so a cut log is caught
        destination.open(self.practice_id, create=True)
        snap = destination.snapshot(self.root, self.device, stamp(self.clock()), progress)
        self.audit.append("backup", snapshot=snap.name, files=snap.count)
        return snap

    def sweep(self, now: float) -> int:
        """Remove what killed writers left, in one walk of the vault: under ``clients/``,
        empty folders and temp files (``remove_leftovers``, under the write lock); elsewhere
        in the vault and the device folder, temp files, and clients whose `add_client` never
        finished (hidden ``.adding-*`` folders), only when older than an hour: a younger one
        may be a writer still at work."""
        removed = len(self.remove_leftovers())
        removed += durable.sweep_temps(self.root, now, skip={"clients"})
        removed += durable.sweep_temps(self.device_dir, now)
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

    def close(self, sync: bool = True) -> None:
        """Sign the audit log's head, so a later cut-off of its tail is detected
        (``sync=False``: not fsynced, see ``AuditLog.checkpoint``)."""
        self.audit.checkpoint(sync)

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- practitioner -------------------------------------------------------------------
    @property
    def practitioner_file(self) -> Path:
        return self.root / "practitioners" / f"{self.device.practitioner_id}.json"

    def pinned_key_record(self) -> dict[str, Any]:
        """The practitioner key record, if its public keys are the ones this device pinned."""
        path = self.practitioner_file
        pid = self.device.practitioner_id
        record = read_record(path, PRACTITIONER_KEY_FORMAT)
        box, sign = public_keys(record, path)
        if self.device.trusted.get(pid) not in (None, b64(bytes(sign))) or self.device.trusted_box.get(
            pid
        ) not in (None, b64(bytes(box))):
            raise TamperedFile(path, "the practitioner's keys are not the ones this device pinned (swapped?)")
        return record

    def requires_key_file(self) -> bool:
        """Whether the practitioner's key asks for a key file besides the passphrase."""
        path = self.practitioner_file
        return second_factor(read_record(path, PRACTITIONER_KEY_FORMAT), path) is not None

    def unlock(self, passphrase: Passphrase) -> Practitioner:
        """The practitioner's keys, after checking the key file against this device's pins
        and the handle-index key against the one this device holds. A key file damaged or
        replaced since casenotes wrote it is named as such, not taken for a wrong passphrase.
        A missing or wrong factor changes nothing but an ``unlock-failed`` audit entry."""
        path = self.practitioner_file
        pid = self.device.practitioner_id
        self.pinned_key_record()
        try:
            practitioner = unlock_practitioner(path, passphrase)
        except KeyFileNeeded:
            self.audit.append("unlock-failed", practitioner=pid, missing="key-file")
            raise
        except WrongPassphrase:
            self.audit.append("unlock-failed", practitioner=pid)
            if problem := ledger.check_file(self.root, path, self.audit.entries()):
                raise TamperedFile(problem.path, problem.why) from None
            raise
        self.audit.append("unlock", practitioner=practitioner.practitioner_id)
        index = self.root / "practitioners" / f"{pid}.index"
        try:
            same = practitioner.open_sealed(index.read_bytes()) == self.device.index_key
        except (OSError, ValueError, nacl.exceptions.CryptoError):
            same = False
        if not same:
            raise TamperedFile(index, "the handle-index key is not the one this device holds (swapped?)")
        self.recorded_for_older_version = self._record_unrecorded()
        return practitioner

    def _record_unrecorded(self) -> int:
        """Once per device: put the key, access and index files an older casenotes left out of
        the ledger into it (vault/store/ledger.py), so verify vouches for them from now on."""
        marker = self.device_dir / "ledger-recorded"
        if marker.exists():
            return 0
        found = ledger.unrecorded(self.root, self.audit.entries())
        if found:
            self.audit.append("ledger-record", files=ledger.files(self.root, *found))
        durable.write_new(marker, b"")
        return len(found)

    def change_passphrase(self, old: Passphrase, new: Passphrase, kdf: KdfParams | None = None) -> None:
        """Re-wrap the practitioner keys under ``new`` (and its key file, if it carries one);
        no note, client key or backup is re-encrypted."""
        self.rewrap(self.unlock(old), new, kdf, "passphrase-changed")

    def rewrap(self, practitioner: Practitioner, new: Passphrase, kdf: KdfParams | None, event: str) -> None:
        """Write the practitioner key file anew, wrapped under ``new``; audited as ``event``
        with the file's hash (the ledger), and whether a key file is now required."""
        if kdf is None:
            current = read_record(self.practitioner_file, PRACTITIONER_KEY_FORMAT)["kdf"]
            kdf = KdfParams(current["opslimit"], current["memlimit"])
        durable.replace(self.practitioner_file, canonical(wrap_practitioner(practitioner, new, kdf)))
        self.audit.append(
            event,
            practitioner=practitioner.practitioner_id,
            key_file=new.key_file is not None,
            files=ledger.files(self.root, self.practitioner_file),
        )

    # -- clients ------------------------------------------------------------------------
    def client_dir(self, client_id: str) -> Path:
        return self.keyring.client_dir(client_id)

    def client_ids(self) -> list[str]:
        folder = self.root / "clients"
        if not folder.exists():
            return []
        return sorted(p.name for p in folder.iterdir() if is_id(p.name) and leftovers.is_client_folder(p))

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
        if index_paths(self.root, blinded):
            raise HandleTaken("")
        with self.writing():
            return self._add_client(handle, name, dob, blinded, on_created)

    def _add_client(
        self,
        handle: str,
        name: str | None,
        dob: str | None,
        blinded: str,
        on_created: Callable[[str], None] | None,
    ) -> str:
        client_id = new_id()
        # Named for the client too: another machine adding this handle while apart writes
        # a file of its own, and readers see both (resolve).
        index_path = self.root / "index" / index_name(blinded, client_id)
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
        access = folder / "access" / f"{self.device.practitioner_id}.sealed"
        self.audit.append("client-add", client=client_id, files=ledger.files(self.root, access, index_path))
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
        """Client id for a handle, without a passphrase (through the blinded index).

        Two machines that added one handle while apart made two clients of it. Then
        ``HANDLE@<start of a client id>`` says which; without it, the one this device's
        practitioner can read is taken if only one is; else `HandleAmbiguous`, and nothing
        is guessed (so syncd never seals into the other practitioner's client)."""
        handle, _, pick = handle.partition("@")
        candidates: list[str] = []
        for path in index_paths(self.root, blind(handle, self.device.index_key)):
            client_id = read_index_record(path, self.trust.device_keys())
            if client_id not in candidates:
                candidates.append(client_id)
        if not candidates:
            raise UnknownClient("")
        present = [c for c in candidates if self.client_dir(c).exists()]
        if not present:
            raise UnknownClient(" (its records are gone: purged or not yet synced)")
        if pick:
            chosen = [c for c in present if c.startswith(pick.lower())]
            if len(chosen) != 1:
                raise UnknownClient(f" and a client id starting {pick}")
            return chosen[0]
        if len(present) == 1:
            return present[0]
        own = self.device.practitioner_id
        readable = [c for c in present if own in self.keyring.access_holders(c)]
        if len(readable) == 1:
            return readable[0]
        raise HandleAmbiguous(len(present), ", ".join(present), present[0][:6])

    def upgrade_index(self) -> list[Path]:
        """A format-1 handle-index entry (``<blinded>.json``) that two machines wrote while
        apart comes back as a sync engine's conflict copy: file the copy's client under its
        own name (``<blinded>-<cid>.json``, recorded in the ledger) and remove the copy.
        Returns the entries written. syncd runs it with its leftover sweep."""
        folder = self.root / "index"
        written = []
        for copy in sorted(folder.iterdir()) if folder.is_dir() else []:
            if sync_artefacts.kind(copy.name) != "conflict":
                continue
            try:
                client_id = read_index_record(copy, self.trust.device_keys())
            except TamperedFile:
                continue  # verify reports it
            blinded = sync_artefacts.original_name(copy.name).removesuffix(".json")
            target = folder / index_name(blinded, client_id)
            if not target.exists():
                with self.writing():
                    durable.write_new(target, index_record(blinded, client_id, self.device))
                self.audit.append("index-upgrade", client=client_id, files=ledger.files(self.root, target))
                written.append(target)
            copy.unlink()
            durable.fsync_dir(folder)
        return written

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

    def seal(
        self,
        client_id: str,
        note_id: str,
        body: bytes,
        final: bool = False,
        audit_extra: Mapping[str, str] | None = None,
    ) -> SealedRevision:
        """Seal ``body`` as the next revision of a note; durable and read back on return.

        ``audit_extra``: opaque fields (ciphertext only) a higher package asks to ride in
        the seal's audit entry, made durable by the entry's own fsync.
        """
        if not is_id(note_id) or note_id == PROFILE_RECORD_ID:
            raise ValueError("note ids are 16 lowercase hex digits")
        return self.seal_record(client_id, note_id, body, "note", final, audit_extra)

    def seal_record(
        self,
        client_id: str,
        note_id: str,
        body: bytes,
        kind: revision_format.RecordKind,
        final: bool = False,
        audit_extra: Mapping[str, str] | None = None,
    ) -> SealedRevision:
        with self.writing():
            return self._seal_record(client_id, note_id, body, kind, final, dict(audit_extra or {}))

    def fork(self, client_id: str, note_id: str) -> forks.Fork | None:
        """The note's unresolved fork (two machines sealed one revision number), if any."""
        return forks.find(self, client_id, note_id)

    def resolve_fork(
        self, practitioner: Practitioner, client_id: str, note_id: str, keep: Path
    ) -> SealedRevision:
        """Settle a fork with the text of the tip ``keep``: a merge revision naming every
        revision from the fork on. A signed tip can only be kept (it stays signed)."""
        with self.writing():
            fork = self.fork(client_id, note_id)
            if fork is None or keep not in fork.tips:
                raise UnknownNote(f"among the forked revisions of note {note_id}", keep.name)
            if fork.signed is not None and keep != fork.signed:
                raise NoteLocked(note_id)
            parsed, body = self.open_revision(keep, self.keyring.client_keys(practitioner, client_id))
            sealed = self._seal_record(
                client_id, note_id, bytes(body), parsed.header.kind, parsed.header.final, {}, fork.names
            )
        self.audit.append(
            "resolve",
            client=client_id,
            note=note_id,
            kept=keep.name,
            merges=list(fork.names),
            practitioner=practitioner.practitioner_id,
        )
        return sealed

    def _seal_record(
        self,
        client_id: str,
        note_id: str,
        body: bytes,
        kind: revision_format.RecordKind,
        final: bool,
        extra: dict[str, str],
        merges: tuple[str, ...] = (),
    ) -> SealedRevision:
        public = self.keyring.client_public(client_id)
        mac = self.content_mac(body)
        existing = self.revisions(client_id, note_id)
        number = 1
        if not merges and len({n for n, _, _ in existing}) < len(existing):
            fork = self.fork(client_id, note_id)
            if fork is not None:
                raise NoteLocked(note_id) if fork.signed is not None else NoteForked(note_id)
        if merges:
            number = existing[-1][0] + 1
        elif existing:
            newest, _, newest_path = existing[-1]
            latest = self.load(newest_path).header
            if latest.content_mac == mac and latest.final == final:
                # Same bytes again (an editor's no-op save, or a retry after a run cut short
                # after writing the revision): no duplicate revision, but that run may have
                # failed before the revision was durable or audited, so make sure of both.
                completed = self._settle(client_id, note_id, newest, newest_path, final, extra)
                return SealedRevision(
                    client_id, note_id, newest, newest_path, unchanged=True, completed=completed
                )
            if latest.final:
                raise NoteLocked(note_id)
            number = newest + 1
        while True:  # another writer may take a number first; revision files are write-once
            header = revision_format.RevisionHeader(
                client_id,
                note_id,
                number,
                self.device.device_id,
                kind,
                final,
                stamp(self.clock()),
                mac,
                merges,
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
            except WriteFailed as exc:
                if os.path.lexists(path):  # linked, but its folder was not made durable
                    raise SealIncomplete(path, f"making it durable failed ({exc.args_[1]})") from exc
                raise
        try:
            self._read_back(path, data, file_key, body)
        except OSError as exc:
            raise SealIncomplete(path, f"reading it back failed ({exc.strerror or exc})") from exc
        try:
            self._audit_seal(client_id, note_id, number, final, path, data, extra)
        except WriteFailed as exc:
            raise SealIncomplete(path, f"its audit entry could not be written ({exc.args_[1]})") from exc
        return SealedRevision(client_id, note_id, number, path)

    def _audit_seal(
        self,
        client_id: str,
        note_id: str,
        number: int,
        final: bool,
        path: Path,
        data: bytes,
        extra: dict[str, str],
    ) -> None:
        self.audit.append(
            "seal",
            **extra,
            client=client_id,
            note=note_id,
            revision=number,
            final=final,
            file=str(path.relative_to(self.root)),
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def _settle(
        self, client_id: str, note_id: str, number: int, path: Path, final: bool, extra: dict[str, str]
    ) -> bool:
        """Make an existing revision durable (file and every folder up to the vault) and
        audited; True if its audit entry was missing and has now been written."""
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            for folder in (path.parent, path.parent.parent, path.parent.parent.parent, self.root / "clients"):
                durable.fsync_dir(folder)
            data = path.read_bytes()
        except OSError as exc:
            raise SealIncomplete(path, f"making it durable failed ({exc.strerror or exc})") from exc
        if self.audit.has("seal", file=str(path.relative_to(self.root))):
            return False
        try:
            self._audit_seal(client_id, note_id, number, final, path, data, extra)
        except WriteFailed as exc:
            raise SealIncomplete(path, f"its audit entry could not be written ({exc.args_[1]})") from exc
        return True

    def find_by_content(self, client_id: str, body: bytes) -> str | None:
        """The note whose newest revision holds exactly ``body``: so a retry of a note without
        an ``id:`` line, after a run cut short, finds what that run sealed."""
        mac = self.content_mac(body)
        for note_id in self.note_ids(client_id):
            revisions = self.revisions(client_id, note_id)
            if not revisions:
                continue
            try:
                header = self.load(revisions[-1][2]).header
            except TamperedFile:
                continue  # verify reports it
            if header.kind == "note" and header.content_mac == mac:
                return note_id
        return None

    def content_mac(self, body: bytes) -> str:
        return hashlib.blake2b(
            body, key=self.device.index_key, digest_size=CONTENT_MAC_BYTES, person=CONTENT_MAC_PERSON
        ).hexdigest()

    def _read_back(self, path: Path, written: bytes, file_key: bytes, body: bytes) -> None:
        """Read the file back from disk and open it before anyone trusts it.

        A revision that does not read back is a failed write, not a tampered file: it is
        this device's, just written and never audited, so it is removed (else it would
        block every retry as the note's newest revision) and the caller may retry.
        """
        try:
            data = path.read_bytes()
            parsed = self.load(path)
            same = data == written and revision_format.decrypt_with_file_key(parsed, file_key, path) == body
        except (OSError, TamperedFile):
            same = False
        if not same:
            path.unlink(missing_ok=True)
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
                if note_id is None:
                    continue  # a folder a first write left empty: holds nothing (see leftovers)
                raise UnknownNote(f"for client {client_id}", nid)
            try:
                fork = (
                    self.fork(client_id, nid) if len({n for n, _, _ in revisions}) < len(revisions) else None
                )
                newest = revisions[-1][2] if fork is None else (fork.signed or fork.tips[0])
                parsed = self.load(newest)
                if parsed.header.kind != "note":
                    continue  # a consent or an attached document: not a session note
                parsed, body = self.open_revision(newest, keys, parsed)
                siblings = tuple(
                    self._opened(nid, *self.open_revision(tip, keys))
                    for tip in (fork.tips if fork else ())
                    if tip != newest
                )
            except TamperedFile as exc:
                if damaged is None:
                    raise
                damaged.append(exc)  # the caller shows it as damaged, never drops it silently
                continue
            opened.append(self._opened(nid, parsed, body, siblings))
        self.audit.append(
            "decrypt",
            client=client_id,
            notes=len(opened),
            practitioner=practitioner.practitioner_id,
        )
        return opened

    @staticmethod
    def _opened(
        note_id: str,
        parsed: revision_format.ParsedRevision,
        body: Plaintext,
        siblings: tuple[OpenedNote, ...] = (),
    ) -> OpenedNote:
        h = parsed.header
        return OpenedNote(note_id, h.revision, h.sealed_at, h.final, body, h.device, siblings)

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
