"""Atomic, durable writes: every writer of the vault, and of the practice's own files (the
inbox, casenotes.yml, syncd's state), puts a file in place through these.

POSIX promises that ``rename`` (and ``link``) is atomic: a reader sees the old file or
the new one, never a mix. It does not promise durability: after a crash the new name
may be gone unless the directory itself was fsynced, and the data may be gone unless
the file was. So every writer here writes a temp file in the target directory, fsyncs
it, links or renames it into place, then fsyncs the directory. A failure at any step
leaves the old state and removes the temp file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import NotDurable, WriteFailed, reason

FILE_MODE = 0o600
DIR_MODE = 0o700
TEMP_PREFIX = ".tmp-"  # a file never linked into place; a later run removes it
#: a temp file this old is left by a killed writer, not one still writing (a write takes ms)
STALE_TEMP_SECONDS = 3600.0
#: a vault's root -> the device writing it from this process (`name_writer`)
_WRITERS: dict[Path, str] = {}


def name_writer(root: Path, tag: str) -> None:
    """Name the temp files this process writes under ``root`` from now on
    ``.tmp-<tag>-<pid>-…``: in a replicated vault, a sweep removes only the temp files its
    own device made, and knows from the process id whether their writer is still alive
    (vault/store/leftovers.py). A vault names its device id here when it is opened."""
    _WRITERS[root] = tag


def _writer_of(path: Path) -> str:
    for root, tag in _WRITERS.items():
        if path.is_relative_to(root):
            return tag
    return ""


def fsync_dir(path: Path, defer: set[Path] | None = None) -> None:
    """Make a directory's entries durable: a rename is not durable until this returns.

    ``defer``: a group commit's set (`Vault.group_commit`): the folder is added to it and
    made durable, once however many files it gained, when the group ends."""
    if defer is not None:
        defer.add(path)
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc


def fsync_file(path: Path) -> None:
    """Make a file's data durable (one already in place, whose writer may have been cut
    short before its folder was synced: see `fsync_dir` for the entry)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc


def fsync_dirs(folders: Iterable[Path], threads: int = 4) -> None:
    """`fsync_dir` of every folder, deepest first (a folder before the folder that names
    it); those of one depth at once, on threads: each fsync mostly waits on the disk, and
    the file system's journal commits concurrent ones together."""
    from concurrent.futures import ThreadPoolExecutor  # a group commit's: 7 ms of imports a lone seal skips

    by_depth: dict[int, list[Path]] = {}
    for folder in folders:
        by_depth.setdefault(len(folder.parts), []).append(folder)
    with ThreadPoolExecutor(threads, thread_name_prefix="casenotes-fsync") as pool:
        for depth in sorted(by_depth, reverse=True):
            try:
                list(pool.map(fsync_dir, by_depth[depth]))  # raises the first failure, once all ran
            except WriteFailed as exc:  # these folders gained entries: not "nothing was changed"
                raise NotDurable(exc.path, exc.why) from exc


def make_dirs(path: Path, defer: set[Path] | None = None) -> None:
    """Create ``path`` and missing parents with mode 0700, each entry made durable
    (``defer``: see `fsync_dir`)."""
    missing: list[Path] = []
    cursor = path
    while not cursor.exists():
        missing.append(cursor)
        cursor = cursor.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue  # another process made it first; that is fine
        except OSError as exc:
            raise WriteFailed(directory, reason(exc)) from exc
        try:
            os.chmod(directory, DIR_MODE)  # the umask may have narrowed or widened it
            fsync_dir(directory.parent, defer)
        except OSError as exc:
            # Undo it, so that the next run creates it again and makes that durable.
            with contextlib.suppress(OSError):
                os.rmdir(directory)
            raise WriteFailed(directory, reason(exc)) from exc


@contextmanager
def _temp_beside(
    path: Path, data: bytes, sync: bool = True, defer: set[Path] | None = None, tag: str = ""
) -> Iterator[str]:
    """A fsynced temp file holding ``data`` in ``path``'s directory; removed on exit.
    ``tag`` (else the one `name_writer` gave ``path``'s vault) and this process's id go into
    its name, so that a sweep can tell its writer's leftovers."""
    make_dirs(path.parent, defer)
    tag = tag or _writer_of(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{tag}-{os.getpid()}-" if tag else TEMP_PREFIX, dir=path.parent
        )
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        yield tmp
    except FileExistsError:
        raise  # write_new's "name taken" is an answer, not a failure
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc
    finally:
        _discard(tmp)


def _discard(tmp: str) -> None:
    """Remove a temp file. Failing to is not the write's failure (it already succeeded or
    failed on its own): the stray file is harmless, and `sweep_temps` removes it later."""
    try:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    except OSError:
        pass


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing) while the block runs.

    flock is released by the kernel when the process dies, so a kill leaves no stale lock.
    """
    make_dirs(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes, defer: set[Path] | None = None, tag: str = "") -> None:
    """Write a file that must not exist yet (write-once names, safe for sync engines).

    ``link`` fails if the name exists, so two writers can never clobber each other.
    Raises FileExistsError if ``path`` exists, WriteFailed on any other failure. The file's
    data is fsynced before it is linked, always; ``defer`` defers only its folder's fsync.
    """
    with _temp_beside(path, data, defer=defer, tag=tag) as tmp:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # Some file systems (FAT, some FUSE mounts) have no hard links.
            if os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, "exists", str(path)) from exc
            os.rename(tmp, path)
        _entry_durable(path, defer)


def replace(path: Path, data: bytes, sync: bool = True, tag: str = "") -> None:
    """Atomically replace (or create) ``path`` with ``data``.

    ``sync=False``: atomic but not durable (no fsync): after a crash the old file or the
    new one is there, or, on a file system that does not order a rename after the data it
    names (ext4 does, for a rename over an existing file), an empty one. Only for records
    that a later write supersedes anyway and whose loss costs no data.
    """
    with _temp_beside(path, data, sync, tag=tag) as tmp:
        os.replace(tmp, path)
        if sync:
            _entry_durable(path)


def _entry_durable(path: Path, defer: set[Path] | None = None) -> None:
    """`fsync_dir` of the folder of a file just put in place: a failure now is no longer
    "nothing was changed" (the file is there), so it is `NotDurable`."""
    try:
        fsync_dir(path.parent, defer)
    except WriteFailed as exc:
        raise NotDurable(path, exc.why) from exc


def append(path: Path, data: bytes) -> None:
    """Append to a file opened with O_APPEND and fsync it (the audit log's only writer)."""
    make_dirs(path.parent)
    created = not path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise WriteFailed(path, reason(exc)) from exc
    if created:
        fsync_dir(path.parent)


def sweep_temps(
    root: Path, now: float, older_than: float = STALE_TEMP_SECONDS, skip: Container[str] = ()
) -> int:
    """Remove the temp files a killed writer left under ``root``; returns how many.

    A temp file is never linked into place, so nothing refers to it. Only those untouched
    for ``older_than`` seconds go: a younger one may belong to a writer still at work.
    A file that cannot be removed stays for the next sweep.
    """
    removed = 0
    for folder, dirs, files in os.walk(root):
        if folder == str(root):
            dirs[:] = [d for d in dirs if d not in skip]  # swept by someone else
        for name in files:
            if not name.startswith(TEMP_PREFIX):
                continue
            path = os.path.join(folder, name)
            try:
                if now - os.lstat(path).st_mtime >= older_than:
                    os.unlink(path)
                    removed += 1
            except OSError:
                continue
    return removed
