"""A whole career on one laptop: every command's CPU time at 1k / 10k / 50k notes.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000,10000,50000] [--runs 5] [--cache DIR]
        [--only 'backup run']   # one command (repeatable), beside the same reference

Each size is a practice of ``notes / 10`` clients with 10 signed notes each, made through
the real filing path (`client add`'s steps, then `syncd.filing.file_note` in one group
commit per client, as syncd files a burst) and kept under ``--cache`` (default
``~/.cache/casenotes-bench/scale``, outside the repository), so only the first run pays for
making it (about 5 minutes for 50,000 notes on a laptop).

Each command is a whole `casenotes` process; its CPU time is the finished child's user +
system seconds (wall time on a shared machine says more about the neighbours). The first
row is a process that imports casenotes' libraries and does nothing else, the floor a
command stands on, measured in the same run. A command whose cost grows with the vault
and not with what it shows has a column that grows ten-fold and five-fold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import PASSPHRASE, new_practice, write_drafts

import fiction
from casenotes.config import Practice
from retention import records
from syncd.filing import file_note

NOTES_PER_CLIENT = 10
IMPORTS_ONLY = (
    "import casenotes.cli, vault, retention, retention.purge, syncd.filing, note_templates, nacl.public"
)

#: (label, argv after `casenotes`, target CPU seconds or None, given the passphrase)
COMMANDS: list[tuple[str, list[str], float | None, bool]] = [
    ("status", ["status"], 0.3, False),
    ("retention status", ["retention", "status"], 1.0, True),
    ("retention status --no-names", ["retention", "status", "--no-names"], 1.0, False),
    ("nightly retention scan", ["-c", "nightly"], 0.5, False),
    ("client list", ["client", "list"], 0.5, True),
    ("todo", ["todo"], 0.5, False),
    ("backup run (incremental)", ["backup", "run"], 0.5, False),
]

#: the nightly scan as syncd's retention job runs it: the core scan, no passphrase
NIGHTLY = """
import sys
from pathlib import Path
from casenotes.config import Practice
from casenotes.retention_commands import jobs
from vault import Vault
practice = Practice(Path(sys.argv[1]), Path(sys.argv[2]))
vault = Vault(practice.vault_dir, practice.config_dir)
job = next(j for j in jobs(practice, vault) if j.name == "retention")
job.action()
vault.close()
"""


def make(root: Path, notes: int) -> Practice:
    """A practice of ``notes`` signed notes (10 a client), made once and kept at ``root``."""
    done = root / "made"
    if done.exists():
        return settled(Practice(root / "practice", root / "practice" / ".device"))
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    practice, vault = new_practice(root=root / "practice")
    started = time.perf_counter()
    for number, person in enumerate(fiction.clients(notes // NOTES_PER_CLIENT)):
        handle = person.handle
        client_id = vault.add_client(handle, person.name, person.dob)
        records.register_client(vault, client_id, dt.date.fromisoformat(person.dob))
        drafts = write_drafts(practice, handle, NOTES_PER_CLIENT)
        with vault.group_commit():
            for path in drafts:
                file_note(vault, path)
        for path in drafts:
            path.unlink()
        if number % 500 == 499:
            print(f"  {(number + 1) * NOTES_PER_CLIENT} notes sealed, {time.perf_counter() - started:.0f} s")
    env = environment(practice)
    subprocess.run(
        [sys.executable, "-m", "casenotes", "backup", "run"], env=env, check=True, capture_output=True
    )
    vault.close()
    done.write_text(f"{notes} notes\n")
    return settled(Practice(root / "practice", root / "practice" / ".device"))


def settled(practice: Practice) -> Practice:
    """An ordinary night: every client's notes are from 2015, so under the practice's rules
    of 15 years (one shared rules version, as `retention rules set` writes it) none is due;
    the nightly run then scans and purges nothing (a run that finds clients due verifies the
    whole audit log before it destroys anything: bench_retention.py's `purge` times that)."""
    marker = practice.root.parent / "rules-set"
    if not marker.exists():
        rules = [sys.executable, "-m", "casenotes", "retention", "rules", "set", "adult_years", "15"]
        subprocess.run(rules, env=environment(practice, True), check=True, capture_output=True)
        marker.write_text("adult_years 15\n")
    return practice


def environment(practice: Practice, passphrase: bool = False) -> dict[str, str]:
    """The command's environment: as installed (bytecode cached, so no run compiles
    casenotes' sources), the passphrase only for a command that asks for it (`status` given
    it would unlock the key to name the due clients)."""
    drop = ("PYTHONDONTWRITEBYTECODE", "CASENOTES_PASSPHRASE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"CASENOTES_HOME": str(practice.root), "CASENOTES_CONFIG_DIR": str(practice.config_dir)}
    return env | ({"CASENOTES_PASSPHRASE": PASSPHRASE} if passphrase else {})


def cpu_of(argv: list[str], env: dict[str, str]) -> float:
    """The user + system seconds of one finished child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(argv, env=env, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # 1: a command that reports something to do; not one that failed with an error, which
    # says so on stderr (a damaged audit log once made every command after a 5,000-name
    # `client list` fail at once, and those runs were timed as if they had worked)
    failed = finished.returncode == 1 and b"casenotes: " in finished.stderr
    if finished.returncode not in (0, 1) or failed:
        raise SystemExit(f"{' '.join(argv)} failed: {finished.stderr.decode()[-400:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def argv_for(args: list[str], practice: Practice) -> list[str]:
    if args == ["-c", "nightly"]:
        return [sys.executable, "-c", NIGHTLY, str(practice.root), str(practice.config_dir)]
    return [sys.executable, "-m", "casenotes", *args]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "casenotes-bench" / "scale")
    parser.add_argument("--make-only", action="store_true", help="make (or find) the practices, time nothing")
    parser.add_argument(
        "--only",
        action="append",
        metavar="LABEL",
        help="time only this command (repeatable), e.g. 'backup run'",
    )
    args = parser.parse_args()
    commands = [c for c in COMMANDS if not args.only or any(c[0].startswith(o) for o in args.only)]
    sizes = [int(size) for size in args.sizes.split(",")]
    practices = {}
    for notes in sizes:
        started = time.perf_counter()
        practices[notes] = make(args.cache / f"{notes}-notes", notes)
        print(f"practice of {notes} notes ready ({time.perf_counter() - started:.0f} s)", flush=True)
    if args.make_only:
        return
    reference = [sys.executable, "-c", IMPORTS_ONLY]
    table: dict[str, dict[int, list[float]]] = {}
    for run in range(args.runs + 1):  # round-robin: a drift in the machine's speed hits every cell alike
        for notes, practice in practices.items():
            cells: dict[str, dict[int, list[float]]] = table if run else {}  # round 0 warms caches
            cpu = cpu_of(reference, environment(practice))
            cells.setdefault("reference (imports only)", {}).setdefault(notes, []).append(cpu)
            for label, command, _, passphrase in commands:
                cpu = cpu_of(argv_for(command, practice), environment(practice, passphrase))
                cells.setdefault(label, {}).setdefault(notes, []).append(cpu)
    targets = {label: target for label, _, target, _ in COMMANDS}
    rows = [
        (label, targets.get(label), [statistics.median(c[n]) for n in sizes]) for label, c in table.items()
    ]
    load = os.getloadavg()[0]
    print(f"\nCPU seconds (user+sys of the child), median of {args.runs}; load {load:.1f}")
    header = "".join(f"{n:>10,}" for n in sizes)
    print(f"{'command':<32}{header}    target")
    for label, target, medians in rows:
        figures = "".join(f"{m:>10.2f}" for m in medians)
        mark = "" if target is None else f"  < {target:g}" + ("  ok" if medians[-1] < target else "  MISSED")
        print(f"{label:<32}{figures}{mark}")


if __name__ == "__main__":
    main()
