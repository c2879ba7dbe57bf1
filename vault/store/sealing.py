"""Sealing: a note's next revision, durable, read back and audited before anyone trusts it.

Invariant 1 of DESIGN.md lives here: `seal_record` returns only once the revision is on
disk (file and folders fsynced), reads back to the same text, and has its audit entry;
otherwise it raises, and the caller (syncd, `casenotes seal`) keeps the plaintext.
A fork (vault/store/forks.py) or a signed revision stops the next one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .. import durable
from ..errors import NoteForked, NoteLocked, SealIncomplete, TamperedFile, UnknownNote, WriteFailed
from ..format import revision as revision_format
from ..format.constants import CONTENT_MAC_BYTES, CONTENT_MAC_PERSON
from ..format.encoding import Clock, stamp
from ..format.keys import Device, Practitioner
from .audit import AuditLog
from .authority import Judge
from .client_keys import Keyring
from .group_commit import GroupCommit
from .leftovers import HalfMade, WriteLock
from .revisions import Revisions


class Sealable(Protocol):
    """What sealing uses of a vault (`Vault` has it): the parts below it, not the `Vault`."""

    @property
    def device(self) -> Device: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def revision_files(self) -> Revisions: ...
    @property
    def commit(self) -> GroupCommit: ...
    @property
    def write_lock(self) -> WriteLock: ...
    @property
    def half_made(self) -> HalfMade: ...


@dataclass(frozen=True)
class SealedRevision:
    client_id: str
    note_id: str
    revision: int
    path: Path
    unchanged: bool = False  # the newest revision already held these exact bytes
    completed: bool = False  # ... and an earlier, cut-short run had not audited it yet


def seal_record(
    vault: Sealable,
    client_id: str,
    note_id: str,
    body: bytes,
    kind: revision_format.RecordKind,
    final: bool = False,
    extra: dict[str, str] | None = None,
) -> SealedRevision:
    with vault.write_lock.shared():
        return _seal_record(vault, client_id, note_id, body, kind, final, extra or {})


def resolve_fork(
    vault: Sealable, practitioner: Practitioner, client_id: str, note_id: str, keep: Path
) -> SealedRevision:
    """Settle a fork with the text of the tip ``keep``: a merge revision naming every
    revision from the fork on. A signed tip can only be kept (it stays signed)."""
    from . import forks  # `seal` loads it only for a note with more than one revision

    with vault.write_lock.shared():
        fork = forks.find(vault, client_id, note_id, Judge(vault.keyring, client_id), vault.device.device_id)
        if fork is None or keep not in fork.tips:
            raise UnknownNote(f"among the forked revisions of note {note_id}", keep.name)
        if keep not in fork.keepable:  # a signed text stands: only a signed original may be kept
            raise NoteLocked(note_id)
        parsed, body = vault.revision_files.open(keep, vault.keyring.client_keys(practitioner, client_id))
        sealed = _seal_record(
            vault, client_id, note_id, bytes(body), parsed.header.kind, parsed.header.final, {}, fork.names
        )
    vault.audit.append(
        "resolve",
        client=client_id,
        note=note_id,
        kept=keep.name,
        merges=list(fork.names),
        practitioner=practitioner.practitioner_id,
    )
    return sealed


def _seal_record(
    vault: Sealable,
    client_id: str,
    note_id: str,
    body: bytes,
    kind: revision_format.RecordKind,
    final: bool,
    extra: dict[str, str],
    merges: tuple[str, ...] = (),
) -> SealedRevision:
    public = vault.commit.once(("sealing-key", client_id), lambda: vault.keyring.sealing_key(client_id))
    mac = content_mac(vault.device.index_key, body)
    files = vault.revision_files
    existing = files.of(client_id, note_id)
    number = 1
    standing: tuple[int, Path] | None = (existing[-1][0], existing[-1][2]) if existing else None
    if not merges and existing and (len(existing) > 1 or not _owned(vault, client_id, existing[0][1])):
        from . import forks  # `seal` loads it only for a note with more than one revision

        judge = Judge(vault.keyring, client_id)
        state = forks.state(vault, client_id, note_id, judge, vault.device.device_id)
        if state.fork is not None:
            raise NoteLocked(note_id) if state.fork.signed is not None else NoteForked(note_id)
        # The standing revision, a signed one if the note ever was: the same bytes again are a
        # retry; anything else after a signature is refused below, whatever lies after it.
        shown = state.shown
        standing = None if shown is None else (int(shown.name[:6]), shown)
    if merges:
        number = existing[-1][0] + 1
    elif existing and standing is None:  # every revision refused: the next number, after them
        number = existing[-1][0] + 1
    elif standing is not None:
        newest, newest_path = standing
        latest = files.load(newest_path).header
        if latest.content_mac == mac and latest.final == final:
            # Same bytes again (an editor's no-op save, or a retry after a run cut short
            # after writing the revision): no duplicate revision, but that run may have
            # failed before the revision was durable or audited, so make sure of both.
            completed = _settle(vault, client_id, note_id, newest, newest_path, final, extra)
            return SealedRevision(
                client_id, note_id, newest, newest_path, unchanged=True, completed=completed
            )
        if latest.final:
            raise NoteLocked(note_id)
        number = existing[-1][0] + 1  # after every file, a refused one's too: names are write-once
    # A new note's folder is recorded as this device's before it is made: only then may a
    # sweep remove it, should this write be cut short (leftovers.py).
    folder = files.path(client_id, note_id, number, vault.device.device_id).parent
    # Marked until its audit entry is written: a kill between the two must not leave the
    # revision to the weekly walk of an incremental backup (it reads the logs as a journal).
    with vault.audit.unlogged(client_id, note_id):
        with vault.half_made.making(folder):
            while True:  # another writer may take a number first; revision files are write-once
                header = revision_format.RevisionHeader(
                    client_id,
                    note_id,
                    number,
                    vault.device.device_id,
                    kind,
                    final,
                    stamp(vault.clock()),
                    mac,
                    merges,
                )
                data, file_key = revision_format.seal(header, body, public, vault.device)
                path = files.path(client_id, note_id, number, vault.device.device_id)
                try:
                    durable.write_new(path, data, vault.commit.deferred)
                    break
                except FileExistsError:
                    number += 1
                except WriteFailed as exc:
                    if os.path.lexists(path):  # linked, but its folder was not made durable
                        raise SealIncomplete(path, f"making it durable failed ({exc.args_[1]})") from exc
                    raise
            try:  # inside: a revision that does not read back is removed, its folder left empty
                read_back(path, data, file_key, body)
            except OSError as exc:
                raise SealIncomplete(path, f"reading it back failed ({exc.strerror or exc})") from exc
        try:
            _audit_seal(vault, client_id, note_id, number, final, path, data, extra)
        except WriteFailed as exc:
            raise SealIncomplete(path, f"its audit entry could not be written ({exc.args_[1]})") from exc
    return SealedRevision(client_id, note_id, number, path)


def _owned(vault: Sealable, client_id: str, device_id: str) -> bool:
    """Whether a device is one of the practitioner's who added the client (nothing to weigh)."""
    return Judge(vault.keyring, client_id).owns(device_id)


def _audit_seal(
    vault: Sealable,
    client_id: str,
    note_id: str,
    number: int,
    final: bool,
    path: Path,
    data: bytes,
    extra: dict[str, str],
) -> None:
    vault.audit.append(
        "seal",
        **extra,
        client=client_id,
        note=note_id,
        revision=number,
        final=final,
        file=str(path.relative_to(vault.revision_files.root)),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _settle(
    vault: Sealable, client_id: str, note_id: str, number: int, path: Path, final: bool, extra: dict[str, str]
) -> bool:
    """Make an existing revision durable (file and every folder up to the vault) and
    audited; True if its audit entry was missing and has now been written."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        root = vault.revision_files.root
        for folder in (path.parent, path.parent.parent, path.parent.parent.parent, root / "clients"):
            durable.fsync_dir(folder, vault.commit.deferred)
        data = path.read_bytes()
    except OSError as exc:
        raise SealIncomplete(path, f"making it durable failed ({exc.strerror or exc})") from exc
    if vault.audit.has("seal", file=str(path.relative_to(root))):
        return False
    try:
        _audit_seal(vault, client_id, note_id, number, final, path, data, extra)
    except WriteFailed as exc:
        raise SealIncomplete(path, f"its audit entry could not be written ({exc.args_[1]})") from exc
    return True


def find_by_content(files: Revisions, index_key: bytes, client_id: str, body: bytes) -> str | None:
    """The note whose newest revision holds exactly ``body``: so a retry of a note without
    an ``id:`` line, after a run cut short, finds what that run sealed."""
    mac = content_mac(index_key, body)
    for note_id in files.note_ids(client_id):
        revisions = files.of(client_id, note_id)
        if not revisions:
            continue
        try:
            header = files.load(revisions[-1][2]).header
        except TamperedFile:
            continue  # verify reports it
        if header.kind == "note" and header.content_mac == mac:
            return note_id
    return None


def content_mac(index_key: bytes, body: bytes) -> str:
    """A keyed hash of a body (the key: this practice's index key), so a retry finds what
    an earlier run sealed without decrypting it."""
    return hashlib.blake2b(
        body, key=index_key, digest_size=CONTENT_MAC_BYTES, person=CONTENT_MAC_PERSON
    ).hexdigest()


def read_back(path: Path, written: bytes, file_key: bytes, body: bytes) -> None:
    """Read the file back from disk and open it before anyone trusts it.

    A revision that does not read back is a failed write, not a tampered file: it is
    this device's, just written and never audited, so it is removed (else it would
    block every retry as the note's newest revision) and the caller may retry.
    """
    try:
        data = path.read_bytes()
        # The bytes are the ones just signed in memory, so no signature check; opening them
        # with the file key proves the text comes back.
        same = data == written and (
            revision_format.decrypt_with_file_key(revision_format.parse(data, path), file_key, path) == body
        )
    except (OSError, TamperedFile):
        same = False
    if not same:
        path.unlink(missing_ok=True)
        raise WriteFailed(path, "the revision read back differs from what was written")
