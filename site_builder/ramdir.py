"""The RAM directory that holds an open site's plaintext, and its removal.

On Linux /dev/shm (or $XDG_RUNTIME_DIR) is a tmpfs: the decrypted notes never reach a
disk. Each directory is named for the process that made it, so any casenotes command
can remove what a crashed `open` left behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

PREFIX = "casenotes-site-"


def choose_base(candidates: Sequence[Path]) -> tuple[Path, bool]:
    """The first usable RAM file system, and whether it is one (else the temp folder)."""
    for base in candidates:
        if base.is_dir() and os.access(base, os.W_OK | os.X_OK):
            return base, True
    return Path(tempfile.gettempdir()), False


def create(base: Path) -> Path:
    path = base / f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    return path


def _owner_alive(path: Path) -> bool:
    try:
        pid = int(path.name.removeprefix(PREFIX).split("-")[0])
    except ValueError:
        return True  # not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(bases: Sequence[Path]) -> list[Path]:
    """Remove site directories whose process is gone (a crash, a kill -9)."""
    removed = []
    for base in bases:
        if not base.is_dir():
            continue
        for path in base.glob(f"{PREFIX}*"):
            if path.is_dir() and not path.is_symlink() and not _owner_alive(path):
                wipe(path)
                removed.append(path)
    return removed


def wipe(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
