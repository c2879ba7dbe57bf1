"""What a write cut short leaves in the vault, and which of it this device may remove.

A note's first revision creates ``records/<nid>/``, and a new client is made in a hidden
``clients/.adding-<cid>/`` folder, before anything is linked into them. A write that fails
(a full disk) or is killed in between leaves the folder empty, or holding only a temp file
that was never linked into place. Such a folder holds no data: readers skip it, verify
names it, and the next syncd run or ``seal`` removes it (``Vault.remove_leftovers``, which
takes the `WriteLock` so that a write still under way is never swept away).

In a replicated vault an empty folder is not proof of a write cut short: Syncthing makes a
note's folder before it fetches the file, and a folder removed here is removed on every
machine, files and all, once the engine carries the removal back (issue 29). So the sweep
removes only what this device can prove it made and abandoned:

- a folder it recorded in its `HalfMade` journal (in the device folder, outside the vault)
  before it made the folder; the entry is cleared once the first file is linked in;
- a temp file named for this device (``.tmp-<device>-<pid>-…``, vault/durable.py) whose
  process is gone, or that is older than an hour.

Anything else that holds nothing (an empty folder another machine or the engine made, a
temp file of another device or of an older casenotes) is reported, never removed.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import durable
from ..durable import TEMP_PREFIX, fsync_dir
from ..errors import WriteFailed
from ..format.encoding import is_id

#: a temp file written under a vault: ``.tmp-<device id>-<process id>-<random>``
TEMP_NAME = re.compile(rf"^{re.escape(TEMP_PREFIX)}([0-9a-f]{{16}})-(\d+)-")
ADDING = ".adding-"  # a client being made; renamed to its id when complete (handles.py)


class WriteLock:
    """A lock file in this machine's device folder: held shared by every write that makes
    a folder before its first file is in place, and exclusively by the sweep of leftovers,
    so it never sweeps such a folder away."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> int:
        durable.make_dirs(self.path.parent)
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, durable.FILE_MODE)
        except OSError as exc:
            raise WriteFailed(self.path, exc.strerror or str(exc)) from exc

    @contextmanager
    def shared(self) -> Iterator[None]:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def exclusive_now(self) -> Iterator[bool]:
        """Held exclusively, if no write holds it now: yields whether it is."""
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


class HalfMade:
    """This device's journal of the vault folders it is making: one empty file per folder,
    named for the folder's path in the vault, in ``<device folder>/half-made/`` (never
    synced, never backed up). Written before the folder is made and cleared once its first
    file is linked in, it is the proof the sweep needs that an empty folder is this
    device's own, abandoned, and not one a sync engine is about to fill."""

    def __init__(self, folder: Path, root: Path) -> None:
        self.folder = folder
        self.root = root

    def _entry(self, made: Path) -> Path:
        return self.folder / "+".join(made.relative_to(self.root).parts)

    @contextmanager
    def making(self, folder: Path) -> Iterator[None]:
        """Around a write that may make ``folder`` (and parents below the vault's root):
        the topmost missing one is recorded first, and cleared if the block ends without an
        error (else the sweep removes it)."""
        top = None
        cursor = folder
        while cursor != self.root and cursor.is_relative_to(self.root) and not cursor.exists():
            top, cursor = cursor, cursor.parent
        if top is None:
            yield
            return
        entry = self._entry(top)
        durable.make_dirs(self.folder)
        try:
            os.close(os.open(entry, os.O_WRONLY | os.O_CREAT, durable.FILE_MODE))
        except OSError as exc:
            raise WriteFailed(entry, exc.strerror or str(exc)) from exc
        # Not fsynced (one more fsync for every new note): a crash that keeps the folder and
        # loses its entry (ext4 commits the entry with the folder's own fsync, which comes
        # later; other file systems may not) leaves a folder that is only reported, never
        # removed; that loses nothing.
        yield
        self.clear(top)

    def clear(self, made: Path) -> None:
        """Forget ``made``; not fsynced: an entry that comes back after a crash names a
        folder that holds a file, or none, and the sweep clears it again."""
        try:
            self._entry(made).unlink(missing_ok=True)
        except OSError:
            pass  # the sweep clears it

    def folders(self) -> list[Path]:
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return []
        return [self.root.joinpath(*name.split("+")) for name in names if not name.startswith(TEMP_PREFIX)]


@dataclass(frozen=True)
class Found:
    """Leftovers of writes cut short: this device's, which the sweep removes, and the rest."""

    mine: list[Path] = field(default_factory=list)
    elsewhere: list[Path] = field(default_factory=list)
    #: journal entries whose folder holds a file or is gone: cleared by the sweep
    settled: list[Path] = field(default_factory=list)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.mine + self.elsewhere)

    def __bool__(self) -> bool:
        return bool(self.mine or self.elsewhere)


def holds_nothing(folder: Path) -> bool:
    """True if ``folder`` (and every folder in it) holds no entry but temp files."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return False
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if not holds_nothing(Path(entry.path)):
                return False
        elif not (entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False)):
            return False
    return True


def is_client_folder(folder: str | Path) -> bool:
    """A client's folder, as opposed to one that holds nothing yet."""
    return os.path.exists(os.path.join(folder, "client.json")) or not holds_nothing(Path(folder))


def abandoned_temp(name: str, device_id: str, mtime: float, now: float) -> bool | None:
    """Whether a temp file is this device's and its writer is gone: True, False (this
    device's, still being written), None (not provably this device's)."""
    match = TEMP_NAME.match(name)
    if match is None or match[1] != device_id:
        return None
    pid = int(match[2])
    return now - mtime >= durable.STALE_TEMP_SECONDS or (pid != os.getpid() and not _alive(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def _ids(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        Path(e.path) for e in os.scandir(folder) if is_id(e.name) and e.is_dir(follow_symlinks=False)
    )


def find(
    root: Path,
    device_id: str,
    journal: HalfMade,
    client_ids: Iterable[str] | None = None,
    now: float | None = None,
) -> Found:
    """Leftover client and note folders, and temp files never linked, in the vault (only
    under those clients' folders, with ``client_ids``), sorted into this device's and the
    rest. Each folder is listed once (a client of 2,000 notes is 2,000 listings)."""
    now = time.time() if now is None else now
    clients = root / "clients"
    journaled = journal.folders()
    if client_ids is None:
        folders = _ids(clients)
        staging = sorted(clients.glob(f"{ADDING}*")) if clients.is_dir() else []
    else:
        folders = [clients / c for c in client_ids]
        staging = []
    empty_folders: list[Path] = []
    temps: list[Path] = []
    for client in folders:
        if not client.is_dir():
            continue
        empty, inside = _scan(client)
        if empty and not (client / "client.json").exists():
            empty_folders.append(client)  # as is_client_folder says
            temps += [p for p in inside if p.name.startswith(TEMP_PREFIX)]
        else:
            empty_folders += [p for p in inside if not p.name.startswith(TEMP_PREFIX)]
            temps += [p for p in inside if p.name.startswith(TEMP_PREFIX)]
    if client_ids is None:
        temps += _temps_outside_clients(root)
    found = Found()
    mine = set()
    for made in journaled:
        wanted = client_ids is None or any(made.is_relative_to(clients / c) for c in client_ids)
        if not wanted:
            continue
        if made.is_dir() and (made.name.startswith(ADDING) or holds_nothing(made)):
            found.mine.append(made)
            mine.add(made)
        else:
            found.settled.append(made)
    for folder in empty_folders + staging:
        if not any(folder.is_relative_to(m) for m in mine):
            found.elsewhere.append(folder)
    for temp in temps:
        if any(temp.is_relative_to(m) for m in mine):
            continue  # removed with its folder
        try:
            verdict = abandoned_temp(temp.name, device_id, os.lstat(temp).st_mtime, now)
        except FileNotFoundError:
            continue
        if verdict:
            found.mine.append(temp)
        elif verdict is None:
            found.elsewhere.append(temp)
    return found


def _temps_outside_clients(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        if folder == str(root):
            dirs[:] = [d for d in dirs if d != "clients"]  # walked by _scan
        found += [Path(folder, name) for name in files if name.startswith(TEMP_PREFIX)]
    return sorted(found)


def _scan(folder: Path) -> tuple[bool, list[Path]]:
    """Whether ``folder`` holds nothing (holds_nothing), and the leftovers inside it: temp
    files, and each note folder under a ``records`` folder that holds nothing (as one)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return False, []
    empty, found = True, []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            nothing, inside = _scan(Path(entry.path))
            empty = empty and nothing
            if nothing and folder.name == "records" and is_id(entry.name):
                found.append(Path(entry.path))
                found += inside  # its temp files: removed with it only if the folder is this device's
            else:
                found += inside
        elif entry.name.startswith(TEMP_PREFIX):
            found.append(Path(entry.path))
            empty = empty and entry.is_file(follow_symlinks=False)
        else:
            empty = False
    return empty, found


def remove(found: Found, journal: HalfMade) -> list[Path]:
    """Remove this device's leftovers and clear their journal entries; one that cannot be
    removed now is left for the next run. What is not this device's is left alone."""
    removed = []
    for path in found.mine:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            fsync_dir(path.parent)
        except FileNotFoundError:
            pass
        except OSError:
            continue  # e.g. a read-only disk: harmless, the next run tries again
        else:
            removed.append(path)
        if not path.name.startswith(TEMP_PREFIX):
            journal.clear(path)
    for made in found.settled:
        journal.clear(made)
    return removed
