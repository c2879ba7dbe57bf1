"""Backups of a 50,000-note vault: full, incremental after one changed note, verify, restore.

    .venv/bin/python benchmarks/bench_backup.py [--notes 50000] [--clients 100]

DESIGN.md section 7: an incremental backup of a 50,000-note vault with one note changed
in under 2 s. The vault is sealed through the real path (fsync, read back, audit).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import time

from common import new_practice

from casenotes import fiction
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    practice, vault = new_practice()
    per_client = args.notes // args.clients
    started = time.perf_counter()
    for person in fiction.clients(args.clients):
        client_id = vault.add_client(person.handle)
        for number, day in enumerate(fiction.sessions(dt.date(2015, 1, 5), per_client), start=1):
            vault.seal(
                client_id, f"{number:016x}", fiction.note(person.handle, day, f"{number:016x}", number)
            )
    print(f"sealed {args.notes} notes for {args.clients} clients in {time.perf_counter() - started:.0f} s")
    target = BackupTarget(FolderStorage(practice.root / "target"), practice.state_dir)
    started = time.perf_counter()
    snap = vault.backup(target)
    full = time.perf_counter() - started
    size = snap.size
    incremental = []
    for run in range(args.runs):
        vault.seal(
            client_id,
            f"{per_client:016x}",
            fiction.note(person.handle, dt.date(2026, 1, 1), "x", run + 1000, "draft"),
        )
        started = time.perf_counter()
        vault.backup(target)
        incremental.append(time.perf_counter() - started)
    store = target
    started = time.perf_counter()
    problems = store.verify(vault.trust.device_keys(), full=True)
    verify = time.perf_counter() - started
    started = time.perf_counter()
    store.restore(snap, practice.root / "restored" / "vault")
    restore = time.perf_counter() - started
    print(f"full backup: {full:.1f} s ({size / 1e6:.0f} MB, {len(snap.files)} files)")
    print(f"incremental, one note changed: median {statistics.median(incremental):.2f} s (target under 2 s)")
    print(
        f"verify --full of {len(store.snapshots())} snapshots: {verify:.1f} s ({size / 1e6 / verify:.0f} MB/s); problems: {len(problems)}"
    )
    print(f"restore: {restore:.1f} s")
    vault.close()
    shutil.rmtree(practice.root)


if __name__ == "__main__":
    main()
