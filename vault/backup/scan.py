"""Which vault files a backup must read, without listing every note folder each time.

A 50,000-note vault has 50,000 note folders. A folder's mtime changes whenever an entry
is added to it, removed or renamed in it, which is how casenotes and every sync engine
write (a temp file linked or renamed into place). So a folder whose mtime and inode are
what they were at the last backup holds the same entries: its listing comes from a cache
in the practice's state folder after one stat, with no open and no read. Files under
``clients/`` are written once, so they are trusted with their folder; the few elsewhere
(the audit log is appended in place) are each stat'ed. Three guards keep this exact:

- a folder or file changed within ``RACY_NS`` before the last scan is looked at again
  (timestamps are coarse: a change in the same tick as the scan leaves the same mtime);
- every ``FULL_EVERY_NS`` the whole vault is listed and every file stat'ed, so that even a
  file rewritten in place behind casenotes' back (its folder's mtime unchanged) is
  copied within a week; `casenotes verify` reports such a file at once (its signature);
- a missing or unreadable cache means a full walk.

Cache (JSON, not fsynced: a lost one costs one full walk): ``{"version": 2, "scanned":
ns, "full": ns, "dirs": {folder: [mtime_ns, inode, [subfolders], {file: [size, mtime_ns,
inode, sha256, chunks]}]}}``; a file's sha256 is None until the backup has read it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import durable
from ..format import sync_artefacts

RACY_NS = 2_000_000_000  # 2 s: coarser than any file system's timestamps but FAT's
FULL_EVERY_NS = 7 * 86_400 * 1_000_000_000
CACHE_VERSION = 2

Entry = list[Any]  # [size, mtime_ns, inode, sha256 | None, chunk hashes | None]
Found = list[tuple[str, Entry]]  # (vault path, entry) of every vault file


def is_copied(name: str) -> bool:
    """A vault entry a backup copies: not a sync engine's (.stversions may hold a purged
    key), not a write under way."""
    return not sync_artefacts.is_artefact(name) and not name.startswith(durable.TEMP_PREFIX)


def _write_once(folder: str) -> bool:
    return folder == "clients" or folder.startswith("clients/")


class ScanCache:
    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.dirs: dict[str, list[Any]] = {}
        self.scanned = self.full = 0
        if file is None or not file.exists():
            return
        try:
            record = json.loads(file.read_bytes())
            if record.get("version") == CACHE_VERSION:
                self.dirs, self.scanned, self.full = record["dirs"], record["scanned"], record["full"]
        except (ValueError, KeyError, AttributeError, TypeError):
            self.dirs = {}  # torn or older: a full walk

    def save(self, done: Scanned) -> None:
        """Remember a scan whose files were all read (call it once a snapshot names them)."""
        if self.file:
            full = done.started if done.full else self.full
            record = {"version": CACHE_VERSION, "scanned": done.started, "full": full, "dirs": done.dirs}
            durable.replace(self.file, json.dumps(record, separators=(",", ":")).encode(), sync=False)


@dataclass
class Scanned:
    found: Found  # every vault file and its entry; an entry whose sha256 is None must be read
    dirs: dict[str, list[Any]]  # what to cache
    started: int
    full: bool  # every folder listed


def scan(root: Path, cache: ScanCache) -> Scanned:
    """Every vault file, from the cache where its folder is unchanged."""
    started = time.time_ns()
    full = not cache.dirs or started - cache.full > FULL_EVERY_NS
    settled = cache.scanned - RACY_NS  # changes before this were surely seen by the last scan

    def known(entry: Entry | None, info: os.stat_result) -> Entry:
        if (
            entry is not None
            and entry[:3] == [info.st_size, info.st_mtime_ns, info.st_ino]
            and info.st_mtime_ns < settled
        ):
            return entry
        return [info.st_size, info.st_mtime_ns, info.st_ino, None, None]

    def listed(path: str, before: dict[str, Entry]) -> tuple[list[str], dict[str, Entry]]:
        subdirs, files = [], {}
        with os.scandir(path) as entries:
            for item in entries:
                if not is_copied(item.name):
                    continue
                if item.is_dir(follow_symlinks=False):
                    subdirs.append(item.name)
                elif item.is_file(follow_symlinks=False):
                    files[item.name] = known(before.get(item.name), item.stat(follow_symlinks=False))
        return subdirs, files

    dirs: dict[str, list[Any]] = {}
    found: Found = []
    stack = [""]
    while stack:
        folder = stack.pop()
        path = os.path.join(root, folder)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue  # removed since its parent was listed
        cached = cache.dirs.get(folder)
        files: dict[str, Entry] | None = None
        if not full and cached and cached[:2] == [info.st_mtime_ns, info.st_ino] and info.st_mtime_ns < settled:
            subdirs, files = cached[2], cached[3]
            if not _write_once(folder):
                try:  # appended in place: each file's own stat says
                    files = {n: known(e, os.stat(os.path.join(path, n))) for n, e in files.items()}
                except FileNotFoundError:
                    files = None
        if files is None:
            subdirs, files = listed(path, cached[3] if cached else {})
        dirs[folder] = [info.st_mtime_ns, info.st_ino, subdirs, files]
        prefix = f"{folder}/" if folder else ""
        found.extend((prefix + name, entry) for name, entry in files.items())
        stack.extend(prefix + name for name in subdirs)
    return Scanned(found, dirs, started, full)


def vault_files(root: Path) -> list[str]:
    """Every file a backup of ``root`` copies (vault paths)."""
    return sorted(path for path, _ in scan(root, ScanCache(None)).found)
