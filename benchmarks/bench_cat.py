"""`casenotes cat` of a client with 500 notes.

    .venv/bin/python benchmarks/bench_cat.py [--notes 500] [--runs 7]

Reports the in-process decryption (after unlock) and the whole command as a process,
with an interactive-cost key, from start to the last byte on stdout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from common import PASSPHRASE, median_of, new_practice, seal_client

from vault import KDF_PROFILES, Passphrase


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    practice, vault = new_practice(KDF_PROFILES["interactive"])
    seal_client(practice, vault, "CL-0001", args.notes)
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    client_id = vault.resolve("CL-0001")
    inner, _ = median_of(args.runs, lambda: vault.read_notes(practitioner, client_id))
    env = {
        **os.environ,
        "CASENOTES_HOME": str(practice.root),
        "CASENOTES_CONFIG_DIR": str(practice.config_dir),
        "CASENOTES_PASSPHRASE": PASSPHRASE,
    }

    def whole() -> None:
        subprocess.run(
            [sys.executable, "-m", "casenotes", "cat", "CL-0001"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    outer, _ = median_of(args.runs, whole)
    vault.close()
    shutil.rmtree(practice.root)
    print(f"decrypt {args.notes} notes (after unlock): median {inner * 1000:.0f} ms")
    print(f"`casenotes cat` as a process, interactive KDF: median {outer * 1000:.0f} ms")


if __name__ == "__main__":
    main()
