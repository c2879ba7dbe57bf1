"""Backup timing: a snapshot's name is precise to the second, and its cache trusts
files older than the last run."""

from __future__ import annotations

import os
import time
from pathlib import Path


def next_second() -> None:
    """Wait into the next second of the clock (what a snapshot's name is precise to)."""
    time.sleep(1.01 - time.time() % 1)


def settle(root: Path) -> None:
    """Date every folder and file of the vault an hour back, as if written then: the next
    backup trusts its cache for them (nothing is racy)."""
    then = time.time() - 3600
    for path in [root, *root.rglob("*")]:
        os.utime(path, (then, then), follow_symlinks=False)
