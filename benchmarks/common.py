"""Shared by the benchmark scripts: a fictional practice in a temp folder, and medians."""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import fiction
from casenotes.config import Practice
from syncd.filing import file_note
from vault import KdfParams, Passphrase, Vault
from vault.format.encoding import new_id
from vault.store.practice import create_practice

CHEAP_KDF = KdfParams(1, 8 * 1024 * 1024)  # only where the KDF is not what is measured
PASSPHRASE = "fictional benchmark passphrase"


def new_practice(kdf: KdfParams = CHEAP_KDF, root: Path | None = None) -> tuple[Practice, Vault]:
    """A new practice at ``root`` (default: a new temp folder)."""
    root = root or Path(tempfile.mkdtemp(prefix="casenotes-bench-"))
    practice = Practice(root, root / ".device")
    vault = create_practice(practice.vault_dir, practice.config_dir, Passphrase(PASSPHRASE), kdf)
    practice.create_layout()
    return practice, vault


def write_drafts(practice: Practice, handle: str, count: int, status: str = "signed") -> list[Path]:
    paths = []
    for number, day in enumerate(fiction.sessions(dt.date(2015, 1, 5), count), start=1):
        path = practice.inbox / f"{day.isoformat()}-{handle}-{number}.md"
        path.write_bytes(fiction.note(handle, day, new_id(), number, status))
        paths.append(path)
    return paths


def seal_client(practice: Practice, vault: Vault, handle: str, count: int) -> None:
    vault.add_client(handle)
    for path in write_drafts(practice, handle, count):
        file_note(vault, path)
        path.unlink()


def median_of(runs: int, action: Callable[[], object]) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times
