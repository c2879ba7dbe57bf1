"""Sealing 1,000 notes dropped at once, through the real filing path, against the floor.

    .venv/bin/python benchmarks/bench_seal.py [--notes 1000] [--runs 5] [--threads 4]
    .venv/bin/python benchmarks/bench_seal.py --only casenotes|floor --runs 1   # one side, as a whole process

``--only`` runs one side, so that a process timer can pair the two as whole processes, in
turn (each makes the same practice and drafts; only the sealing differs).

casenotes: each note is read, validated, resolved through the blinded index, sealed,
written with fsync, read back and checked, and logged in the audit log (whose entry also
carries the note's sealed session date for retention); as syncd seals a burst, the notes
are one group commit (`Vault.group_commit`), filed on ``--threads`` threads (syncd/parallel.py;
1: one thread): each note's folder and the audit log are made durable once, at the end,
before any plaintext would be removed.

The floor, measured in the same run (casenotes and floor alternate, run by run): the same
crypto (the revision format's seal: a fresh file key, XChaCha20-Poly1305, the file key
sealed to the client, the device's signature) and one durable write per note (temp file,
fsync, link, fsync of the folder), nothing else. DESIGN.md section 7 asks for a ratio of
at least 0.5. The fsyncs per note are counted by a test (tests/packages/vault/test_fsync_budget.py).
The floor runs on one thread: that is the reference the ratio is held to, threads or not.
With ``--threads`` above 1 the same floor spread over as many threads is printed beside
it, a second reference: what the threads alone would give the floor.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from functools import partial
from pathlib import Path

from common import new_practice, write_drafts

from syncd.filing import file_note
from syncd.parallel import SEAL_THREADS, run_grouped
from vault import Vault, durable
from vault.format import revision as revision_format
from vault.format.encoding import new_id, stamp


def floor(vault: Vault, client_id: str, drafts: list[Path], out: Path, threads: int = 1) -> float:
    """Same crypto and one durable write per note; returns the seconds it took. ``threads``
    above 1: the same notes spread over that many threads (as syncd spreads a burst)."""
    public = vault.keyring.client_public(client_id)

    def one(path: Path) -> None:
        body = path.read_bytes()
        note_id = new_id()
        header = revision_format.RevisionHeader(
            client_id, note_id, 1, vault.device.device_id, "note", True, stamp(vault.clock()), "0" * 32
        )
        data, _ = revision_format.seal(header, body, public, vault.device)
        durable.write_new(out / f"{note_id}.rev", data)

    started = time.perf_counter()
    if threads == 1:
        for path in drafts:
            one(path)
    else:
        for _, failed in run_grouped(drafts, one, lambda path: path, threads):
            if failed is not None:
                raise failed
    return time.perf_counter() - started


def _seal_timed(vault: Vault, times: list[float], path: Path) -> None:
    started = time.perf_counter()
    file_note(vault, path)
    times.append(time.perf_counter() - started)  # on threads: waiting for the others too


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=SEAL_THREADS, help="as syncd files a burst")
    parser.add_argument("--only", choices=("casenotes", "floor"))
    args = parser.parse_args()
    totals, floors, threaded, ratios, ratios_threaded = [], [], [], [], []
    per_note: list[float] = []
    for _ in range(args.runs):
        practice, vault = new_practice()
        client_id = vault.add_client("CL-0001")
        drafts = write_drafts(practice, "CL-0001", args.notes)
        out = practice.root / "floor"
        durable.make_dirs(out)
        if args.only != "casenotes":
            floors.append(floor(vault, client_id, drafts, out))
        if not args.only and args.threads > 1:
            durable.make_dirs(out / "threads")
            threaded.append(floor(vault, client_id, drafts, out / "threads", args.threads))
        if args.only != "floor":
            seal = partial(_seal_timed, vault, per_note)
            started = time.perf_counter()
            with vault.group_commit():  # as syncd seals a burst (Daemon._process_due)
                for _, failed in run_grouped(drafts, seal, lambda path: path, args.threads):
                    if failed is not None:
                        raise failed
            totals.append(time.perf_counter() - started)
        if not args.only:
            ratios.append(floors[-1] / totals[-1])
            if threaded:
                ratios_threaded.append(threaded[-1] / totals[-1])
        vault.close()
        shutil.rmtree(practice.root)
    if args.only:
        print(f"{args.only}: median {statistics.median(totals or floors):.2f} s for {args.notes} notes")
        return
    total, bottom = statistics.median(totals), statistics.median(floors)
    print(
        f"sealed {args.notes} notes on {args.threads} thread(s): median {total:.2f} s per run "
        f"({args.notes / total:.0f} notes/s)"
    )
    print(
        f"floor (same crypto, one durable write per note, one thread): median {bottom:.2f} s "
        f"({args.notes / bottom:.0f} notes/s)"
    )
    print(
        f"ratio casenotes/floor notes/s: median {statistics.median(ratios):.2f} (pair by pair; target >= 0.5)"
    )
    if threaded:
        print(
            f"floor on {args.threads} threads, same runs: median {statistics.median(threaded):.2f} s; "
            f"casenotes/that floor: median {statistics.median(ratios_threaded):.2f}"
        )
    print(
        f"per note: median {statistics.median(per_note) * 1000:.2f} ms, "
        f"p95 {statistics.quantiles(per_note, n=20)[-1] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
