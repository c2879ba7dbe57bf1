"""Retention: the nightly scan over 5,000 clients, and purging one client from a large vault.

    .venv/bin/python benchmarks/bench_retention.py scan  [--clients 5000]
    .venv/bin/python benchmarks/bench_retention.py purge [--notes 50000] [--clients 100] [--snapshots 10]

DESIGN.md section 7: a retention scan of 5,000 clients in under 1 s. `scan` times the
core scan (what syncd does nightly, no passphrase) and the whole `casenotes retention
status --no-names` process. `purge` seals the notes through the real path, takes the
snapshots, then times crypto-shredding one client everywhere (vault and every snapshot).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time

from common import median_of, new_practice

import fiction
from retention import PRESETS, records
from retention.purge import purge_client, scan
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage


def bench_scan(clients: int, runs: int) -> None:
    practice, vault = new_practice()
    started = time.perf_counter()
    for number, person in enumerate(fiction.clients(clients)):
        client_id = vault.add_client(f"{person.handle}-{number}")
        records.register_client(vault, client_id, dt.date(1970 + number % 40, 1 + number % 12, 1))
        records.note_session(vault, client_id, "soap", dt.date(2015 + number % 10, 1 + number % 12, 3))
    print(f"made {clients} clients with retention facts in {time.perf_counter() - started:.0f} s")
    today = dt.date(2026, 11, 27)
    core, times = median_of(runs, lambda: scan(vault, PRESETS["apa"], today))
    print(
        f"scan of {clients} clients (core, as syncd runs it): median {core * 1000:.0f} ms "
        f"(runs: {', '.join(f'{t * 1000:.0f}' for t in times)})"
    )
    env = {
        **os.environ,
        "CASENOTES_HOME": str(practice.root),
        "CASENOTES_CONFIG_DIR": str(practice.config_dir),
    }
    command = [sys.executable, "-m", "casenotes", "retention", "status", "--no-names"]
    cli, times = median_of(runs, lambda: subprocess.run(command, env=env, check=True, capture_output=True))
    print(f"`casenotes retention status --no-names`, whole process: median {cli * 1000:.0f} ms")


def bench_purge(notes: int, clients: int, snapshots: int) -> None:
    practice, vault = new_practice()
    per_client = notes // clients
    started = time.perf_counter()
    ids = []
    for person in fiction.clients(clients):
        client_id = vault.add_client(person.handle)
        records.register_client(vault, client_id, None)
        for number, day in enumerate(fiction.sessions(dt.date(2008, 1, 5), per_client), start=1):
            vault.seal(
                client_id, f"{number:016x}", fiction.note(person.handle, day, f"{number:016x}", number)
            )
        records.note_session(vault, client_id, "soap", dt.date(2012, 1, 1))
        ids.append(client_id)
    print(f"sealed {notes} notes for {clients} clients in {time.perf_counter() - started:.0f} s")
    target = BackupTarget(FolderStorage(practice.root / "target"), practice.state_dir)
    for _ in range(snapshots):
        vault.backup(target)
    print(f"took {snapshots} snapshots")
    times = []
    for client_id in ids[:3]:
        started = time.perf_counter()
        purge_client(vault, client_id, PRESETS["apa"], [target], list(vault.audit.entries()))
        times.append(time.perf_counter() - started)
    print(
        f"purge of one client ({per_client} notes) from the vault and {snapshots} snapshots: "
        f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["scan", "purge"])
    parser.add_argument("--clients", type=int)
    parser.add_argument("--notes", type=int, default=50_000)
    parser.add_argument("--snapshots", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.what == "scan":
        bench_scan(args.clients or 5000, args.runs)
    else:
        bench_purge(args.notes, args.clients or 100, args.snapshots)


if __name__ == "__main__":
    main()
