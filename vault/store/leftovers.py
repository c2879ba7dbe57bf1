"""What a write cut short leaves in a client's folder: empty folders and temp files.

A note's first revision creates ``records/<nid>/``, and a client's first file creates
``clients/<cid>/``, before anything is linked into them. A write that fails (a full
disk) or is killed in between leaves the folder empty, or holding only a ``.tmp-*`` file
that was never linked into place. Such a folder holds no data: readers skip it, verify
names it, and the next syncd run or ``seal`` removes it (``Vault.remove_leftovers``, which
takes the write lock so that a write still under way is never swept away).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..durable import TEMP_PREFIX, fsync_dir
from ..format.encoding import is_id


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
    """Leftover client and note folders, and temp files never linked, under ``clients/``."""
    clients = root / "clients"
    folders = _ids(clients) if client_ids is None else [clients / c for c in client_ids]
    found: list[Path] = []
    for client in folders:
        if not client.is_dir():
            continue
        if not is_client_folder(client):
            found.append(client)
            continue
        for directory, subdirs, files in os.walk(client):
            here = Path(directory)
            found += [here / name for name in sorted(files) if name.startswith(TEMP_PREFIX)]
            if here.name == "records":
                for note in sorted(subdirs):
                    if is_id(note) and holds_nothing(here / note):
                        found.append(here / note)
                subdirs[:] = [n for n in subdirs if not (is_id(n) and holds_nothing(here / n))]
    return found


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
