"""Snapshots of the vault on a backup target: content-addressed objects, signed manifests.

A target is a folder (an external drive, a NAS mount) or an rclone remote, holding::

    casenotes-backup.json              which practice the target belongs to
    objects/<ab>/<sha256>              one vault file's bytes, named by their hash
    snapshots/<time>-<device>-<rand>.json  a manifest: every vault path with its hash, signed

Only ciphertext and signed public records are copied: the vault holds nothing else. The
inbox and the device key never are. Objects are written first, each durable, then the
manifest, atomically: a crash or a full disk mid-backup leaves objects no manifest
names (collected later) and never a half snapshot. Unchanged files are not even
re-read: a local cache maps (path, size, mtime, inode) to the hash already taken.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.signing import VerifyKey

from .. import durable
from ..errors import Problem, TamperedFile, UnknownSnapshot, VaultError, WriteFailed, reason
from ..format import sync_artefacts
from ..format.constants import JSON_FORMAT_VERSION
from ..format.encoding import canonical, unb64
from ..format.keys import Device, sign_record
from .storage import Storage, TargetUnavailable

TARGET_FORMAT = "casenotes-backup-target"
MARKER = "casenotes-backup.json"
SNAPSHOT_FORMAT = "casenotes-snapshot"
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
    files: dict[str, dict[str, Any]]  # vault path -> {"sha256", "size"}

    @property
    def size(self) -> int:
        return sum(int(f["size"]) for f in self.files.values())


def vault_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(path relative to the vault, stat) of every vault file, from scandir: one system
    call a folder, and plain strings (a 50,000-note vault has 50,000 folders)."""
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if sync_artefacts.is_artefact(entry.name):
                    continue  # a sync engine's: never backed up (.stversions may hold a purged key)
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, prefix + entry.name + "/"))
                elif entry.is_file(follow_symlinks=False) and not entry.name.startswith(".tmp-"):
                    yield prefix + entry.name, entry.stat(follow_symlinks=False)


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

    @property
    def cache_file(self) -> Path | None:
        if self.cache_dir is None:
            return None
        # Keyed by the target's own random id: another drive at the same mount point
        # (rotated drives) never inherits this one's list of stored objects.
        key = self.target_id or hashlib.sha256(str(self).encode()).hexdigest()[:12]
        return self.cache_dir / f"backup-cache-{key}.json"

    def __str__(self) -> str:
        return str(self.storage)

    @staticmethod
    def _object(digest: str) -> str:
        return f"objects/{digest[:2]}/{digest}"

    def practice_id(self) -> str:
        return str(self._record(MARKER, TARGET_FORMAT)["practice_id"])

    def _record(self, key: str, fmt: str) -> dict[str, Any]:
        try:
            record = json.loads(self.storage.read(key))
        except (OSError, ValueError) as exc:
            raise TamperedFile(f"{self}/{key}", "not a readable casenotes record") from exc
        if (
            not isinstance(record, dict)
            or record.get("format") != fmt
            or record.get("version") != JSON_FORMAT_VERSION
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
        self, vault_root: Path, device: Device, when: str, progress: Progress | None = None
    ) -> Snapshot:
        cache_file = self.cache_file
        cache: dict[str, list[Any]] = (
            json.loads(cache_file.read_text()) if cache_file and cache_file.exists() else {}
        )
        # The cache is written only after a snapshot naming its objects exists, and prune
        # deletes it, so a cached hash is an object on the target: no listing needed.
        stored = (
            {entry[3] for entry in cache.values()}
            if cache
            else {k.rsplit("/", 1)[-1] for k in self.storage.list("objects")}
        )
        files: dict[str, dict[str, Any]] = {}
        new: dict[str, bytes] = {}
        found = list(vault_files(vault_root))
        for done, (relative, info) in enumerate(found, start=1):
            key = [info.st_size, info.st_mtime_ns, info.st_ino]
            known = cache.get(relative)
            if known and known[:3] == key and known[3] in stored:
                digest = known[3]  # write-once vault file, already stored: nothing to read
            else:
                data = (vault_root / relative).read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                if digest not in stored:
                    new[self._object(digest)] = data
                    stored.add(digest)
                cache[relative] = [*key, digest]
            files[relative] = {"sha256": digest, "size": info.st_size}
            if progress:
                progress(done, len(found))
        self.storage.write_many(new)  # every object first...
        # unique, even for two runs within a second
        name = f"{when.replace(':', '')}-{device.device_id}-{secrets.token_hex(3)}"
        record: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "version": JSON_FORMAT_VERSION,
            "practice_id": device.practice_id,
            "device": device.device_id,
            "created": when,
            "files": files,
        }
        self.storage.write_new(
            f"snapshots/{name}.json", sign_record(record, device.sign)
        )  # ...then the snapshot
        if cache_file:
            durable.replace(cache_file, json.dumps(cache).encode())
        return Snapshot(name, when, device.device_id, files)

    def snapshots(self) -> list[str]:
        return [
            key.rsplit("/", 1)[-1][:-5] for key in self.storage.list("snapshots") if key.endswith(".json")
        ]

    def load(self, name: str, device_keys: dict[str, VerifyKey] | None) -> Snapshot:
        """A snapshot's manifest, its signature checked (None: a new machine with no keys
        yet; every object's hash is still checked, and `casenotes verify` checks every
        signature inside the restored vault once the machine is registered)."""
        key = f"snapshots/{name}.json"
        record = self._record(key, SNAPSHOT_FORMAT)
        if device_keys is not None:
            signer = device_keys.get(record.get("device", ""))
            if signer is None:
                raise TamperedFile(f"{self}/{key}", "snapshot signed by an unregistered device")
            unsigned = {k: v for k, v in record.items() if k != "signature"}
            try:
                signer.verify(canonical(unsigned), unb64(record.get("signature"), 64))
            except (ValueError, nacl.exceptions.BadSignatureError) as exc:
                raise TamperedFile(f"{self}/{key}", "snapshot manifest was changed (bad signature)") from exc
        return Snapshot(name, record["created"], record["device"], record["files"])

    def find(self, name: str) -> str:
        names = self.snapshots()
        matches = [n for n in names if n == name or n.startswith(name)]
        if len(matches) != 1:
            raise UnknownSnapshot(name, self, len(matches), names[-1] if names else "none yet")
        return matches[0]

    def verify(
        self, device_keys: dict[str, VerifyKey], full: bool = False, progress: Progress | None = None
    ) -> list[Problem]:
        problems: list[Problem] = []
        stored = {key.rsplit("/", 1)[-1] for key in self.storage.list("objects")}
        checked: set[str] = set()
        names = self.snapshots()
        for done, name in enumerate(names, start=1):
            if progress:
                progress(done, len(names))
            try:
                snap = self.load(name, device_keys)
            except TamperedFile as exc:
                problems.append(Problem(exc.path, exc.why))
                continue
            for relative, entry in snap.files.items():
                digest = entry["sha256"]
                where = Path(f"{self}/{self._object(digest)}")
                if digest not in stored:
                    problems.append(
                        Problem(where, f"object of {relative} in snapshot {snap.name} is missing")
                    )
                elif full and digest not in checked:
                    if hashlib.sha256(self.storage.read(self._object(digest))).hexdigest() != digest:
                        problems.append(Problem(where, f"object of {relative} is damaged (its hash differs)"))
                    checked.add(digest)
        return problems

    def prune(
        self,
        keep: Callable[[list[dt.datetime]], set[dt.datetime]],
        device_keys: dict[str, VerifyKey],
        dry_run: bool = False,
    ) -> tuple[list[str], int]:
        """Drop the snapshots ``keep`` does not choose, then every object no kept one names.

        Manifests go first: a crash in between leaves only unreferenced objects, which the
        next prune collects. Returns the dropped snapshot names and the objects removed.
        """
        loaded = {name: self.load(name, device_keys) for name in self.snapshots()}
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
        if self.cache_file:
            self.cache_file.unlink(missing_ok=True)  # it may name objects about to go
        referenced = {
            e["sha256"] for name, snap in loaded.items() if name not in dropped for e in snap.files.values()
        }
        removed = self._collect(referenced)
        return dropped, removed

    def shred(
        self, clients: Mapping[str, Sequence[str]], device: Device, device_keys: dict[str, VerifyKey]
    ) -> Shredded:
        """Remove clients from every snapshot here: ``clients`` maps each client id to other
        vault paths of theirs (their handle-index entries). Each manifest that names one is
        rewritten without them and re-signed by this device, then every object no manifest
        names is deleted, the clients' sealed keys among them (crypto-shredding).

        Rerunnable: a crash part-way leaves manifests either old or rewritten, and objects
        nothing names, which the next run (or prune) deletes.
        """

        def owner(path: str) -> str | None:
            for client_id, also in clients.items():
                if path.startswith(f"clients/{client_id}/") or path in also:
                    return client_id
            return None

        loaded = {name: self.load(name, device_keys) for name in self.snapshots()}  # all checked first
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
            record["files"] = {p: e for p, e in snap.files.items() if p not in gone}
            record["device"] = device.device_id
            record["purged"] = sorted({*record.get("purged", []), *gone.values()})
            self.storage.replace(f"snapshots/{name}.json", sign_record(record, device.sign))
            loaded[name] = Snapshot(name, snap.created, device.device_id, record["files"])
            rewritten.append(name)
        if self.cache_file:
            self.cache_file.unlink(missing_ok=True)  # as after a prune: it may name objects about to go
        referenced = {e["sha256"] for snap in loaded.values() for e in snap.files.values()}
        removed = self._collect(referenced)
        return Shredded(rewritten, {c: sorted(k) for c, k in keys.items()}, removed)

    def _collect(self, referenced: set[str]) -> int:
        """Delete every object no kept manifest names; returns how many."""
        removed = 0
        for key in self.storage.list("objects"):
            if key.rsplit("/", 1)[-1] not in referenced:
                self.storage.delete(key)
                removed += 1
        return removed

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
        for done, (relative, entry) in enumerate(sorted(snap.files.items()), start=1):
            target = (partial / relative).resolve()
            if not target.is_relative_to(partial.resolve()):
                raise TamperedFile(relative, "snapshot names a path outside the vault")
            data = self.storage.read(self._object(entry["sha256"]))
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise TamperedFile(
                    f"{self}/{self._object(entry['sha256'])}", f"object of {relative} is damaged"
                )
            durable.write_new(target, data)
            if progress:
                progress(done, len(snap.files))
        try:
            os.rename(partial, into)  # onto a missing or empty folder: POSIX allows both
        except OSError as exc:
            raise WriteFailed(into, reason(exc)) from exc
        durable.fsync_dir(into.parent)
