"""Unlocking the practitioner key at each KDF profile (Argon2id cost stored in the key).

.venv/bin/python benchmarks/bench_unlock.py [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import shutil

from common import PASSPHRASE, median_of, new_practice

from vault import KDF_PROFILES, Passphrase


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for name, params in KDF_PROFILES.items():
        practice, vault = new_practice(params)
        median, _ = median_of(args.runs, functools.partial(vault.unlock, Passphrase(PASSPHRASE)))
        vault.close()
        shutil.rmtree(practice.root)
        print(
            f"{name:<12} opslimit {params.opslimit}, memlimit {params.memlimit // 2**20} MiB: "
            f"median {median * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
