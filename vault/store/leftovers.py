"""What a write cut short leaves in a client's folder: empty folders and temp files.

A note's first revision creates ``records/<nid>/``, and a client's first file creates
``clients/<cid>/``, before anything is linked into them. A write that fails (a full
disk) or is killed in between leaves the folder empty, or holding only a ``.tmp-*`` file
that was never linked into place. Such a folder holds no data: readers skip it, verify
names it, and the next syncd run or ``seal`` removes it (``Vault.remove_leftovers``, which
takes the `WriteLock` so that a write still under way is never swept away).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import durable
from ..durable import TEMP_PREFIX, fsync_dir
from ..errors import WriteFailed
from ..format.encoding import is_id


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


def is_client_folder(folder: Path) -> bool:
    """A client's folder, as opposed to one a first write left empty."""
    return (folder / "client.json").exists() or not holds_nothing(folder)


def _ids(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        Path(e.path) for e in os.scandir(folder) if is_id(e.name) and e.is_dir(follow_symlinks=False)
    )


def find(root: Path, client_ids: Iterable[str] | None = None) -> list[Path]:
    """Leftover client and note folders, and temp files never linked, under ``clients/``.

    Each folder is listed once (a client of 2,000 notes is 2,000 listings)."""
    clients = root / "clients"
    folders = _ids(clients) if client_ids is None else [clients / c for c in client_ids]
    found: list[Path] = []
    for client in folders:
        if not client.is_dir():
            continue
        empty, inside = _scan(client)
        if empty and not (client / "client.json").exists():
            found.append(client)  # as is_client_folder says
        else:
            found += inside
    return found


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
            else:
                found += inside
        elif entry.name.startswith(TEMP_PREFIX):
            found.append(Path(entry.path))
            empty = empty and entry.is_file(follow_symlinks=False)
        else:
            empty = False
    return empty, found


def remove(paths: Iterable[Path]) -> list[Path]:
    """Remove leftovers; one that cannot be removed now is left for the next run."""
    removed = []
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            fsync_dir(path.parent)
        except OSError:
            continue  # e.g. a read-only disk: harmless, the next run tries again
        removed.append(path)
    return removed
