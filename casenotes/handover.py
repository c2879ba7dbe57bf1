"""A client's site and a client's form are never open at once on this machine.

`casenotes measure` puts a form in the practitioner's browser and the device in the
client's hands. A site `casenotes open` serves in that browser is then a tab away, its
cookie there: the client would be one click from the clinician's notes (another client's,
perhaps). So the form holds an exclusive lock on a file in the user's config folder (one
browser, whatever the practice) for as long as it is open, each site a shared one for as
long as it is served, and each refuses to start while the other holds it. flock: the
lock goes with the process, however it ends (a kill -9 leaves no stale lock to clear).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from vault import durable

from .context import Failure

LOCK_FILE = "handover.lock"
SITE_OPEN = (
    "a client's site is open on this machine (casenotes open): the client could switch to its tab; "
    "close it (Ctrl-C where it runs) before handing the device over, then run this again"
)
FORM_OPEN = (
    "a client's form is open on this machine (casenotes measure): {what} while the client holds the "
    "device; run this again once the form has closed"
)


@contextmanager
def _held(folder: Path, kind: int, what: str) -> Iterator[None]:
    durable.make_dirs(folder)
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise Failure(f"cannot open {path} ({exc.strerror}): check the folder's owner and mode") from exc
    try:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            try:  # who holds it: sites share it, a form holds it alone
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Failure(FORM_OPEN.format(what=what)) from None
            raise Failure(SITE_OPEN) from None
        yield
    finally:
        os.close(fd)  # the lock with it


def form_open(config_dir: Path) -> AbstractContextManager[None]:
    """Held while a client's form is open: refused while a site is served, or another form is open."""
    return _held(config_dir, fcntl.LOCK_EX, "no second form is opened")


def site_open(config_dir: Path) -> AbstractContextManager[None]:
    """Held while a site is served: refused while a client's form is open."""
    return _held(config_dir, fcntl.LOCK_SH, "no site is opened")
