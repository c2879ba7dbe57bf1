"""Sealing 1,000 notes dropped at once, one after another through the real filing path.

    .venv/bin/python benchmarks/bench_seal.py [--notes 1000] [--runs 5]

Each note is read, validated, resolved through the blinded index, sealed, written with
fsync (file and directory), read back and checked, and logged in the audit log.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from common import new_practice, write_drafts

from syncd.filing import file_note


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    totals, per_note = [], []
    for _ in range(args.runs):
        practice, vault = new_practice()
        vault.add_client("CL-0001")
        drafts = write_drafts(practice, "CL-0001", args.notes)
        started = time.perf_counter()
        for path in drafts:
            t = time.perf_counter()
            file_note(vault, path)
            per_note.append(time.perf_counter() - t)
        totals.append(time.perf_counter() - started)
        vault.close()
        shutil.rmtree(practice.root)
    total = statistics.median(totals)
    print(f"sealed {args.notes} notes: median {total:.2f} s per run ({args.notes / total:.0f} notes/s)")
    print(
        f"per note: median {statistics.median(per_note) * 1000:.2f} ms, "
        f"p95 {statistics.quantiles(per_note, n=20)[-1] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
