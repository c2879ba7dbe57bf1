"""Disposal: what a purge removes from the vault, planned first, then done in a durable order.

`plan_disposal` looks and changes nothing: a `Disposal` is a plain value that says what
goes (the client's sealed keys, with every copy a sync engine keeps of one; the copies it
keeps of the client's other files outside its folder; the handle-index entries that point
at the client; its folder; the backup targets whose snapshots lose it). A dry run prints
it (`Disposal.describe`). `Disposal.execute` does it, in an order that lets the next run
finish what a run cut short left:

1. ``purge-begin`` in the audit log, naming each key's SHA-256; then the keys are removed
   and their folders fsynced. This is the crypto-shredding: no revision opens after it.
2. The client is removed from the snapshots of each backup target (`shred_on`); a target
   that is away is left pending (``purge-pending``) for a later backup run.
3. The caller's certificate is written (``certify``: its text is retention's).
4. The ciphertext goes (`Disposal.remove_ciphertext`): the sync engine's copies, the
   index entries, then the folder, renamed first so that a crash never leaves half a
   client that looks like a client; ``purge-done``.

`plan_set_aside` and `SetAside.execute`: the files of a purged client that came back
(vault/store/purged.py) are moved under ``revived/`` and never deleted, but for copies of
a key the purge destroyed.

Whether a client may be disposed of (its retention, holds, the clock, the other devices
of a group practice) is retention's to decide (retention/purge.py); never this module's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .. import durable
from ..backup.snapshots import BackupTarget, Shredded
from ..backup.storage import TargetUnavailable
from ..errors import TamperedFile, WriteFailed, reason
from ..format import sync_artefacts
from .purged import HALF_REMOVED, REVIVED, Revived, files, half_removed

if TYPE_CHECKING:
    from .vault import Vault

T = TypeVar("T")


@dataclass(frozen=True)
class Shreds:
    """What step 2 of `Disposal.execute` did on the backup targets."""

    shredded: tuple[tuple[BackupTarget, Shredded], ...]  # on each target reached
    done: tuple[str | None, ...]  # the ids of those targets
    pending: tuple[str, ...]  # the targets that were away (as named in casenotes.yml)


@dataclass(frozen=True)
class Disposal:
    """What disposing of one client removes; paths relative to the vault."""

    client_id: str
    keys: tuple[tuple[str, str], ...]  # each sealed key and copy of one: (path, SHA-256)
    copies: tuple[str, ...]  # what a sync engine keeps of the client outside its folder, but keys
    index_entries: tuple[str, ...]  # the handle-index entries that point at the client
    folder: str | None  # the client's folder, if it is here
    targets: tuple[str, ...]  # the backup targets whose snapshots lose the client

    def describe(self) -> list[str]:
        """What a dry run shows: counts and places, ids only."""
        found = [f"{len(self.keys)} sealed key file(s) destroyed (crypto-shredding)"]
        if self.folder:
            found.append(f"its folder {self.folder} removed")
        if self.index_entries:
            found.append(f"{len(self.index_entries)} handle-index entry(ies) removed")
        if self.copies:
            found.append(f"{len(self.copies)} copy(ies) kept by a sync engine removed")
        found += [f"removed from every snapshot on backup target {target}" for target in self.targets]
        return found

    def execute(self, vault: Vault, targets: Sequence[BackupTarget], certify: Callable[[Shreds], T]) -> T:
        """Shred, then certify, then remove (the module's docstring); returns what
        ``certify`` returns."""
        self.shred_keys(vault)
        shredded: list[tuple[BackupTarget, Shredded]] = []
        done: list[str | None] = []
        pending: list[str] = []
        for target in targets:
            try:
                shredded.append((target, shred_on(vault, {self.client_id: list(self.index_entries)}, target)))
                done.append(target.target_id)
            except (TargetUnavailable, TamperedFile, OSError) as exc:  # OSError: a failing drive
                pending.append(str(target))
                vault.audit.append("purge-pending", client=self.client_id, why=type(exc).__name__)
        certified = certify(Shreds(tuple(shredded), tuple(done), tuple(pending)))
        self.remove_ciphertext(vault)
        return certified

    def shred_keys(self, vault: Vault) -> None:
        vault.audit.append("purge-begin", client=self.client_id, keys=[digest for _, digest in self.keys])
        paths = [vault.root / relative for relative, _ in self.keys]
        for path in paths:  # the shredding itself: without these, no revision opens
            _remove(path, path.unlink)
        for folder in {path.parent for path in paths}:
            durable.fsync_dir(folder)

    def remove_ciphertext(self, vault: Vault) -> None:
        """Remove what is left of a shredded client: the sync engine's copies, its
        handle-index entries, its folder."""
        for relative in self.copies:
            path = vault.root / relative
            path.unlink(missing_ok=True)
            durable.fsync_dir(path.parent)
        for relative in self.index_entries:
            _remove(vault.root / relative, (vault.root / relative).unlink)
        if self.folder:
            folder = vault.root / self.folder
            # Renamed first, so a crash mid-way leaves no half client that looks like a client.
            doomed = folder.with_name(f"{HALF_REMOVED}{self.client_id}")
            _remove(folder, lambda: os.replace(folder, doomed))
            durable.fsync_dir(folder.parent)
            _remove(doomed, partial(shutil.rmtree, doomed))
        vault.audit.append("purge-done", client=self.client_id)


def plan_disposal(vault: Vault, client_id: str, targets: Iterable[BackupTarget] = ()) -> Disposal:
    """What disposing of ``client_id`` would remove now (nothing is changed)."""
    access = vault.client_dir(client_id) / "access"
    copies = synced_copies(vault, client_id)
    # Conflict copies of a sealed key too, and the copies a sync engine's version folder keeps.
    keys = sorted(access.glob("*.sealed")) if access.is_dir() else []
    keys += [p for p in copies if p.parent.name == "access" and p.is_file()]
    folder = vault.client_dir(client_id)
    return Disposal(
        client_id,
        tuple((str(p.relative_to(vault.root)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in keys),
        tuple(str(p.relative_to(vault.root)) for p in copies if p not in keys),
        tuple(index_entries(vault, client_id)),
        str(folder.relative_to(vault.root)) if folder.exists() else None,
        tuple(str(target) for target in targets),
    )


def shred_on(vault: Vault, clients: Mapping[str, Sequence[str]], target: BackupTarget) -> Shredded:
    """Remove clients from every snapshot on one target (``clients``: each one's
    handle-index entries, `Disposal.index_entries`), audited."""
    target.open(vault.practice_id, create=False)
    shredded = target.shred(clients, vault.device, vault.trust.device_keys())
    vault.audit.append(
        "purge-target", clients=sorted(clients), snapshots=len(shredded.snapshots), objects=shredded.objects
    )
    return shredded


def remove_half_removed(vault: Vault) -> None:
    """Finish removing folders a crash left half removed (`Disposal.remove_ciphertext`:
    their keys were already gone)."""
    for leftover in half_removed(vault.root):
        _remove(leftover, partial(shutil.rmtree, leftover))


def index_entries(vault: Vault, client_id: str) -> list[str]:
    """Vault paths of the handle-index entries that point at a client."""
    found = []
    for entry in sync_artefacts.glob(vault.root / "index", "*.json"):
        try:
            if json.loads(entry.read_bytes()).get("client_id") == client_id:
                found.append(str(entry.relative_to(vault.root)))
        except (OSError, ValueError, AttributeError):
            continue
    return found


def synced_copies(vault: Vault, client_id: str) -> list[Path]:
    """Every file a sync engine keeps of a client outside its folder: under ``clients/<cid>/``
    in a version folder (``.stversions`` and the like), and the conflict copies and kept
    versions of handle-index entries that point at it (vault/format/sync_artefacts.py). A
    copy of an entry for the same handle that points at another client is that client's."""
    found: list[Path] = []
    for folder in sync_artefacts.version_folders(vault.root):
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).parts
            if relative[:2] == ("clients", client_id) and path.is_file():
                found.append(path)
            elif relative[:1] == ("index",) and path.is_file() and _points_at(path, client_id):
                found.append(path)
    index = vault.root / "index"
    for path in sorted(index.iterdir()) if index.is_dir() else []:
        if sync_artefacts.kind(path.name) == "conflict" and _points_at(path, client_id):
            found.append(path)
    return found


def _points_at(path: Path, client_id: str) -> bool:
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("client_id") == client_id


def _remove(path: Path, action: Callable[[], object]) -> None:
    """Run one removal; the disk's refusal is a WriteFailed naming ``path``. The keys go
    first and the certificate before the ciphertext, so a rerun finishes what is left."""
    try:
        action()
    except FileNotFoundError:
        pass  # already gone: a rerun after a crash
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc


# -- revived folders ------------------------------------------------------------------------
@dataclass(frozen=True)
class Revival:
    """One revived folder's files: each moved under ``revived/``, or removed."""

    found: Revived
    into: Path  # revived/<cid>.<this device>
    #: (file, where it goes), in order; None: removed, a copy of what a purge destroyed
    moves: tuple[tuple[Path, Path | None], ...]


@dataclass(frozen=True)
class SetAside:
    revivals: tuple[Revival, ...]

    def execute(self, vault: Vault) -> list[Revived]:
        """Move (or remove) each file, the folders left empty removed, each folder audited;
        returns what is now set aside."""
        moved = []
        for revival in self.revivals:
            item = revival.found
            for path, target in revival.moves:
                try:
                    if target is None:  # a copy of what the purge shredded: shredded again
                        path.unlink()
                        continue
                    durable.make_dirs(target.parent)
                    os.replace(path, target)
                    durable.fsync_dir(target.parent)
                    durable.fsync_dir(path.parent)
                except OSError as exc:
                    raise WriteFailed(path, reason(exc)) from exc
            _remove_empty(item.path)
            vault.audit.append("revived-set-aside", client=item.client_id, files=item.files)
            moved.append(Revived(item.client_id, item.purge, revival.into, item.files, True))
        return moved


def plan_set_aside(vault: Vault, found: Iterable[Revived], destroyed: set[str]) -> SetAside:
    """Where each file of each revived folder goes: ``revived/<cid>.<this device>/`` (a name
    no other machine writes), under its path in the folder (a name that came back twice is
    kept twice, the second with its hash's start); a copy of what a purge destroyed (its
    SHA-256 in ``destroyed``) is removed instead."""
    revivals = []
    for item in found:
        into = vault.root / REVIVED / f"{item.client_id}.{vault.device.device_id}"
        moves: list[tuple[Path, Path | None]] = []
        for path in files(item.path):
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                raise WriteFailed(path, reason(exc)) from exc
            if digest in destroyed:
                moves.append((path, None))
                continue
            target = into / path.relative_to(item.path)
            if target.exists():  # the same name came back twice: keep both
                target = target.with_name(f"{target.name}.{digest[:8]}")
            moves.append((path, target))
        revivals.append(Revival(item, into, tuple(moves)))
    return SetAside(tuple(revivals))


def _remove_empty(folder: Path) -> None:
    """Folders left empty by the move (a folder never holds data by itself)."""
    for directory, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        try:
            os.rmdir(directory)
        except OSError:
            continue  # not empty: a file arrived meanwhile; the next run moves it
    durable.fsync_dir(folder.parent)
