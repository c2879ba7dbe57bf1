"""`casenotes open` of a client with 500 (or 2,000) notes: passphrase to served.

    .venv/bin/python benchmarks/bench_open.py [--notes 500] [--runs 3]
    .venv/bin/python benchmarks/bench_open.py --process [--notes 500] [--runs 5]

``--process`` (DESIGN.md section 7: at most 1.15x) times the whole `casenotes open`
process, from its start until it prints "Serving" (then it is stopped, and wipes its
site), against a plain `python -m mkdocs build` process of the same generated pages in
one project, the two run in turn (A B A B ...): it prints each one's median wall time and
the median of the pair-by-pair ratios. The practice uses a cheap KDF here, so the
passphrase's deliberate cost does not hide the rest. The two commands are printed too,
to be timed from outside (e.g. /usr/bin/time -v).

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PASSPHRASE, new_practice, seal_client

from site_builder import build_site, theme
from site_builder.server import SiteServer
from site_builder.site import build, build_parallel
from vault import KDF_PROFILES, Passphrase


def open_until_served(command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``casenotes open`` until it prints "Serving"; then stop it."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Serving"):
            break
    served = time.perf_counter() - started
    proc.terminate()  # SIGTERM: it wipes its RAM directory and exits
    proc.wait(timeout=60)
    return served


def process_vs_plain_mkdocs(args: argparse.Namespace) -> None:
    practice, vault = new_practice()
    seal_client(practice, vault, "CL-0001", args.notes)
    client_id = vault.resolve("CL-0001")
    # The same pages as one plain MkDocs project (the helper's month pages folded back in).
    plain = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    ram = plain / "made"
    ram.mkdir()
    build_site(vault, practitioner := vault.unlock(Passphrase(PASSPHRASE)), client_id, "CL-0001", ram)
    del practitioner
    vault.close()
    if (ram / "docs-helper").is_dir():
        shutil.copytree(ram / "docs-helper", ram / "docs", dirs_exist_ok=True)
    for leftover in ("site", "site-helper", "docs-helper", "mkdocs-helper.yml"):
        target = ram / leftover
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASENOTES_")}
    env.update(
        theme.QUIET_ENV,
        CASENOTES_HOME=str(practice.root),
        CASENOTES_CONFIG_DIR=str(practice.config_dir),
        CASENOTES_PASSPHRASE=PASSPHRASE,
    )
    open_cmd = [sys.executable, "-m", "casenotes", "open", "CL-0001", "--no-browser"]
    plain_cmd = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "-q",
        "-f",
        str(ram / "mkdocs.yml"),
        "-d",
        str(plain / "site"),
    ]
    print(
        f"A: CASENOTES_HOME={practice.root} CASENOTES_CONFIG_DIR={practice.config_dir} {' '.join(open_cmd)}"
    )
    print(f"B: {' '.join(plain_cmd)}")
    opens, builds, ratios = [], [], []
    for _ in range(args.runs):
        opens.append(open_until_served(open_cmd, env))
        started = time.perf_counter()
        subprocess.run(plain_cmd, env=env, check=True, capture_output=True)
        builds.append(time.perf_counter() - started)
        shutil.rmtree(plain / "site")
        ratios.append(opens[-1] / builds[-1])
    shutil.rmtree(plain)
    shutil.rmtree(practice.root)
    print(f"{args.notes}-note client, {args.runs} runs each, in turn:")
    print(f"  casenotes open, start -> Serving: median {statistics.median(opens):.2f} s")
    print(f"  plain mkdocs build, same pages:   median {statistics.median(builds):.2f} s")
    print(f"  ratio open/plain: median {statistics.median(ratios):.2f}x (target at most 1.15x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--process", action="store_true", help="whole processes: open vs plain mkdocs build")
    args = parser.parse_args()
    os.environ.update(theme.QUIET_ENV)
    if args.process:
        process_vs_plain_mkdocs(args)
        return
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
