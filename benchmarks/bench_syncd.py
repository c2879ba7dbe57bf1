"""syncd against DESIGN.md section 7: save-to-durable latency, a 1,000-note burst, idle cost.

    .venv/bin/python benchmarks/bench_syncd.py latency [--saves 200] [--quiet 0.5] [--signed]
    .venv/bin/python benchmarks/bench_syncd.py burst   [--notes 1000] [--runs 3]
    .venv/bin/python benchmarks/bench_syncd.py idle    [--drafts 1000] [--seconds 60]

The daemon runs as a real process on real inotify. syncd seals what is due as one group
commit and removes a signed note's plaintext only after the commit has made its revision
and audit entry durable, so a signed note's disappearance from the inbox is the moment
it is durable; for a draft (which stays), the audit entry's appearance, at most one
group commit (one fsync per folder and of the log) earlier.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_seal import floor
from common import new_practice, write_drafts

from casenotes.config import Practice
from syncd.parallel import SEAL_THREADS
from vault import durable


def start(practice: Practice, quiet: float) -> subprocess.Popen[bytes]:
    settings = practice.settings_file.read_text().replace(
        "quiet_period_seconds: 2.0", f"quiet_period_seconds: {quiet}"
    )
    practice.settings_file.write_text(settings)
    env = {
        **os.environ,
        "CASENOTES_HOME": str(practice.root),
        "CASENOTES_CONFIG_DIR": str(practice.config_dir),
    }
    proc = subprocess.Popen([sys.executable, "-m", "casenotes", "syncd"], env=env, stderr=subprocess.DEVNULL)
    log = practice.state_dir / "syncd.log"
    while not (log.exists() and "watching" in log.read_text()):
        time.sleep(0.05)
    return proc


def seals(practice: Practice) -> int:
    return sum(
        log.read_bytes().count(b'"event":"seal"') for log in (practice.vault_dir / "audit").glob("*.log")
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def latency(args: argparse.Namespace) -> None:
    practice, vault = new_practice()
    vault.add_client("CL-0001")
    drafts = write_drafts(practice, "CL-0001", args.saves, status="signed" if args.signed else "draft")
    bodies = [path.read_bytes() for path in drafts]
    for path in drafts:
        path.unlink()
    proc = start(practice, args.quiet)
    delays = []
    for body in bodies:
        before = seals(practice)
        note = practice.inbox / "note.md"
        note.write_bytes(body)  # one note, saved again and again
        saved = time.perf_counter()
        while note.exists() if args.signed else seals(practice) == before:
            time.sleep(0.002)
        delays.append(time.perf_counter() - saved - args.quiet)
    stop(proc)
    p95 = statistics.quantiles(delays, n=20)[-1]
    print(
        f"last save -> sealed revision durable, beyond the {args.quiet}s quiet period, "
        f"over {args.saves} saves:"
    )
    print(
        f"  p50 {statistics.median(delays) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (target: p95 under 100 ms)"
    )


def burst(args: argparse.Namespace) -> None:
    times, floors, threaded = [], [], []
    for _ in range(args.runs):
        practice, vault = new_practice()
        client_id = vault.add_client("CL-0001")
        staging = practice.root / "staging"
        staging.mkdir()
        drafts = write_drafts(practice, "CL-0001", args.notes)
        out = practice.root / "floor"
        durable.make_dirs(out)
        floors.append(floor(vault, client_id, drafts, out))  # the reference, same practice, same run
        durable.make_dirs(out / "threads")
        threaded.append(floor(vault, client_id, drafts, out / "threads", SEAL_THREADS))  # a second one
        for path in drafts:
            path.rename(staging / path.name)
        proc = start(practice, args.quiet)
        started = time.perf_counter()
        for path in sorted(staging.iterdir()):
            path.rename(practice.inbox / path.name)  # dropped in at once, as a copy from a folder would
        # Signed notes: the inbox empties only as each group commit ends.
        while seals(practice) < args.notes or any(practice.inbox.glob("*.md")):
            time.sleep(0.01)
        times.append(time.perf_counter() - started - args.quiet)
        stop(proc)
        shutil.rmtree(practice.root)
    total, bottom = statistics.median(times), statistics.median(floors)
    print(
        f"{args.notes} notes dropped at once -> all sealed, durable and removed (beyond the quiet "
        f"period): median {total:.2f} s over {args.runs} runs (target: under 5 s)"
    )
    print(
        f"floor, same runs (the same crypto and one durable write per note, in-process): "
        f"median {bottom:.2f} s; syncd / floor {total / bottom:.2f}x"
    )
    spread = statistics.median(threaded)
    print(
        f"the floor on syncd's {SEAL_THREADS} sealing threads, same runs: median {spread:.2f} s; "
        f"syncd / that floor {total / spread:.2f}x"
    )


def idle(args: argparse.Namespace) -> None:
    practice, vault = new_practice()
    vault.add_client("CL-0001")
    write_drafts(practice, "CL-0001", args.drafts, status="draft")  # drafts stay in the inbox
    proc = start(practice, 2.0)
    while seals(practice) < args.drafts:
        time.sleep(0.1)
    time.sleep(3)
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mib() -> float:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    before, started = cpu(), time.perf_counter()
    samples = []
    while time.perf_counter() - started < args.seconds:
        time.sleep(1)
        samples.append(rss_mib())
    used = cpu() - before
    elapsed = time.perf_counter() - started
    stop(proc)
    shutil.rmtree(practice.root)
    print(
        f"idle over {elapsed:.0f} s watching {args.drafts} drafts: CPU {used / elapsed * 100:.2f}% "
        f"(target < 1%), RSS median {statistics.median(samples):.0f} MiB, "
        f"max {max(samples):.0f} MiB (target < 80 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--saves", type=int, default=200)
    p.add_argument("--quiet", type=float, default=0.5)
    p.add_argument("--signed", action="store_true", help="each save signs its note (plaintext removed)")
    p = sub.add_parser("burst")
    p.add_argument("--notes", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quiet", type=float, default=2.0)
    p = sub.add_parser("idle")
    p.add_argument("--drafts", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    {"latency": latency, "burst": burst, "idle": idle}[args.what](args)


if __name__ == "__main__":
    main()
