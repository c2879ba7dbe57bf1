"""The vault on disk: one practice's keys, clients, sealed revisions and audit log.

Layout (every name below ``vault/`` is an id, a blinded value or a number; docs/format.md
says what each file holds, and which module writes it)::

    practice.json                                practice id, format
    .stignore                                    what a sync engine must not carry (practice.py)
    practitioners/<pid>.json                     wrapped practitioner keys
    practitioners/<pid>.index                    the handle-index key, sealed to the practitioner
    practitioners/<pid>.recovery                 a second wrapped copy, under the recovery key (recovery.py)
    devices/<did>.json                           device registrations, signed by a practitioner
    colleagues/<pid>-<by>.json                   a colleague's identity, signed by the practitioner ``by``
    index/<blinded>-<cid>.json                   blinded handle -> client id, signed by a device (handles.py)
    clients/<cid>/client.json                    the client's public key, signed by a device
    clients/<cid>/keys/<gid>.json                a newer client key pair's public half (a revoke, a merge)
    clients/<cid>/access/<pid>.<gid>.<did>.sealed  the client's private key(s), sealed to a practitioner
    clients/<cid>/records/<nid>/<rev>-<did>.rev  one sealed revision; record 0…0 is the profile (revisions.py)
    clients/<cid>/retention/<did>.json           a device's retention facts of the client (retention_files.py)
    clients/<cid>/supervision/<pid>.json         the client's supervisor (sharing/supervision.py)
    clients/<cid>/cosign/<nid>-<pid>.json        a supervisor's co-signature of a note
    disposals/<cid>.<did>[.<target id>].md       disposal certificates (retention_files.py)
    revived/<cid>.<did>/                         a purged client's files that came back (disposal.py)
    audit/<did>.log, audit/<did>.checkpoint      the audit log and its signed head (audit.py)

Every file is written once under a unique name, except a practitioner's own key file
(rewritten on a passphrase change) and recovery copy (rewritten by a new recovery set),
and a device's own log, checkpoint and retention facts, so a file-sync engine between
the machines of a group practice never sees two writers of one file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import nacl.exceptions
from nacl.public import PrivateKey

from .. import durable
from ..errors import (
    DeviceMissing,
    KeyFileNeeded,
    KeyRecordOutdated,
    NotAPractice,
    TamperedFile,
    UnknownNote,
    WrongPassphrase,
)
from ..format import revision as revision_format
from ..format.constants import (
    PRACTICE_FORMAT,
    PRACTITIONER_KEY_FORMAT,
    KdfParams,
)
from ..format.encoding import Clock, b64, is_id, stamp, utc_now
from ..format.keys import (
    Practitioner,
    load_device,
    public_keys,
    read_record,
    second_factor,
    unlock_practitioner,
)
from ..format.redact import Passphrase, Plaintext
from . import handles, ledger, leftovers, renewal_catchup, revisions, sealing
from .audit import AuditLog
from .client_keys import Keyring
from .clients import PROFILE_RECORD_ID, Profile
from .group_commit import GroupCommit
from .leftovers import HalfMade, WriteLock
from .revisions import Checked, Revision, Revisions
from .sealing import SealedRevision
from .trust import Trust

if (
    TYPE_CHECKING
):  # backups, forks, reading and key renewal import their code when they run: `seal` never loads it
    from ..backup.snapshots import BackupTarget, Progress, Snapshot
    from . import forks, key_renewal
    from .reading import OpenedNote

T = TypeVar("T")


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
        self.revision_files = Revisions(root, self.trust.device_keys)
        self.commit = GroupCommit()
        self.write_lock = WriteLock(self.device_dir / "write.lock")
        self.half_made = HalfMade(self.device_dir / "half-made", root)
        durable.name_writer(root, self.device.device_id)  # its temp files say whose they are
        self._backup_lock_depth = 0
        self.recorded_for_older_version = 0  # files the last unlock put into the ledger
        self.renewal: key_renewal.Renewal | None = None  # what the last unlock finished
        # clients that reached this practitioner sealed to a replaced key, renewed by the last unlock
        self.caught_up = renewal_catchup.CatchUp()
        self.index_seen: handles.IndexSeen = {}

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

    def writing(self) -> AbstractContextManager[None]:
        """Held (shared) by every write that makes a folder before its first file is in
        place; ``remove_leftovers`` takes it exclusively, so it never sweeps one away."""
        return self.write_lock.shared()

    @contextmanager
    def group_commit(self) -> Iterator[None]:
        """Seal a burst of notes with one fsync per folder and one of the audit log, at the
        end of the block, instead of one each per note (every file's own data is still
        fsynced before it is linked). What is sealed inside is durable and audited only
        once the block has ended without an error: remove no plaintext before (invariant 1).
        Folders are synced before the log, so an entry never names a revision a crash lost;
        a revision whose entry was lost is audited again when its draft is sealed again.
        Re-entrant."""
        if self.commit.running:
            yield
            return
        self.commit.begin()
        self.audit.deferring = True
        try:
            yield
        finally:
            folders = self.commit.end()
            self.audit.deferring = False
            durable.fsync_dirs(folders)  # deepest first: a note's folder, then the one naming it
            self.audit.sync()

    def once_per_commit(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered until the group commit ends (`GroupCommit.once`)."""
        return self.commit.once(key, compute)

    def leftovers(self, client_id: str | None = None) -> leftovers.Found:
        """Folders and temp files that hold no data: those this device made and abandoned
        (a write cut short), and those it cannot prove its own (a sync engine may be
        filling them; vault/store/leftovers.py)."""
        return leftovers.find(
            self.root, self.device.device_id, self.half_made, None if client_id is None else [client_id]
        )

    def remove_leftovers(self, client_id: str | None = None) -> list[Path]:
        """Remove this device's leftovers that ``leftovers`` finds, unless a write is under
        way on this machine (then the next run does it); never one it cannot prove its own.
        Returns what was removed."""
        with self.write_lock.exclusive_now() as held:
            return leftovers.remove(self.leftovers(client_id), self.half_made) if held else []

    def backup(self, destination: BackupTarget, progress: Progress | None = None) -> Snapshot:
        """A snapshot of the whole vault on a target (audited, checkpoint included)."""
        with self.backup_lock():
            return self._backup(destination, progress)

    def _backup(self, destination: BackupTarget, progress: Progress | None) -> Snapshot:
        self.audit.checkpoint()  # the snapshot carries the signed head, so a cut log is caught
        destination.open(self.practice_id, create=True)
        marks = self.audit.unlogged_marks()  # a seal killed before its entry: looked at too
        named = frozenset(f"clients/{m.split('.')[0]}" for m in marks)
        snap = destination.snapshot(self.root, self.device, stamp(self.clock()), progress, named)
        self.audit.clear_unlogged(marks)
        self.audit.append("backup", snapshot=snap.name, files=snap.count)
        return snap

    def sweep(self, now: float) -> int:
        """Remove what this device's killed writers left, in one walk of the vault: the
        folders its journal proves it made and abandoned (a note's first folder, a client
        `add_client` never finished) and its own temp files (``remove_leftovers``, under the
        write lock); in the device folder, temp files older than an hour. Never an empty
        folder it cannot prove its own: a sync engine may be about to fill it, and would
        carry its removal to every machine (issue 29)."""
        removed = len(self.remove_leftovers())
        return removed + durable.sweep_temps(self.device_dir, now)

    def change_stamp(self, note_id: str | None = None) -> str:
        """A digest of what changes when the vault learns something a held-back draft may
        wait for: a client, a handle, a device, a practitioner or colleague arriving; an
        access file or client key (a grant, a merge); a ledger entry (every audited change,
        on any machine, grows that machine's log); and ``note_id``'s folder (a fork
        resolved). Stats only, no file read: syncd compares it on each rescan."""
        digest = hashlib.blake2b(digest_size=16)

        def add(path: Path) -> None:
            try:
                info = os.stat(path)
                digest.update(f"{path}\0{info.st_mtime_ns}\0{info.st_size}\n".encode())
            except OSError:
                digest.update(f"{path}\0-\n".encode())

        for name in ("clients", "index", "devices", "practitioners", "colleagues", "audit"):
            add(self.root / name)
        for log in sorted((self.root / "audit").glob("*.log")):
            add(log)
        for client in sorted(self.client_ids()):
            folder = self.client_dir(client)
            add(folder / "access")
            add(folder / "keys")
            if note_id is not None:
                add(folder / "records" / note_id)
        return digest.hexdigest()

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
        from . import key_renewal  # an unlock's, not a seal's

        key_renewal.adopt(self)
        try:
            self.pinned_key_record()
        except TamperedFile:
            if self._older_key_record():
                self.audit.append("unlock-failed", practitioner=pid, outdated=True)
                raise KeyRecordOutdated(path) from None
            raise
        if self._older_key_record():  # this device never pinned the newer one: the ledger says
            self.audit.append("unlock-failed", practitioner=pid, outdated=True)
            raise KeyRecordOutdated(path)
        try:
            practitioner = unlock_practitioner(path, passphrase)
        except KeyFileNeeded:
            self.audit.append("unlock-failed", practitioner=pid, missing="key-file")
            raise
        except WrongPassphrase:
            self.audit.append("unlock-failed", practitioner=pid)
            if key_renewal.switched(self):  # a renewal cut short: the new passphrase finishes it
                raise
            if problem := ledger.check_file(self.root, path, self.audit.entries(), self.trust.registrant):
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
        self.renewal = key_renewal.resume(self, practitioner)  # a renewal cut short: finished
        self.caught_up = renewal_catchup.catch_up(self, practitioner)  # a machine that was apart
        return practitioner

    def _older_key_record(self) -> bool:
        """Whether the key record is one a renewal replaced (put back). Each renewal's entry
        names the digest it replaces: no order of entries is needed, which two devices'
        clocks within one second could not give (a device registered on another machine in
        the second of a passphrase change records the record it saw, after or before). Only
        the log lines naming the file are parsed, so an unlock stays cheap in a long log; and
        only those a device of the practitioner signed (`Trust.renewals`)."""
        if not self.practitioner_file.is_file():
            return False
        renewals = self.trust.renewals(self.device.practitioner_id, self.practitioner_file)
        replaced = {str(e.data.get("replaces")) for e in renewals if "replaces" in e.data}
        return bool(replaced) and ledger.digest(self.practitioner_file) in replaced

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

    def change_passphrase(
        self, old: Passphrase, new: Passphrase, kdf: KdfParams | None = None
    ) -> key_renewal.Renewal:
        """A new encryption key under ``new`` (and its key file, if it carries one), and a new
        key generation of every client held (vault/store/key_renewal.py): an older copy of
        the key record opens nothing sealed from now on. No note is re-encrypted."""
        from . import key_renewal

        return key_renewal.renew(self, self.unlock(old), new, kdf, "passphrase-changed")

    # -- clients ------------------------------------------------------------------------
    def client_dir(self, client_id: str) -> Path:
        return self.keyring.client_dir(client_id)

    def client_ids(self) -> list[str]:
        return self.revision_files.client_ids()

    def add_client(
        self,
        handle: str,
        name: str | None = None,
        dob: str | None = None,
        on_created: Callable[[str], None] | None = None,
    ) -> str:
        return handles.add_client(self, handle, name, dob, on_created)

    def resolve(self, handle: str, own: bool = False) -> str:
        """The client a handle names (``own``: one this practitioner can read, to write
        into; vault/store/handles.py)."""
        return self.once_per_commit(("resolve", handle, own), lambda: handles.resolve(self, handle, own))

    def upgrade_index(self) -> list[Path]:
        return handles.upgrade_index(self)

    def revisions(self, client_id: str, note_id: str) -> list[Revision]:
        """(revision, device, path) of one note's revision files, oldest first."""
        return self.revision_files.of(client_id, note_id)

    def note_ids(self, client_id: str) -> list[str]:
        return self.revision_files.note_ids(client_id)

    def locate_note(self, note_id: str) -> str:
        """The client id a note belongs to (from the folder names; nothing is decrypted)."""
        if is_id(note_id) and note_id != PROFILE_RECORD_ID:
            for client_id in self.client_ids():
                if (self.client_dir(client_id) / "records" / note_id).is_dir():
                    return client_id
        raise UnknownNote("in this practice", note_id)

    def load(self, path: Path) -> revision_format.ParsedRevision:
        return self.revision_files.load(path)

    def check_place(self, parsed: revision_format.ParsedRevision, path: Path) -> None:
        """The header must name the folder and file the revision lies in."""
        revisions.check_place(parsed, path)

    def seal(
        self,
        client_id: str,
        note_id: str,
        body: bytes,
        final: bool = False,
        audit_extra: Mapping[str, str] | None = None,
    ) -> SealedRevision:
        """Seal ``body`` as the next revision of a note; durable and read back on return
        (vault/store/sealing.py).

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
        return sealing.seal_record(self, client_id, note_id, body, kind, final, dict(audit_extra or {}))

    def fork(self, client_id: str, note_id: str) -> forks.Fork | None:
        """The note's unresolved conflict (two machines sealed one revision number, or a
        revision follows a signed one), if any; refused revisions left out."""
        from . import forks
        from .authority import Judge

        return forks.find(self, client_id, note_id, Judge(self.keyring, client_id), self.device.device_id)

    def resolve_fork(
        self, practitioner: Practitioner, client_id: str, note_id: str, keep: Path
    ) -> SealedRevision:
        return sealing.resolve_fork(self, practitioner, client_id, note_id, keep)

    def find_by_content(self, client_id: str, body: bytes) -> str | None:
        return sealing.find_by_content(self.revision_files, self.device.index_key, client_id, body)

    def content_mac(self, body: bytes) -> str:
        return sealing.content_mac(self.device.index_key, body)

    # -- reading (vault/store/reading.py) ----------------------------------------------
    def open_revision(
        self, path: Path, client_keys: list[PrivateKey], parsed: revision_format.ParsedRevision | None = None
    ) -> tuple[revision_format.ParsedRevision, Plaintext]:
        return self.revision_files.open(path, client_keys, parsed)

    def read_notes(
        self,
        practitioner: Practitioner,
        client_id: str,
        note_id: str | None = None,
        damaged: list[TamperedFile] | None = None,
        refused: list[TamperedFile] | None = None,
        others: list[tuple[str, str]] | None = None,
    ) -> list[OpenedNote]:
        from . import reading

        return reading.read_notes(self, practitioner, client_id, note_id, damaged, refused, others)

    def open_notes(
        self,
        client_id: str,
        note_ids: list[str],
        client_keys: list[PrivateKey],
        damaged: list[TamperedFile] | None,
        checked: Checked | None = None,
        stopped: Callable[[], bool] = lambda: False,
        others: list[tuple[str, str]] | None = None,
    ) -> list[OpenedNote]:
        """The standing revision of each of these notes, checked and decrypted as read_notes
        does, with no audit entry: the caller records what it read with audit_decrypt (`open`
        reads a client in two processes, site_builder/decrypt.py, and counts both in one)."""
        from . import reading

        return reading.open_notes(
            self, client_id, note_ids, client_keys, damaged, checked, stopped=stopped, others=others
        )

    def audit_decrypt(self, practitioner: Practitioner, client_id: str, notes: int) -> None:
        from . import reading

        reading.audit_decrypt(self, practitioner, client_id, notes)

    def read_profile(self, practitioner: Practitioner, client_id: str) -> Profile:
        from . import reading

        return reading.read_profile(self, practitioner, client_id)

    def profiles(self, practitioner: Practitioner) -> Iterator[Profile]:
        from . import reading

        return reading.profiles(self, practitioner, self.device_dir / "index")

    def find(self, practitioner: Practitioner, handle: str) -> Profile:
        return self.read_profile(practitioner, self.resolve(handle))
