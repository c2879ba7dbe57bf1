"""Which vault files a backup must read, without listing every note folder each time.

A 50,000-note vault has 50,000 note folders. A folder's mtime changes whenever an entry
is added to it, removed or renamed in it, which is how casenotes and every sync engine
write (a temp file linked or renamed into place). So the vault is scanned in groups: one
per client folder (``clients/<cid>``), and the rest. A client's group is unchanged when
every folder it had last time has the same mtime and inode: one stat per folder,
relative to the client folder, compared as one fingerprint; no folder is opened or
listed, no cached listing parsed. Only a changed group is walked, with its own cached
listing (files under ``clients/`` are written once, so a cached file there is trusted
with its folder); the rest (the audit log is appended in place) is walked every time, and
each of its files stat'ed. Three guards keep this exact:

- a folder or file changed within ``RACY_NS`` before the last scan is looked at again
  (timestamps are coarse: a change in the same tick as the scan leaves the same mtime);
- every ``FULL_EVERY_NS`` the whole vault is listed and every file stat'ed (its ctime too,
  which no one can set back), so that even a file rewritten in place behind casenotes'
  back (its folder's mtime unchanged) is copied within a week; `casenotes verify` reports
  such a file at once (its signature);
- a missing or unreadable cache means a full walk.

The cache lives in the practice's state folder, ``backup-scan/`` (JSON, not fsynced: a
lost one costs a full walk): ``groups.json`` = ``{"version", "scanned", "full", "groups":
{group: {"dirs": folders joined by newlines, "fp": fingerprint, "tree": sha256}}}`` and,
per group, ``<cid or _rest>.json`` = ``{folder: [mtime_ns, inode, [subfolders], {file:
[size, mtime_ns, inode, sha256, chunks, ctime_ns]}]}``; a file's sha256 is None until read.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import durable
from ..format import sync_artefacts

RACY_NS = 2_000_000_000  # 2 s: coarser than any file system's timestamps but FAT's
FULL_EVERY_NS = 7 * 86_400 * 1_000_000_000
CACHE_VERSION = 3
REST = ""  # the group of every file outside clients/<cid>/

Entry = list[Any]  # [size, mtime_ns, inode, sha256 | None, chunk hashes | None, ctime_ns]
Found = list[tuple[str, Entry]]  # (vault path, entry)
Folders = dict[str, list[Any]]  # folder -> [mtime_ns, inode, subfolders, {file: Entry}]


def is_copied(name: str) -> bool:
    """A vault entry a backup copies: not a sync engine's (.stversions may hold a purged
    key), not a write under way."""
    return not sync_artefacts.is_artefact(name) and not name.startswith(durable.TEMP_PREFIX)


@dataclass
class Group:
    name: str  # "clients/<cid>", or REST
    tree: str | None  # the sha256 of its file list, when unchanged
    found: Found | None = None  # its files, when walked
    folders: Folders = field(default_factory=dict)
    count: int = 0  # files, and their bytes (when not walked: as cached)
    size: int = 0


@dataclass
class Scanned:
    groups: dict[str, Group]
    started: int
    settled: int  # a change before this was surely seen by the scan before
    full: bool


class ScanCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.groups: dict[str, dict[str, Any]] = {}
        self.scanned = self.full = 0
        if folder is None or not (folder / "groups.json").exists():
            return
        try:
            record = json.loads((folder / "groups.json").read_bytes())
            if record.get("version") == CACHE_VERSION:
                self.groups, self.scanned, self.full = record["groups"], record["scanned"], record["full"]
        except (ValueError, KeyError, AttributeError, TypeError):
            self.groups = {}  # torn or older: a full walk

    def _file(self, group: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{group.rsplit('/', 1)[-1] or '_rest'}.json"

    def folders(self, group: str) -> Folders:
        """A group's cached listing (read only for a group that changed)."""
        if self.folder is None:
            return {}
        with contextlib.suppress(OSError, ValueError):
            found = json.loads(self._file(group).read_bytes())
            if isinstance(found, dict):
                return found
        return {}

    def forget(self, groups: list[str], paths: list[str]) -> None:
        """Drop purged clients' groups and their other files (``paths``, outside
        ``clients/``): their file lists, sizes and hashes go with them."""
        if self.folder is None or not self.groups.keys() & set(groups):
            return
        rest = self.folders(REST)
        for path in paths:
            folder, _, name = path.rpartition("/")
            if folder in rest:
                rest[folder][3].pop(name, None)
        if rest:
            durable.replace(self._file(REST), json.dumps(rest).encode(), sync=False)
        for name in groups:
            self.groups.pop(name, None)
            self._file(name).unlink(missing_ok=True)
        record = {"version": CACHE_VERSION, "scanned": self.scanned, "full": self.full, "groups": self.groups}
        durable.replace(self.folder / "groups.json", json.dumps(record).encode(), sync=False)

    def save(self, done: Scanned, trees: dict[str, str]) -> None:
        """Remember a scan whose files were all read, once a snapshot names them."""
        if self.folder is None:
            return
        groups = {}
        for name, group in done.groups.items():
            if group.found is None:
                groups[name] = self.groups[name]
                continue
            durable.replace(self._file(name), json.dumps(group.folders).encode(), sync=False)
            groups[name] = {
                "dirs": "\n".join(f.removeprefix(name).lstrip("/") or "." for f in group.folders),
                "fp": _fingerprint([(f[0], f[1]) for f in group.folders.values()]),
                "tree": trees.get(name),
                "count": len(group.found),
                "size": sum(e[0] for _, e in group.found),
            }
        for name in self.groups.keys() - groups.keys():
            self._file(name).unlink(missing_ok=True)
        record = {
            "version": CACHE_VERSION,
            "scanned": done.started,
            "full": done.started if done.full else self.full,
            "groups": groups,
        }
        durable.replace(self.folder / "groups.json", json.dumps(record).encode(), sync=False)


def _fingerprint(stats: list[tuple[int, int]]) -> int:
    # Python's hash of a tuple of ints is the same in every process (only str and bytes
    # hashes are salted), and a 64-bit hash is ample against accidental equality.
    return hash(tuple(stats))


def _unchanged(root: Path, name: str, cached: dict[str, Any], settled: int) -> bool:
    """Whether every folder of a client group is as the last scan left it (stats only)."""
    try:
        fd = os.open(root / name, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        stats = [
            (s.st_mtime_ns, s.st_ino) for s in (os.stat(d, dir_fd=fd) for d in cached["dirs"].split("\n"))
        ]
    except OSError:
        return False
    finally:
        os.close(fd)
    return max(stats)[0] < settled and _fingerprint(stats) == cached["fp"]


def walk(root: Path, group: Group, before: Folders, settled: int, full: bool) -> None:
    """List a group's folders (from ``before`` where a folder is unchanged) into
    ``group.found`` and ``group.folders``."""
    found: Found = []
    folders: Folders = {}

    def known(entry: Entry | None, info: os.stat_result) -> Entry:
        # ctime too: a rewrite whose mtime was put back (utime) still moves it
        if (
            entry is not None
            and entry[:3] == [info.st_size, info.st_mtime_ns, info.st_ino]
            and entry[5:] == [info.st_ctime_ns]
            and info.st_mtime_ns < settled
        ):
            return entry
        return [info.st_size, info.st_mtime_ns, info.st_ino, None, None, info.st_ctime_ns]

    write_once = group.name != REST
    stack = [group.name]
    while stack:
        folder = stack.pop()
        path = os.path.join(root, folder)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue  # removed since its parent was listed
        cached = before.get(folder)
        files: dict[str, Entry] | None = None
        if (
            not full
            and cached
            and cached[:2] == [info.st_mtime_ns, info.st_ino]
            and info.st_mtime_ns < settled
        ):
            subdirs, files = cached[2], cached[3]
            if not write_once:
                try:  # appended in place: each file's own stat says
                    files = {n: known(e, os.stat(os.path.join(path, n))) for n, e in files.items()}
                except FileNotFoundError:
                    files = None
        if files is None:
            subdirs, files = [], {}
            old = cached[3] if cached else {}
            with os.scandir(path) as entries:
                for item in entries:
                    if not is_copied(item.name):
                        continue
                    if item.is_dir(follow_symlinks=False):
                        if not (folder == "clients" and group.name == REST):  # each its own group
                            subdirs.append(item.name)
                    elif item.is_file(follow_symlinks=False):
                        files[item.name] = known(old.get(item.name), item.stat(follow_symlinks=False))
        folders[folder] = [info.st_mtime_ns, info.st_ino, subdirs, files]
        prefix = f"{folder}/" if folder else ""
        found.extend((prefix + name, entry) for name, entry in files.items())
        stack.extend(prefix + name for name in subdirs)
    group.found, group.folders = found, folders


def scan(root: Path, cache: ScanCache) -> Scanned:
    """Every group of the vault: walked if changed, else only its cached tree's hash."""
    started = time.time_ns()
    full = not cache.groups or started - cache.full > FULL_EVERY_NS
    settled = cache.scanned - RACY_NS  # changes before this were surely seen by the last scan
    clients = root / "clients"
    names = sorted(f"clients/{n}" for n in (os.listdir(clients) if clients.is_dir() else []) if is_copied(n))
    groups = {}
    for name in [REST, *names]:
        cached = cache.groups.get(name)
        if (
            not full
            and name != REST
            and cached
            and cached.get("tree")
            and _unchanged(root, name, cached, settled)
        ):
            groups[name] = Group(name, cached["tree"], count=cached["count"], size=cached["size"])
        else:
            groups[name] = Group(name, None)
            walk(root, groups[name], cache.folders(name), settled, full)
    return Scanned(groups, started, settled, full)


def vault_files(root: Path) -> list[str]:
    """Every file a backup of ``root`` copies (vault paths)."""
    return sorted(p for g in scan(root, ScanCache(None)).groups.values() for p, _ in g.found or [])
