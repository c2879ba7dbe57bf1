"""One daemon per practice: an exclusive lock on a file that holds the owner's PID.

flock is released by the kernel when the process dies, even by SIGKILL, so a crashed
daemon never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from vault import durable
from vault.errors import WriteFailed, reason

from .errors import AlreadyRunning


class DaemonLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        durable.make_dirs(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, durable.FILE_MODE)
        except OSError as exc:
            raise WriteFailed(self.path, reason(exc)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(owner, self.path) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the PID is only shown to a second daemon; the lock itself is held
        self._fd = fd

    def holder(self) -> str | None:
        """The PID of the running daemon, or None if no daemon holds the lock."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None  # no lock file (or none readable): no daemon could have taken it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)  # closing drops a shared lock we may have taken
        return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
