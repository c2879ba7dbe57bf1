"""Snapshots of the vault on a backup target: content-addressed objects, signed manifests.

A target is a folder (an external drive, a NAS mount)::

    casenotes-backup.json              which practice the target belongs to
    objects/<ab>/<sha256>              one vault file's bytes, named by their hash
    snapshots/<time>-<device>.json     a manifest: every vault path with its hash, signed

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.signing import VerifyKey

from . import durable
from .audit import Problem
from .constants import JSON_FORMAT_VERSION
from .encoding import b64, canonical, unb64
from .errors import TamperedFile, VaultError
from .keys import Device, read_record

TARGET_FORMAT = "casenotes-backup-target"
SNAPSHOT_FORMAT = "casenotes-snapshot"
Progress = Callable[[int, int], None]


class TargetUnavailable(VaultError):
    template = (
        "backup target {} is not available ({}): plug in the drive or fix the path; the next run retries"
    )


class NotEmpty(VaultError):
    template = "{} is not empty: restore into a new, empty folder"


@dataclass(frozen=True)
class Snapshot:
    name: str
    created: str
    device: str
    files: dict[str, dict[str, Any]]  # vault path -> {"sha256", "size"}

    @property
    def size(self) -> int:
        return sum(int(f["size"]) for f in self.files.values())


def vault_files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if not name.startswith(".tmp-"):
                yield Path(folder, name)


class DirectoryTarget:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _object(self, digest: str) -> Path:
        return self.path / "objects" / digest[:2] / digest

    def practice_id(self) -> str:
        return str(
            read_record(self.path / "casenotes-backup.json", TARGET_FORMAT, TamperedFile)["practice_id"]
        )

    def open(self, practice_id: str, create: bool) -> None:
        """Check (or, the first time, claim) the target for this practice."""
        if not self.path.is_dir():
            if not create or not self.path.parent.is_dir():
                raise TargetUnavailable(self.path, "the folder does not exist")
            durable.make_dirs(self.path)
        marker = self.path / "casenotes-backup.json"
        if not marker.exists():
            if any(self.path.iterdir()) or not create:
                raise TargetUnavailable(self.path, "it is not a casenotes backup target")
            record = {"format": TARGET_FORMAT, "version": JSON_FORMAT_VERSION, "practice_id": practice_id}
            durable.write_new(marker, canonical(record))
        elif read_record(marker, TARGET_FORMAT, TamperedFile).get("practice_id") != practice_id:
            raise TargetUnavailable(self.path, "it holds the backups of another practice")

    def snapshot(
        self, vault_root: Path, device: Device, when: str, cache_file: Path, progress: Progress | None = None
    ) -> Snapshot:
        cache: dict[str, list[Any]] = json.loads(cache_file.read_text()) if cache_file.exists() else {}
        files: dict[str, dict[str, Any]] = {}
        paths = list(vault_files(vault_root))
        for done, path in enumerate(paths, start=1):
            relative = str(path.relative_to(vault_root))
            info = path.stat()
            key = [info.st_size, info.st_mtime_ns, info.st_ino]
            known = cache.get(relative)
            if known and known[:3] == key and self._object(known[3]).exists():
                digest = known[3]  # write-once vault file, already stored: nothing to read
            else:
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                if not self._object(digest).exists():
                    try:
                        durable.write_new(self._object(digest), data)
                    except FileExistsError:
                        pass  # the same bytes, stored by an earlier interrupted run
                cache[relative] = [*key, digest]
            files[relative] = {"sha256": digest, "size": info.st_size}
            if progress:
                progress(done, len(paths))
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
        record["signature"] = b64(device.sign(canonical(record)))
        durable.write_new(self.path / "snapshots" / f"{name}.json", canonical(record))  # now it exists
        durable.replace(cache_file, json.dumps(cache).encode())
        return Snapshot(name, when, device.device_id, files)

    def snapshots(self) -> list[Path]:
        folder = self.path / "snapshots"
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    def load(self, path: Path, device_keys: dict[str, VerifyKey] | None) -> Snapshot:
        """A snapshot's manifest, its signature checked (None: a new machine with no keys
        yet; every object's hash is still checked, and `casenotes verify` checks every
        signature inside the restored vault once the machine is registered)."""
        record = read_record(path, SNAPSHOT_FORMAT, TamperedFile)
        if device_keys is None:
            return Snapshot(path.stem, record["created"], record["device"], record["files"])
        key = device_keys.get(record.get("device", ""))
        if key is None:
            raise TamperedFile(path, "snapshot signed by an unregistered device")
        unsigned = {k: v for k, v in record.items() if k != "signature"}
        try:
            key.verify(canonical(unsigned), unb64(record.get("signature"), 64))
        except (ValueError, nacl.exceptions.BadSignatureError) as exc:
            raise TamperedFile(path, "snapshot manifest was changed (bad signature)") from exc
        return Snapshot(path.stem, record["created"], record["device"], record["files"])

    def find(self, name: str) -> Path:
        matches = [p for p in self.snapshots() if p.stem == name or p.stem.startswith(name)]
        if len(matches) != 1:
            raise TargetUnavailable(
                self.path, f"no single snapshot named {name!r}; `casenotes backup list` shows them"
            )
        return matches[0]

    def verify(
        self, device_keys: dict[str, VerifyKey], full: bool = False, progress: Progress | None = None
    ) -> list[Problem]:
        problems: list[Problem] = []
        checked: set[str] = set()
        for path in self.snapshots():
            try:
                snap = self.load(path, device_keys)
            except TamperedFile as exc:
                problems.append(Problem(exc.path, exc.why))
                continue
            for relative, entry in snap.files.items():
                digest = entry["sha256"]
                obj = self._object(digest)
                if not obj.is_file():
                    problems.append(Problem(obj, f"object of {relative} in snapshot {snap.name} is missing"))
                elif full and digest not in checked:
                    if hashlib.sha256(obj.read_bytes()).hexdigest() != digest:
                        problems.append(Problem(obj, f"object of {relative} is damaged (its hash differs)"))
                    checked.add(digest)
            if progress:
                progress(len(problems), 0)
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
        loaded = {path: self.load(path, device_keys) for path in self.snapshots()}
        times = {
            path: dt.datetime.fromisoformat(snap.created.replace("Z", "+00:00"))
            for path, snap in loaded.items()
        }
        kept = keep(list(times.values()))
        dropped = [path for path in loaded if times[path] not in kept]
        if dry_run:
            return [p.stem for p in dropped], 0
        for path in dropped:
            path.unlink()
        if dropped:
            durable.fsync_dir(self.path / "snapshots")
        referenced = {
            entry["sha256"]
            for path, snap in loaded.items()
            if path not in dropped
            for entry in snap.files.values()
        }
        removed = 0
        for obj in (self.path / "objects").glob("*/*"):
            if obj.name not in referenced:
                obj.unlink()
                removed += 1
        return [p.stem for p in dropped], removed

    def restore(self, snap: Snapshot, into: Path, progress: Progress | None = None) -> None:
        """Write every file of a snapshot under ``into`` (a new vault folder), checking hashes."""
        if into.exists() and any(into.iterdir()):
            raise NotEmpty(into)
        for done, (relative, entry) in enumerate(sorted(snap.files.items()), start=1):
            target = (into / relative).resolve()
            if not target.is_relative_to(into.resolve()):
                raise TamperedFile(relative, "snapshot names a path outside the vault")
            data = self._object(entry["sha256"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise TamperedFile(self._object(entry["sha256"]), f"object of {relative} is damaged")
            durable.write_new(target, data)
            if progress:
                progress(done, len(snap.files))
