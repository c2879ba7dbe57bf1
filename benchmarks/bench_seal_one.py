"""One `casenotes seal` process against the floor as a process, in turn (issue 26 item 4).

    .venv/bin/python benchmarks/bench_seal_one.py [--runs 9] [--notes 20]

casenotes: ``python -m casenotes seal DRAFT``, a new signed fictional draft each run, the
whole process (start-up, imports, the checks of DESIGN.md, the durable writes, the audit
entry), into a practice whose client already has ``--notes`` sealed notes.

The floor, in the same run (the two alternate, run by run): a process that loads the
device's signing key from its file, is given the client's public key, seals the same kind
of draft with the revision format's seal (the same crypto, PyNaCl) and writes it with one
durable write (temp file, fsync, link, folder fsync), nothing else: no vault opened, none
of casenotes' command line, checks or audit.

Each side's time is the finished child's CPU (user + system; on a shared machine wall time
says more about the neighbours), wall beside it; the ratio is notes/s of casenotes over
the floor's, pair by pair (the floor's time over casenotes'). Target: at least 0.5.
Beside them, in the same runs: a process importing the libraries a seal needs (click,
PyYAML, python-frontmatter, PyNaCl) and one importing casenotes' command line, nothing else.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

from common import new_practice, seal_client, write_drafts

FLOOR = """
import sys, datetime as dt
from pathlib import Path
from nacl.public import PublicKey
from vault import durable
from vault.format import revision
from vault.format.encoding import new_id, stamp
from vault.format.keys import load_device
device = load_device(Path(sys.argv[1]))
client_id, public, note_id = sys.argv[2], PublicKey(bytes.fromhex(sys.argv[3])), new_id()
body = Path(sys.argv[4]).read_bytes()
header = revision.RevisionHeader(
    client_id, note_id, 1, device.device_id, "note", True, stamp(dt.datetime.now(dt.UTC)), "0" * 32
)
data, _ = revision.seal(header, body, public, device)
durable.write_new(Path(sys.argv[5]) / f"{note_id}.rev", data)
"""


#: the libraries a seal needs, and casenotes' command line, imported and nothing else
LIBRARIES = "import click, yaml, frontmatter, nacl.public, nacl.signing"
COMMAND_LINE = "import casenotes.cli"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU, wall) seconds of one finished child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    finished = subprocess.run(argv, env=env, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {finished.stderr.decode()[-400:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--notes", type=int, default=20, help="notes the client has already")
    args = parser.parse_args()
    practice, vault = new_practice()
    seal_client(practice, vault, "CL-0001", args.notes)
    client_id = vault.resolve("CL-0001")
    public = bytes(vault.keyring.client_public(client_id)).hex()
    device_file = vault.device_dir / "device.json"
    vault.close()
    out = practice.root / "floor"
    out.mkdir()
    # As installed: bytecode cached (a PYTHONDONTWRITEBYTECODE environment recompiles every run)
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "CASENOTES_PASSPHRASE")
    }
    env |= {"CASENOTES_HOME": str(practice.root), "CASENOTES_CONFIG_DIR": str(practice.config_dir)}
    drafts = write_drafts(practice, "CL-0001", 2 * (args.runs + 1))
    for draft in drafts:  # the floor's copies, outside the inbox syncd would watch
        shutil.copy(draft, out / draft.name)
    seal_cpu, seal_wall, floor_cpu, floor_wall, ratios = [], [], [], [], []
    libraries, command_line = [], []
    for run in range(args.runs + 1):  # run 0 warms the caches, not counted
        draft = drafts[run]
        seal = timed([sys.executable, "-m", "casenotes", "seal", str(draft)], env)
        argv = [sys.executable, "-c", FLOOR, str(device_file), client_id, public]
        floor = timed([*argv, str(out / draft.name), str(out)], env)
        if run:
            seal_cpu.append(seal[0])
            seal_wall.append(seal[1])
            floor_cpu.append(floor[0])
            floor_wall.append(floor[1])
            ratios.append(floor[0] / seal[0])
            libraries.append(timed([sys.executable, "-c", LIBRARIES], env)[0])
            command_line.append(timed([sys.executable, "-c", COMMAND_LINE], env)[0])
    shutil.rmtree(practice.root)
    load = os.getloadavg()[0]
    print(f"one note a process, medians of {args.runs} pairs; load {load:.1f}")
    print(
        f"casenotes seal: {statistics.median(seal_cpu):.3f} s CPU, {statistics.median(seal_wall):.3f} s wall"
    )
    print(
        f"floor (same crypto, one durable write): {statistics.median(floor_cpu):.3f} s CPU, "
        f"{statistics.median(floor_wall):.3f} s wall"
    )
    print(
        f"same runs, imports alone: the libraries {statistics.median(libraries):.3f} s CPU, "
        f"casenotes' command line {statistics.median(command_line):.3f} s CPU"
    )
    print(
        f"ratio casenotes/floor notes/s (CPU): median {statistics.median(ratios):.2f} "
        f"(pair by pair; target >= 0.5)"
    )


if __name__ == "__main__":
    main()
