"""`casenotes export` as a whole process, for a fictional client with many notes.

    .venv/bin/python benchmarks/bench_export.py [--notes 100,500] [--runs 3] [--password-protect]

For each size: a practice with one client of that many signed notes (cheap KDF: the
passphrase's deliberate cost is not what is measured), then `casenotes export` run --runs
times into a new folder each time; printed: the median wall time, the PDF's pages and size.
Most of the time is WeasyPrint's layout of the notes (the PDF is one document).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import PASSPHRASE, median_of, new_practice, seal_client
from pypdf import PdfReader


def measure(count: int, runs: int, protect: bool) -> str:
    practice, vault = new_practice()
    seal_client(practice, vault, "BENCH-1", count)
    vault.close()
    env = {
        **os.environ,
        "CASENOTES_HOME": str(practice.root),
        "CASENOTES_CONFIG_DIR": str(practice.config_dir),
        "CASENOTES_PASSPHRASE": PASSPHRASE,
    }
    out = Path(tempfile.mkdtemp(prefix="casenotes-bench-export-"))
    folders = iter(range(runs))
    command = [
        sys.executable,
        "-m",
        "casenotes",
        "export",
        "BENCH-1",
        *(["--password-protect"] if protect else []),
    ]

    def once() -> None:
        subprocess.run(
            [*command, "-o", str(out / str(next(folders)))], env=env, check=True, capture_output=True
        )

    try:
        median, times = median_of(runs, once)
        pdf = out / "0" / "record.pdf"
        pages = "?" if protect else str(len(PdfReader(pdf).pages))
        return (
            f"{count} notes: median {median:.2f} s over {runs} runs ({', '.join(f'{t:.2f}' for t in times)}); "
            f"PDF {pages} pages, {pdf.stat().st_size / 1024:.0f} KiB"
        )
    finally:
        shutil.rmtree(out)
        shutil.rmtree(practice.root)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", default="100,500")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--password-protect", action="store_true")
    args = parser.parse_args()
    for count in [int(n) for n in args.notes.split(",")]:
        print(measure(count, args.runs, args.password_protect), flush=True)


if __name__ == "__main__":
    main()
