"""Which vault files a backup must read, without listing every note folder each time.

A 50,000-note vault has 50,000 note folders. A folder's mtime changes whenever an entry
is added to it, removed or renamed in it, which is how casenotes and every sync engine
write (a temp file linked or renamed into place). So the vault is scanned in groups: one
per client folder (``clients/<cid>``), and the rest. A client's group is unchanged when
every folder it had last time has the same mtime and inode: one stat per folder,
relative to the client folder, compared as one fingerprint; no folder is opened or
listed, no cached listing parsed. Only a changed group is walked, with its own cached
listing (files under ``clients/`` are written once, so a cached file there is trusted
with its folder); the rest is walked every time, a stat per folder, and each audit log
stat'ed (the logs are appended in place: their folder's mtime stays).

Even one stat per folder is 55,000 stats at 50,000 notes, so the audit logs are the change
journal: every write under ``clients/`` by casenotes, on this machine or another whose log
a sync engine brought, appends a line naming its client (``"client":"<cid>"`` or a path
``clients/<cid>/``). A run reads only what each log gained since the last scan and stats
the folders of the clients it names, and of those named within ``WATCH_NS`` before (a sync
engine may bring a revision days after or before its writer's log line); no other client
is stat'ed, unless its folder is not the one the last scan saw (its inode, as the listing
of ``clients/`` gives it, differs: a copy put in its place). A line that names no client
and is not a read (``READS``), a log that is new, replaced or shorter than the scan left
it: every client is stat'ed, as above. A seal on this machine marks its client until its
line is written (vault/store/audit.py ``unlogged``): a marked client is looked at as if
named. Three guards keep the rest exact, and bound what no log line names:

- a folder or file changed within ``RACY_NS`` before the last scan is looked at again
  (timestamps are coarse: a change in the same tick as the scan leaves the same mtime);
- every ``FULL_EVERY_NS`` the whole vault is listed and every file stat'ed (its ctime too,
  which no one can set back), so that even a file put in a client's folder or rewritten in
  place behind casenotes' back (no log line, or its folder's mtime unchanged) is copied
  within a week; `casenotes verify` reports a rewrite at once (its signature);
- a missing or unreadable cache, or one whose last full walk is in the future (the clock
  was set back), means a full walk.

The cache lives in the practice's state folder, ``backup-scan/`` (JSON, not fsynced: a
lost one costs a full walk): ``groups.json`` = ``{"version", "scanned", "full", "groups":
{group: {"dirs": folders joined by newlines, "fp": fingerprint, "tree": sha256, "ino": the
client folder's inode as its parent lists it}}, "logs":
{audit log: [inode, bytes read]}, "watch": {group: until (ns)}}`` and,
per group, ``<cid or _rest>.json`` = ``{folder: [mtime_ns, inode, [subfolders], {file:
[size, mtime_ns, inode, sha256, chunks, ctime_ns]}]}``; a file's sha256 is None until read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import durable
from ..format import sync_artefacts

RACY_NS = 2_000_000_000  # 2 s: coarser than any file system's timestamps but FAT's
FULL_EVERY_NS = 7 * 86_400 * 1_000_000_000
CACHE_VERSION = 3  # a cache without "logs" (before the journal): every client stat'ed once
REST = ""  # the group of every file outside clients/<cid>/
AUDIT = "audit"  # the audit logs' folder (vault/store/audit.py), one log a device
#: how long a client a log line named has its folders stat'ed on every run
WATCH_NS = FULL_EVERY_NS
#: events that write nothing under clients/ (the reads, the notices, and what lands
#: elsewhere: a backup or prune on a target, the practice's rules under settings/)
READS = frozenset(
    {
        "unlock",
        "unlock-failed",
        "recovery-failed",
        "decrypt",
        "decrypt-profile",
        "decrypt-profiles",
        "decrypt-consents",
        "decrypt-amendments",
        "access-denied",
        "backup",
        "backup-prune",
        "purge-waiting",
        "practice-rules",
    }
)
#: every casenotes name but none a sync engine makes (those have a leading dot, two
#: extensions, a space, "~", "!" or "_"; see vault/format/sync_artefacts.py) nor a temp file
_PLAIN = re.compile(r"[0-9a-z-]+(?:\.[a-z]+)?")
# an entry's own event and time (canonical JSON: its keys sorted, "time" last), not a data field's
_EVENT = re.compile(rb'"device":"[0-9a-f]*","event":"([^"]*)","prev":"')
_TIME = re.compile(rb'"time":"([^"]*)"}$')
_CLIENT = re.compile(rb'"client":"([0-9a-f]{16})"|clients/([0-9a-f]{16})/')

Entry = list[Any]  # [size, mtime_ns, inode, sha256 | None, chunk hashes | None, ctime_ns]
Found = list[tuple[str, Entry]]  # (vault path, entry)
Folders = dict[str, list[Any]]  # folder -> [mtime_ns, inode, subfolders, {file: Entry}]
Logs = dict[str, list[int]]  # audit log -> [inode, bytes read]
Watch = dict[str, int]  # group -> its folders stat'ed on every run until (ns)


def is_copied(name: str) -> bool:
    """A vault entry a backup copies: not a sync engine's (.stversions may hold a purged
    key), not a write under way."""
    if _PLAIN.fullmatch(name):  # an id, a number or a word with one extension: no engine's name
        return True
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
    logs: Logs = field(default_factory=dict)
    watch: Watch = field(default_factory=dict)
    inodes: dict[str, int] = field(default_factory=dict)  # client folder -> its inode, as listed


class ScanCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.groups: dict[str, dict[str, Any]] = {}
        self.logs: Logs = {}
        self.watch: Watch = {}
        self.scanned = self.full = 0
        if folder is None or not (folder / "groups.json").exists():
            return
        try:
            record = json.loads((folder / "groups.json").read_bytes())
            if record.get("version") == CACHE_VERSION:
                self.groups, self.scanned, self.full = record["groups"], record["scanned"], record["full"]
                self.logs, self.watch = dict(record.get("logs", {})), dict(record.get("watch", {}))
        except (ValueError, KeyError, AttributeError, TypeError):
            self.groups, self.logs, self.watch = {}, {}, {}  # torn or older: a full walk

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
            self.watch.pop(name, None)
            self._file(name).unlink(missing_ok=True)
        self._record(self.scanned, self.full, self.groups, self.logs, self.watch)

    def _record(self, scanned: int, full: int, groups: dict[str, Any], logs: Logs, watch: Watch) -> None:
        assert self.folder is not None
        record = {
            "version": CACHE_VERSION,
            "scanned": scanned,
            "full": full,
            "groups": groups,
            "logs": logs,
            "watch": watch,
        }
        durable.replace(self.folder / "groups.json", json.dumps(record).encode(), sync=False)

    def save(self, done: Scanned, trees: dict[str, str]) -> None:
        """Remember a scan whose files were all read, once a snapshot names them."""
        if self.folder is None:
            return
        groups = {}
        for name, group in done.groups.items():
            if group.found is None:
                groups[name] = self.groups[name]
                if groups[name].get("ino") != done.inodes.get(name):  # a cache from before "ino"
                    groups[name] = {**groups[name], "ino": done.inodes.get(name)}
                continue
            durable.replace(self._file(name), json.dumps(group.folders).encode(), sync=False)
            groups[name] = {
                "dirs": "\n".join(f.removeprefix(name).lstrip("/") or "." for f in group.folders),
                "fp": _fingerprint([(f[0], f[1]) for f in group.folders.values()]),
                "tree": trees.get(name),
                "count": len(group.found),
                "size": sum(e[0] for _, e in group.found),
                "ino": done.inodes.get(name),
            }
        for name in self.groups.keys() - groups.keys():
            self._file(name).unlink(missing_ok=True)
        watch = {name: until for name, until in done.watch.items() if name in groups}
        self._record(done.started, done.started if done.full else self.full, groups, done.logs, watch)


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

    # Files are written once (a new name, linked or renamed in: the folder's mtime moves),
    # but for the audit logs, appended in place (vault/store/audit.py).
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
            if group.name == REST and folder == AUDIT:
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


def _last_line_end(path: str, size: int) -> int:
    """Just past the last complete line of a log (its size if none ends in its last 64 KiB)."""
    with open(path, "rb") as handle:
        start = max(0, size - 65536)
        handle.seek(start)
        tail = handle.read(size - start)
    return start + tail.rfind(b"\n") + 1 if b"\n" in tail else size


def journal(root: Path, read: Logs, started: int) -> tuple[set[str], bool, Logs]:
    """What the audit logs gained since ``read`` (log -> [inode, bytes read]): the client
    groups its lines name, whether every client's folders must be stat'ed (a log new,
    replaced or cut, or a line that may have written under ``clients/`` without naming
    whose), and how far each log is read now. A log read again from its start (replaced
    by a sync engine) names the clients of every line past where it was read, and of its
    earlier lines only those from the last ``WATCH_NS``;
    on the first scan with a journal (every log new to it, none to the vault) the logs are
    not read, only where they end."""
    named: set[str] = set()
    everything = False
    now: Logs = {}
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((started - WATCH_NS) // 1_000_000_000))
    try:
        with os.scandir(root / AUDIT) as entries:
            logs = [e for e in entries if e.name.endswith(".log") and is_copied(e.name)]
    except OSError:
        logs = []
    for log in logs:
        key = f"{AUDIT}/{log.name}"
        try:
            info = log.stat(follow_symlinks=False)
            inode, done = read.get(key, (None, 0))
            anew = inode != info.st_ino or info.st_size < done
            # Lines from ``fresh`` on arrived since the last scan, whatever their time says (a
            # machine back from weeks offline): a log a sync engine renamed into place gained
            # past where it was read; one new here gained all its lines.
            fresh = done
            if anew:
                fresh = done if info.st_size >= done else 0
                everything, done = True, 0 if read else _last_line_end(log.path, info.st_size)
                fresh = max(fresh, done)
            with open(log.path, "rb") as handle:
                handle.seek(done)
                gained = handle.read(info.st_size - done)
        except OSError:
            everything = True
            continue
        whole = gained[: gained.rfind(b"\n") + 1]  # a line being written: read next time
        now[key] = [info.st_ino, done + len(whole)]
        at = done  # where each line starts
        for line in whole.split(b"\n")[:-1]:  # offsets exact: only "\n" ends a line
            start, at = at, at + len(line) + 1
            event = _EVENT.search(line)
            if event is not None and event[1].decode() in READS:
                continue
            when = _TIME.search(line) if start < fresh else None
            if when is not None and when[1].decode() < cutoff:
                continue  # long written: already here for this run's stats, or the weekly walk's
            clients = {(a or b).decode() for a, b in _CLIENT.findall(line)}
            everything = everything or not clients
            named |= {f"clients/{c}" for c in clients}
    return named, everything, now


def scan(root: Path, cache: ScanCache, unlogged: frozenset[str] = frozenset()) -> Scanned:
    """Every group of the vault: walked if changed, else only its cached tree's hash;
    ``unlogged`` client groups are looked at as if a log line named them (a write on this
    machine whose line a kill cut off, vault/store/audit.py)."""
    started = time.time_ns()
    # a last full walk in the future (the clock was ahead, then set right): how long ago is
    # not known, so now, lest what no log line names wait until the clock catches up
    full = not cache.groups or not 0 <= started - cache.full <= FULL_EVERY_NS
    settled = cache.scanned - RACY_NS  # changes before this were surely seen by the last scan
    named, everything, logs = journal(root, cache.logs, started)
    named |= unlogged
    watch = {name: until for name, until in cache.watch.items() if until > started}
    watch |= dict.fromkeys(named, started + WATCH_NS)
    clients = root / "clients"
    inodes: dict[str, int] = {}  # each client folder's, from the listing (no stat)
    if clients.is_dir():
        with os.scandir(clients) as listing:
            inodes = {f"clients/{e.name}": e.inode() for e in listing if is_copied(e.name)}
    groups = {}
    for name in [REST, *sorted(inodes)]:
        cached = cache.groups.get(name)
        if (
            not full
            and name != REST
            and cached
            and cached.get("tree")
            and (
                # no log names it, and it is the same folder (not one put in its place)
                (not everything and name not in watch and cached.get("ino") == inodes[name])
                or _unchanged(root, name, cached, settled)
            )
        ):
            groups[name] = Group(name, cached["tree"], count=cached["count"], size=cached["size"])
        else:
            groups[name] = Group(name, None)
            walk(root, groups[name], cache.folders(name), settled, full)
    return Scanned(groups, started, settled, full, logs, watch, inodes)


def vault_files(root: Path) -> list[str]:
    """Every file a backup of ``root`` copies (vault paths)."""
    return sorted(p for g in scan(root, ScanCache(None)).groups.values() for p, _ in g.found or [])
