"""Backups of a large vault: full, incremental after one changed note, verify, restore,
and, with ``--vs restic``, restic on the same vault in the same run.

    .venv/bin/python benchmarks/bench_backup.py --vs restic            # 20,000 notes
    .venv/bin/python benchmarks/bench_backup.py --notes 50000          # the incremental target
    .venv/bin/python benchmarks/bench_backup.py --keep DIR / --reuse DIR   # seal once, measure often

DESIGN.md section 7: on the same 20,000-note vault, an initial backup to a folder within
1.5x of restic's time and a target within 1.3x of restic's size; an incremental backup of
a 50,000-note vault with one note changed in under 1 s; `verify --full` no slower than
`restic check --read-data`. The vault is sealed through the real path (fsync, read back,
audit). restic is Debian's package, run as a whole process (`restic init`, `backup`,
`check --read-data`) with its password from RESTIC_PASSWORD, to a local folder repository;
casenotes is timed in-process (its command adds about 0.3 s of imports).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import new_practice

import fiction
from casenotes.config import Practice
from vault import Vault
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage


def disk_usage(root: Path) -> int:
    """Bytes the folder takes on disk (blocks, as `du` counts), files and folders."""
    return sum(os.lstat(p).st_blocks * 512 for p in [root, *root.rglob("*")])


def seal(practice: Practice, vault: Vault, notes: int, clients: int) -> None:
    per_client = notes // clients
    for person in fiction.clients(clients):
        client_id = vault.add_client(person.handle)
        for number, day in enumerate(fiction.sessions(dt.date(2015, 1, 5), per_client), start=1):
            vault.seal(
                client_id, f"{number:016x}", fiction.note(person.handle, day, f"{number:016x}", number)
            )


def change_one_note(vault: Vault, run: int) -> None:
    client_id = vault.client_ids()[0]
    note_id = vault.note_ids(client_id)[0]
    vault.seal(client_id, note_id, fiction.note("X", dt.date(2026, 1, 1), note_id, run + 1000, "draft"))


class Restic:
    """restic on a local folder repository, each command a whole process."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.env = {**os.environ, "RESTIC_PASSWORD": "fictional benchmark repository password"}

    def __call__(self, *args: str) -> float:
        started = time.perf_counter()
        subprocess.run(
            ["restic", "--repo", str(self.repo), "--quiet", *args],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def row(what: str, ours: float, theirs: float | None, unit: str = "s") -> None:
    if theirs is None:
        print(f"{what:<34} {ours:>9.2f} {unit}")
    else:
        print(f"{what:<34} {ours:>9.2f} {unit}   restic {theirs:>9.2f} {unit}   ratio {ours / theirs:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=None, help="20,000 with --vs restic, else 50,000")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vs", choices=["restic"], help="run restic on the same vault in the same run")
    parser.add_argument("--keep", type=Path, help="keep the sealed practice in this folder")
    parser.add_argument("--reuse", type=Path, help="a practice kept by --keep: no sealing")
    args = parser.parse_args()
    notes = args.notes or (20_000 if args.vs else 50_000)
    restic = shutil.which("restic") if args.vs else None
    if args.vs and not restic:
        print("restic is not installed (apt install restic): casenotes figures only")
    if args.reuse:
        root = args.reuse
        practice = Practice(root, root / ".device")
        vault = Vault(practice.vault_dir, practice.config_dir)
    else:
        practice, vault = new_practice()
        root = practice.root
        started = time.perf_counter()
        seal(practice, vault, notes, args.clients)
        print(f"sealed {notes} notes for {args.clients} clients in {time.perf_counter() - started:.0f} s")
    work = root / "bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for cache in practice.state_dir.glob("backup-*"):
        shutil.rmtree(cache) if cache.is_dir() else cache.unlink()
    target = BackupTarget(FolderStorage(work / "casenotes"), practice.state_dir)
    theirs = Restic(work / "restic") if restic else None

    full = timed(lambda: vault.backup(target))
    restic_full = None
    if theirs:
        theirs("init")
        restic_full = theirs("backup", str(practice.vault_dir))
    files = sum(1 for _ in practice.vault_dir.rglob("*"))
    print(f"vault: {files} files and folders, {disk_usage(practice.vault_dir) / 1e6:.0f} MB on disk")
    row("initial backup", full, restic_full)
    row(
        "target size",
        disk_usage(work / "casenotes") / 1e6,
        disk_usage(work / "restic") / 1e6 if theirs else None,
        "MB",
    )
    ours, restics = [], []
    for run in range(args.runs):
        change_one_note(vault, run)
        ours.append(timed(lambda: vault.backup(target)))
        if theirs:
            restics.append(theirs("backup", str(practice.vault_dir)))
    row(
        "incremental, one note changed",
        statistics.median(ours),
        statistics.median(restics) if theirs else None,
    )
    problems: list[object] = []
    verify = timed(lambda: problems.extend(target.verify(vault.trust.device_keys(), full=True)))
    row("verify --full", verify, theirs("check", "--read-data") if theirs else None)
    snap = target.load(target.snapshots()[0], vault.trust.device_keys())
    restore = timed(lambda: target.restore(snap, work / "restored" / "vault"))
    restic_restore = (
        theirs("restore", "latest", "--target", str(work / "restic-restored")) if theirs else None
    )
    row("restore", restore, restic_restore)
    print(f"problems found by verify: {len(problems)}")
    vault.close()
    if args.keep and not args.reuse:
        shutil.rmtree(work)
        shutil.move(str(root), str(args.keep))
        print(f"kept in {args.keep}: --reuse {args.keep}")
    elif args.reuse:
        shutil.rmtree(work)
    else:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
