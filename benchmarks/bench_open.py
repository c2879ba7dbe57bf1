"""`casenotes open` of a client with 500 (or 2,000) notes: passphrase to served.

    .venv/bin/python benchmarks/bench_open.py [--notes 500] [--runs 3]

Splits the time into unlock (Argon2id at the default `moderate` cost), decrypt, generate
and build, and compares decrypt + generate with a plain `mkdocs build` of the same pages
(DESIGN.md section 7: under 3 s at 500 notes after the passphrase, under 10 s at 2,000;
decryption and generation add under 15% to the plain build).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import PASSPHRASE, new_practice, seal_client

from site_builder import build_site, theme
from site_builder.server import SiteServer
from site_builder.site import build, build_parallel
from vault import KDF_PROFILES, Passphrase


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(theme.QUIET_ENV)
    practice, vault = new_practice(KDF_PROFILES["moderate"])
    seal_client(practice, vault, "CL-0001", args.notes)
    client_id = vault.resolve("CL-0001")
    rows: dict[str, list[float]] = {
        k: [] for k in ("unlock", "decrypt", "generate", "build", "served", "plain build")
    }
    for _ in range(args.runs):
        ram = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        started = time.perf_counter()
        practitioner = vault.unlock(Passphrase(PASSPHRASE))
        rows["unlock"].append(time.perf_counter() - started)
        after_passphrase = time.perf_counter()
        site = build_site(vault, practitioner, client_id, "CL-0001", ram)
        server = SiteServer(site.html)  # listening: the moment the URL could be printed
        rows["served"].append(time.perf_counter() - after_passphrase)
        server.server_close()
        rows["decrypt"].append(site.timings.decrypt)
        rows["generate"].append(site.timings.generate)
        rows["build"].append(site.timings.build)
        shutil.rmtree(ram / "site")
        started = time.perf_counter()
        if (ram / "mkdocs-helper.yml").exists():  # the same pages, built the same way
            shutil.rmtree(ram / "site-helper", ignore_errors=True)
            build_parallel(ram, ram / "mkdocs.yml", ram / "mkdocs-helper.yml")
        else:
            build(ram / "mkdocs.yml")
        rows["plain build"].append(time.perf_counter() - started)
        shutil.rmtree(ram)
    vault.close()
    shutil.rmtree(practice.root)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"open of a {args.notes}-note client, median of {args.runs} runs:")
    for key, value in med.items():
        print(f"  {key:<12} {value:6.2f} s")
    extra = (med["decrypt"] + med["generate"]) / med["plain build"] * 100
    print(
        f"  passphrase accepted -> served: {med['served']:.2f} s; decrypt + generate add {extra:.1f}% to a plain build"
    )


if __name__ == "__main__":
    main()
