"""Replay the exact file operations each editor makes when it saves.

Sequences follow what the editors do with their default settings (and, for vim, both
`backupcopy` modes). Each takes the note's path and the new bytes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def _write(path: Path, data: bytes, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> None:
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def plain(path: Path, data: bytes) -> None:
    _write(path, data)


def vim_in_place(path: Path, data: bytes) -> None:
    """backupcopy=yes: probe the folder, copy a backup, overwrite in place, drop the backup."""
    swap = path.with_name(f".{path.name}.swp")
    _write(swap, b"b0VIM 9.0 swap with a copy of the text")
    probe = path.with_name("4913")
    _write(probe, b"", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    probe.unlink()
    backup = path.with_name(path.name + "~")
    if path.exists():
        _write(backup, path.read_bytes())
    _write(path, data)
    if backup.exists():
        backup.unlink()
    swap.unlink()


def vim_rename(path: Path, data: bytes) -> None:
    """backupcopy=no: rename the note to note~, write a new file, delete the backup."""
    probe = path.with_name("4913")
    _write(probe, b"", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    probe.unlink()
    backup = path.with_name(path.name + "~")
    if path.exists():
        os.rename(path, backup)
    _write(path, data, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    if backup.exists():
        backup.unlink()


def emacs(path: Path, data: bytes, keep_autosave: bool = False) -> None:
    """Lock symlink, auto-save file, backup by renaming on the first save."""
    lock = path.with_name(f".#{path.name}")
    if not os.path.lexists(lock):
        os.symlink("someone@laptop.4242:1700000000", lock)
    autosave = path.with_name(f"#{path.name}#")
    _write(autosave, data)
    backup = path.with_name(path.name + "~")
    if path.exists() and not backup.exists():
        os.rename(path, backup)
    _write(path, data)
    if not keep_autosave:
        autosave.unlink()
    lock.unlink()


def nano(path: Path, data: bytes) -> None:
    _write(path, data)  # in place: open with O_TRUNC, write


def nano_crash(path: Path, data: bytes) -> None:
    """nano killed with unsaved changes writes note.md.save beside the note."""
    _write(path.with_name(path.name + ".save"), data)


def vscode(path: Path, data: bytes, pause: float = 0.0) -> None:
    """Truncate to zero bytes, then write: the empty intermediate must never be sealed."""
    _write(path, b"")
    time.sleep(pause)
    _write(path, data, os.O_WRONLY)


def jetbrains(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    _write(tmp, data)
    if path.exists():
        os.rename(path, old)
    os.rename(tmp, path)
    if old.exists():
        old.unlink()


def obsidian(path: Path, data: bytes) -> None:
    """In place, plus the workspace file Obsidian rewrites all the time."""
    config = path.parent / ".obsidian"
    config.mkdir(exist_ok=True)
    _write(config / "workspace.json", b'{"active": "note.md"}')
    _write(config / "notes-cache.md", data)  # a Markdown file, but not a note
    _write(path, data)


def macos_junk(folder: Path) -> None:
    _write(folder / ".DS_Store", b"\0\0\0\1Bud1")
    _write(folder / "._note.md", b"\0\5\26\7AppleDouble")
