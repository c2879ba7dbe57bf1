"""Snapshots of the vault on a backup target: objects in packs, signed manifests.

A target is a folder (an external drive, a NAS mount) or an rclone remote, holding::

    casenotes-backup.json              which practice the target belongs to
    packs/<sha256>                     vault files' bytes, many to a pack (``packs``)
    objects/<ab>/<sha256>              one vault file's bytes (targets from before packs: read, not written)
    snapshots/<time>-<device>-<rand>.json  a manifest: every vault path with its hash, signed

Only ciphertext and signed public records are copied: the vault holds nothing else. The
inbox and the device key never are. Packs are written first, each durable, then the
manifest, atomically: a crash or a full disk mid-backup leaves packs no manifest names
(their objects are reused by the next run, collected by a prune) and never a half
snapshot. Unchanged folders are not even listed, nor unchanged files read (``scan``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.signing import VerifyKey

from .. import durable
from ..errors import Problem, TamperedFile, UnknownSnapshot, VaultError, WriteFailed, reason
from ..format.constants import JSON_FORMAT_VERSION
from ..format.encoding import canonical, unb64
from ..format.keys import Device, sign_record
from . import packs
from .lease import lease
from .objects import ObjectStore
from .scan import REST, ScanCache, scan, walk
from .storage import Storage, TargetUnavailable

TARGET_FORMAT = "casenotes-backup-target"
MARKER = "casenotes-backup.json"
SNAPSHOT_FORMAT = "casenotes-snapshot"
#: version 2 lists each client's files in a tree object (unchanged clients: the same
#: object again); version 1 (before packs) lists every file in the manifest itself
SNAPSHOT_VERSION = 2
TREE_FORMAT = "casenotes-tree"
Progress = Callable[[int, int], None]


class NotEmpty(VaultError):
    template = (
        "{} is not empty: restore into a new, empty folder (if an earlier restore there finished, "
        "check it with `casenotes --practice FOLDER verify` instead)"
    )


@dataclass(frozen=True)
class Snapshot:
    name: str
    created: str
    device: str
    files: dict[str, dict[str, Any]]  # vault path -> {"sha256", "size"[, "chunks"]}
    trees: dict[str, str] = field(default_factory=dict)  # client folder -> its file list's object
    #: (files, bytes) of a snapshot just taken, whose ``files`` leaves out the clients that
    #: had not changed (their lists were not even read)
    totals: tuple[int, int] | None = None

    @property
    def count(self) -> int:
        return self.totals[0] if self.totals else len(self.files)

    @property
    def size(self) -> int:
        return self.totals[1] if self.totals else sum(int(f["size"]) for f in self.files.values())


def blobs(entry: Mapping[str, Any]) -> list[str]:
    """The objects a manifest entry is stored as: its chunks, or the file whole."""
    return list(entry.get("chunks") or [entry["sha256"]])


@dataclass(frozen=True)
class Shredded:
    """What a purge destroyed on one target."""

    snapshots: list[str]  # manifests rewritten without the clients
    keys: dict[str, list[tuple[str, str]]]  # client -> (vault path, sha256) of each sealed key removed
    objects: int  # objects removed in all


class BackupTarget:
    """Snapshots on one storage (a folder, or an rclone remote)."""

    def __init__(self, storage: Storage, cache_dir: Path | None = None) -> None:
        self.storage = storage
        self.cache_dir = cache_dir  # where this machine remembers what the target holds
        self.target_id: str | None = None  # read from the target by open()

    def objects(self) -> ObjectStore:
        """What the target holds, where (read from its packs, or this machine's cache of them)."""
        cache = None
        if self.cache_dir is not None:
            # Keyed by the target's own random id: another drive at the same mount point
            # (rotated drives) never lends this one its list of packs.
            key = self.target_id or hashlib.sha256(str(self).encode()).hexdigest()[:12]
            cache = self.cache_dir / f"backup-packs-{key}.json"
        store = ObjectStore(self.storage, cache)
        store.load()
        return store

    def _taken_file(self) -> Path | None:
        """Where this machine remembers the newest snapshot it took on this target."""
        if self.cache_dir is None or self.target_id is None:
            return None
        return self.cache_dir / f"backup-newest-{self.target_id}.json"

    def rolled_back(self) -> Problem | None:
        """The newest snapshot this machine took here, if it is gone and nothing as new is
        there: a target put back to an older state (a remote deleting the newest
        manifests, an old copy of the drive) would otherwise pass its older snapshots off
        as the newest. No prune drops it: prunes keep the newest of all."""
        path = self._taken_file()
        try:
            taken = str(json.loads(path.read_bytes())["name"]) if path else ""
        except (OSError, ValueError, KeyError, TypeError):
            return None  # never taken here from this machine, or its record lost: nothing to compare
        names = self.snapshots()
        if not taken or taken in names or any(_taken_at(n) >= _taken_at(taken) for n in names):
            return None
        return Problem(
            Path(f"{self}/snapshots/{taken}.json"),
            f"snapshot {taken}, the newest this machine took here, is gone and no newer one is "
            "there: the target was rolled back to an older state or lost it",
        )

    def _writer(self, device: Device) -> None:
        """Name this machine's temp files on the target and sweep those a killed run of
        it left (the caller holds this machine's backup lock)."""
        self.storage.tag = device.device_id
        self.storage.sweep()

    def __str__(self) -> str:
        return str(self.storage)

    def practice_id(self) -> str:
        return str(self._record(MARKER, TARGET_FORMAT)["practice_id"])

    def _record(
        self, key: str, fmt: str, versions: tuple[int, ...] = (JSON_FORMAT_VERSION,)
    ) -> dict[str, Any]:
        try:
            record = json.loads(self.storage.read(key))
        except (OSError, ValueError) as exc:
            raise TamperedFile(f"{self}/{key}", "not a readable casenotes record") from exc
        if (
            not isinstance(record, dict)
            or record.get("format") != fmt
            or record.get("version") not in versions
        ):
            raise TamperedFile(f"{self}/{key}", f"not a {fmt} record of a known version")
        return record

    def open(self, practice_id: str, create: bool) -> None:
        """Check (or, the first time, claim) the target for this practice."""
        self.storage.prepare(create)
        if not self.storage.exists(MARKER):
            if not create or not self.storage.is_empty():
                raise TargetUnavailable(self, "it is not a casenotes backup target")
            record = {
                "format": TARGET_FORMAT,
                "version": JSON_FORMAT_VERSION,
                "practice_id": practice_id,
                "target_id": secrets.token_hex(8),
            }
            self.storage.write_new(MARKER, canonical(record))
        marker = self._record(MARKER, TARGET_FORMAT)
        if marker.get("practice_id") != practice_id:
            raise TargetUnavailable(self, "it holds the backups of another practice")
        self.target_id = marker.get("target_id") if isinstance(marker.get("target_id"), str) else None

    def snapshot(
        self,
        vault_root: Path,
        device: Device,
        when: str,
        progress: Progress | None = None,
        named: frozenset[str] = frozenset(),
    ) -> Snapshot:
        """A snapshot of the vault, under the target's lease (another machine's prune
        never collects the packs written before the manifest that names them); ``named``:
        client groups written to whose audit entry may be missing (looked at, as if named)."""
        with lease(self.storage, device.device_id):
            return self._snapshot(vault_root, device, when, progress, named)

    def _snapshot(
        self, vault_root: Path, device: Device, when: str, progress: Progress | None, named: frozenset[str]
    ) -> Snapshot:
        self._writer(device)
        store = self.objects()
        cache = ScanCache(self.cache_dir / "backup-scan" if self.cache_dir else None)
        scanned = scan(vault_root, cache, named)
        groups = scanned.groups.values()
        # A pack lost or damaged on the target may have held objects of a client that has
        # not changed: then every client's files are checked against what is there.
        lost = bool(store.vanished or store.damaged or store.unremembered)
        for group in groups:
            if group.found is None and (lost or str(group.tree) not in store):  # e.g. a new drive
                walk(vault_root, group, cache.folders(group.name), scanned.settled, full=False)
        # Read what changed, and what this target lacks, in path order: a client's files
        # then share packs, and a purge rewrites few of them.
        unread = sorted(
            (path, entry)
            for group in groups
            for path, entry in group.found or []
            if entry[3] is None or not all(b in store for b in entry[4] or [entry[3]])
        )
        gone = set()
        for done, (path, entry) in enumerate(unread, start=1):
            try:
                with open(vault_root / path, "rb", buffering=0) as handle:
                    if os.fstat(handle.fileno()).st_size > packs.CHUNK_SIZE:
                        entry[0], entry[3], entry[4] = _chunked(handle, store)
                    else:
                        data = handle.read()
                        entry[0], entry[3], entry[4] = len(data), hashlib.sha256(data).hexdigest(), None
                        store.add(entry[3], data)
            except FileNotFoundError:
                gone.add(path)  # removed since the scan (a purge elsewhere): not in this snapshot
                continue
            if progress:
                progress(done, len(unread))
        files: dict[str, Any] = {}
        trees: dict[str, str] = {}
        count = size = 0
        for group in groups:
            if group.found is None:
                trees[group.name] = str(group.tree)
                count, size = count + group.count, size + group.size
                continue
            listing = {
                path: {"sha256": e[3], "size": e[0], **({"chunks": e[4]} if e[4] else {})}
                for path, e in group.found
                if path not in gone
            }
            count, size = count + len(listing), size + sum(e["size"] for e in listing.values())
            files.update(listing)
            if group.name != REST:
                tree = canonical({"format": TREE_FORMAT, "version": JSON_FORMAT_VERSION, "files": listing})
                trees[group.name] = hashlib.sha256(tree).hexdigest()
                store.add(trees[group.name], tree)
        store.flush()  # every pack first...
        # unique, even for two runs within a second
        name = f"{when.replace(':', '')}-{device.device_id}-{secrets.token_hex(3)}"
        record: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "practice_id": device.practice_id,
            "device": device.device_id,
            "created": when,
            "files": {p: e for p, e in files.items() if not p.startswith("clients/")},
            "trees": trees,
        }
        self.storage.write_new(
            f"snapshots/{name}.json", sign_record(record, device.sign)
        )  # ...then the snapshot
        taken = self._taken_file()
        if taken is not None:  # without fsync: a lost record only costs the rollback check
            durable.replace(taken, json.dumps({"name": name}).encode(), sync=False)
        if progress:
            progress(1, 1)
        if not gone:  # else the next run looks at those folders again
            cache.save(scanned, trees)
        return Snapshot(name, when, device.device_id, files, trees, (count, size))

    def snapshots(self) -> list[str]:
        return [
            key.rsplit("/", 1)[-1][:-5] for key in self.storage.list("snapshots") if key.endswith(".json")
        ]

    def load(
        self, name: str, device_keys: dict[str, VerifyKey] | None, store: ObjectStore | None = None
    ) -> Snapshot:
        """A snapshot's manifest, its signature checked (None: a new machine with no keys
        yet; every object's hash is still checked, and `casenotes verify` checks every
        signature inside the restored vault once the machine is registered), with the
        file lists of its clients read from the objects it names (checked by their hash)."""
        key = f"snapshots/{name}.json"
        record = self._record(key, SNAPSHOT_FORMAT, (JSON_FORMAT_VERSION, SNAPSHOT_VERSION))
        if device_keys is not None:
            signer = device_keys.get(record.get("device", ""))
            if signer is None:
                raise TamperedFile(f"{self}/{key}", "snapshot signed by an unregistered device")
            unsigned = {k: v for k, v in record.items() if k != "signature"}
            try:
                signer.verify(canonical(unsigned), unb64(record.get("signature"), 64))
            except (ValueError, nacl.exceptions.BadSignatureError) as exc:
                raise TamperedFile(f"{self}/{key}", "snapshot manifest was changed (bad signature)") from exc
        if _taken_at(name) != str(record.get("created", "")).replace(":", ""):
            raise TamperedFile(
                f"{self}/{key}",
                f"it holds another snapshot's manifest (taken {record.get('created')}): an older "
                "snapshot copied over a newer one?",
            )
        files = dict(record["files"])
        trees = dict(record.get("trees", {}))
        for folder, digest in trees.items():
            store = store or self.objects()
            if digest not in store:
                where, why = store.missing(digest)
                raise TamperedFile(f"{self}/{where}", f"the file list of {folder} in snapshot {name} {why}")
            data = store.read(digest)
            try:
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ValueError("its hash differs")
                listed = json.loads(data)
                if listed.get("format") != TREE_FORMAT or not all(
                    p.startswith(f"{folder}/") for p in listed["files"]
                ):
                    raise ValueError("not a file list of that folder")
            except (ValueError, AttributeError, KeyError) as exc:
                raise TamperedFile(
                    f"{self}/{store.key(digest)}",
                    f"the file list of {folder} in snapshot {name} is damaged ({exc})",
                ) from exc
            files.update(listed["files"])
        return Snapshot(name, record["created"], record["device"], files, trees)

    def find(self, name: str) -> str:
        names = self.snapshots()
        matches = [n for n in names if n == name or n.startswith(name)]
        if len(matches) != 1:
            raise UnknownSnapshot(name, self, len(matches), names[-1] if names else "none yet")
        return matches[0]

    def verify(
        self, device_keys: dict[str, VerifyKey], full: bool = False, progress: Progress | None = None
    ) -> list[Problem]:
        """Every manifest's signature and every object it names (``full``: their bytes too,
        each pack read once)."""
        store = self.objects()
        problems = [
            Problem(Path(f"{self}/packs/{name}"), f"pack is damaged ({why})")
            for name, why in store.damaged.items()
        ]
        named: dict[str, str] = {}  # object -> a vault path it holds (for messages)
        problems += [found for found in [self.rolled_back()] if found]
        names = self.snapshots()
        for done, name in enumerate(names, start=1):
            if progress:
                progress(done, len(names) + (len(store.packs) if full else 0))
            try:
                snap = self.load(name, device_keys, store)
            except TamperedFile as exc:
                problems.append(Problem(exc.path, exc.why))
                continue
            for relative, entry in snap.files.items():
                for digest in blobs(entry):
                    if digest in store:
                        named.setdefault(digest, relative)
                    else:
                        where, why = store.missing(digest)
                        problems.append(
                            Problem(
                                Path(f"{self}/{where}"), f"object of {relative} in snapshot {snap.name} {why}"
                            )
                        )
        if full:
            packs_read: set[str] = set()
            for digest, data in store.read_all(named):
                if hashlib.sha256(data).hexdigest() != digest:
                    problems.append(
                        Problem(
                            Path(f"{self}/{store.key(digest)}"),
                            f"object of {named[digest]} is damaged (its hash differs)",
                        )
                    )
                if progress and digest in store.where and store.where[digest].pack not in packs_read:
                    packs_read.add(store.where[digest].pack)
                    progress(len(names) + len(packs_read), len(names) + len(store.packs))
        return problems

    def prune(
        self,
        keep: Callable[[list[dt.datetime]], set[dt.datetime]],
        device: Device,
        device_keys: dict[str, VerifyKey],
        dry_run: bool = False,
    ) -> tuple[list[str], int]:
        """Drop the snapshots ``keep`` does not choose, then every object no kept one names
        (repacking the packs they shared with kept ones).

        Manifests go first: a crash in between leaves only unreferenced objects, which the
        next prune collects. Returns the dropped snapshot names and the objects removed.
        Under the target's lease: the packs of a backup another machine is running are
        named by no manifest yet, and would be collected.
        """
        if dry_run:
            return self._prune(keep, device, device_keys, dry_run)
        with lease(self.storage, device.device_id):
            return self._prune(keep, device, device_keys, dry_run)

    def _prune(
        self,
        keep: Callable[[list[dt.datetime]], set[dt.datetime]],
        device: Device,
        device_keys: dict[str, VerifyKey],
        dry_run: bool,
    ) -> tuple[list[str], int]:
        self._writer(device)
        store = self.objects()
        loaded = {name: self.load(name, device_keys, store) for name in self.snapshots()}
        times = {
            name: dt.datetime.fromisoformat(snap.created.replace("Z", "+00:00"))
            for name, snap in loaded.items()
        }
        kept = keep(list(times.values()))
        dropped = [name for name in loaded if times[name] not in kept]
        if dry_run:
            return dropped, 0
        for name in dropped:
            self.storage.delete(f"snapshots/{name}.json")
        referenced = {d for name, snap in loaded.items() if name not in dropped for d in _objects_of(snap)}
        return dropped, store.collect(referenced)

    def shred(
        self, clients: Mapping[str, Sequence[str]], device: Device, device_keys: dict[str, VerifyKey]
    ) -> Shredded:
        """Remove clients from every snapshot here: ``clients`` maps each client id to other
        vault paths of theirs (their handle-index entries). Each manifest that names one is
        rewritten without them and re-signed by this device, then every object no manifest
        names is deleted, the clients' sealed keys among them (crypto-shredding).

        Rerunnable: a crash part-way leaves manifests either old or rewritten, and objects
        nothing names, which the next run (or prune) deletes. Under the target's lease.
        """
        with lease(self.storage, device.device_id):
            return self._shred(clients, device, device_keys)

    def _shred(
        self, clients: Mapping[str, Sequence[str]], device: Device, device_keys: dict[str, VerifyKey]
    ) -> Shredded:

        def owner(path: str) -> str | None:
            for client_id, also in clients.items():
                if path.startswith(f"clients/{client_id}/") or path in also:
                    return client_id
            return None

        self._writer(device)
        store = self.objects()
        loaded = {name: self.load(name, device_keys, store) for name in self.snapshots()}  # all checked first
        rewritten: list[str] = []
        keys: dict[str, set[tuple[str, str]]] = {client_id: set() for client_id in clients}
        for name, snap in loaded.items():
            owners = {p: owner(p) for p in snap.files if p.startswith(("clients/", "index/"))}
            gone = {p: c for p, c in owners.items() if c is not None}
            if not gone:
                continue
            for path, client_id in gone.items():
                if path.startswith(f"clients/{client_id}/access/"):
                    keys[client_id].add((path, snap.files[path]["sha256"]))
            record = json.loads(self.storage.read(f"snapshots/{name}.json"))
            record.pop("signature")
            record["files"] = {p: e for p, e in record["files"].items() if p not in gone}
            trees = {f: d for f, d in snap.trees.items() if f.removeprefix("clients/") not in clients}
            if "trees" in record:
                record["trees"] = trees
            record["device"] = device.device_id
            record["purged"] = sorted({*record.get("purged", []), *gone.values()})
            self.storage.replace(f"snapshots/{name}.json", sign_record(record, device.sign))
            files = {p: e for p, e in snap.files.items() if p not in gone}
            loaded[name] = Snapshot(name, snap.created, device.device_id, files, trees)
            rewritten.append(name)
        referenced = {d for snap in loaded.values() for d in _objects_of(snap)}
        removed = store.collect(referenced)  # every pack that held them, rewritten
        if self.cache_dir is not None:
            ScanCache(self.cache_dir / "backup-scan").forget(
                [f"clients/{c}" for c in clients], [p for also in clients.values() for p in also]
            )
        return Shredded(rewritten, {c: sorted(k) for c, k in keys.items()}, removed)

    def restore(self, snap: Snapshot, into: Path, progress: Progress | None = None) -> None:
        """Write every file of a snapshot under ``into`` (a new vault folder), checking hashes."""
        if into.exists() and any(into.iterdir()):
            raise NotEmpty(into)
        # Written beside ``into`` and renamed into place when whole: a killed restore leaves
        # only this hidden folder, which the next restore into the same place starts afresh.
        partial = into.with_name(f".restoring-{into.name}")
        if partial.exists():
            shutil.rmtree(partial)
        durable.make_dirs(partial)
        store = self.objects()
        whole: dict[str, list[str]] = {}  # object -> the files that are it, whole
        chunked = []
        for relative, entry in sorted(snap.files.items()):
            if not (partial / relative).resolve().is_relative_to(partial.resolve()):
                raise TamperedFile(relative, "snapshot names a path outside the vault")
            for digest in blobs(entry):
                if digest not in store:
                    where, why = store.missing(digest)
                    raise TamperedFile(f"{self}/{where}", f"object of {relative} {why}")
            if "chunks" in entry:
                chunked.append((relative, entry))
            else:
                whole.setdefault(entry["sha256"], []).append(relative)
        done = 0

        def write(relative: str, data: bytes, digest: str, where: str) -> None:
            nonlocal done
            if hashlib.sha256(data).hexdigest() != digest:
                raise TamperedFile(f"{self}/{where}", f"object of {relative} is damaged")
            target = partial / relative
            try:
                target.parent.mkdir(mode=durable.DIR_MODE, parents=True, exist_ok=True)
                # Not fsynced one by one: nothing reads this folder until it is renamed into
                # place, after one sync of the whole (40,000 fsyncs cost minutes).
                with open(
                    target, "xb", opener=lambda path, flags: os.open(path, flags, durable.FILE_MODE)
                ) as out:
                    out.write(data)
            except OSError as exc:
                raise WriteFailed(target, reason(exc)) from exc
            done += 1
            if progress:
                progress(done, len(snap.files))

        for digest, data in store.read_all(whole):  # each pack read once
            for relative in whole[digest]:
                write(relative, data, digest, store.key(digest))
        for relative, entry in chunked:
            data = b"".join(store.read(digest) for digest in entry["chunks"])
            write(relative, data, entry["sha256"], store.key(entry["chunks"][0]))
        os.sync()  # every file and folder above durable before the vault appears
        try:
            os.rename(partial, into)  # onto a missing or empty folder: POSIX allows both
        except OSError as exc:
            raise WriteFailed(into, reason(exc)) from exc
        durable.fsync_dir(into.parent)


def _chunked(handle: io.FileIO, store: ObjectStore) -> tuple[int, str, list[str]]:
    """Size, SHA-256 and chunk hashes of a large file, read a chunk at a time into one
    buffer (the 40 MB audit log of a 50,000-note vault is never held whole), each chunk the
    target lacks queued for a pack."""
    whole, digests, size = hashlib.sha256(), list[str](), 0
    view = memoryview(bytearray(packs.CHUNK_SIZE))
    while True:
        filled = 0
        while filled < len(view) and (got := handle.readinto(view[filled:])):
            filled += got
        if not filled:
            return size, whole.hexdigest(), digests
        piece = view[:filled]
        whole.update(piece)
        digests.append(hashlib.sha256(piece).hexdigest())
        store.add(digests[-1], piece)  # copied when queued: the buffer is read into again
        size += filled


def _taken_at(name: str) -> str:
    """The time a snapshot's name starts with (``<time>-<device>-<random>``)."""
    return name.rsplit("-", 2)[0]


def _objects_of(snap: Snapshot) -> set[str]:
    """Every object a snapshot needs: its files' and its file lists'."""
    return {digest for entry in snap.files.values() for digest in blobs(entry)} | set(snap.trees.values())
