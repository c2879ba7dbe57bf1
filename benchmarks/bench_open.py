"""`casenotes open` as a whole process against a plain `mkdocs build` of the same pages.

    .venv/bin/python benchmarks/bench_open.py [--notes 500,2000] [--runs 5]
    .venv/bin/python benchmarks/bench_open.py --stages [--notes 500] [--runs 3]

For each size, in one run: a fictional client with that many notes, and the same pages as
a plain MkDocs project (its mkdocs.yml is the one `open` writes). Then, in turn (A B A B
...), A: the `casenotes open` process from its start until it says every page is written
("casenotes: all pages ready"; it is then stopped, and wipes its site), and B: a plain
`python -m mkdocs build` process of that project. Printed: each one's median wall time
and the median of the pair-by-pair ratios A/B (DESIGN.md section 7: at most 1.15x), and
for A the median time until its overview page was fetched over HTTP (token, cookie, page:
what a browser does), from the process start (DESIGN.md: within 1 s of the unlock at 2,000
notes). The practice uses a cheap KDF, so the passphrase's deliberate cost does not hide
the rest; the commands are printed, to be timed from outside too (/usr/bin/time -v).

``--stages``: in one process, at the default KDF, the unlock (MkDocs warmed up and the
notes' signatures checked meanwhile, as `open` does) and then decrypt + read, overview, and whole build (site_builder's own
timings): above PARTIAL_FROM notes, "partial ready" is the time from the unlock until the
newest notes' overview (marked partial) could be served, "complete ready" until the complete
one could; "decrypt + read" is then the complete read after the partial overview.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from common import PASSPHRASE, new_practice, seal_client

import site_builder.site
from site_builder import build_site, check_ahead, theme, warm_up
from vault import KDF_PROFILES, Passphrase

READY = "casenotes: all pages ready"


def ram_dir() -> Path:
    return Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))


def open_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from starting ``casenotes open`` until its overview was fetched, and until
    every page was written; then it is stopped."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    url = proc.stdout.readline().split()[-1]
    fetched: list[float] = []

    def fetch_overview() -> None:  # as the browser would, while the rest is being built
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        opener.open(url, timeout=60).close()
        with opener.open(url.split("?")[0], timeout=60) as response:
            response.read()
        fetched.append(time.perf_counter() - started)

    fetcher = threading.Thread(target=fetch_overview)
    fetcher.start()
    for line in proc.stderr:
        if line.startswith(READY):
            break
    ready = time.perf_counter() - started
    fetcher.join()
    proc.terminate()  # SIGTERM: it wipes its RAM directory and exits
    proc.communicate(timeout=60)
    return fetched[0], ready


def plain_project(practice, vault, client_id: str) -> Path:  # type: ignore[no-untyped-def]
    """The pages `open` generates, as a MkDocs project of their own (in RAM)."""
    project = ram_dir()
    build_site(vault, vault.unlock(Passphrase(PASSPHRASE)), client_id, "CL-0001", project)
    shutil.rmtree(project / "site")
    return project


def whole_processes(notes: int, runs: int) -> dict[str, float]:
    practice, vault = new_practice()
    seal_client(practice, vault, "CL-0001", notes)
    project = plain_project(practice, vault, vault.resolve("CL-0001"))
    vault.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASENOTES_")}
    env.update(
        theme.QUIET_ENV,
        CASENOTES_HOME=str(practice.root),
        CASENOTES_CONFIG_DIR=str(practice.config_dir),
        CASENOTES_PASSPHRASE=PASSPHRASE,
    )
    open_cmd = [sys.executable, "-m", "casenotes", "open", "CL-0001", "--no-browser"]
    plain_cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(project / "mkdocs.yml")]
    print(f"{notes} notes:")
    print(
        f"  A: CASENOTES_HOME={practice.root} CASENOTES_CONFIG_DIR={practice.config_dir} {' '.join(open_cmd)}"
    )
    print(f"  B: {' '.join(plain_cmd)}")
    overviews, opens, plains, ratios = [], [], [], []
    try:
        for _ in range(runs):
            overview, ready = open_once(open_cmd, env)
            overviews.append(overview)
            opens.append(ready)
            started = time.perf_counter()
            subprocess.run(plain_cmd, env=env, check=True, capture_output=True)
            plains.append(time.perf_counter() - started)
            ratios.append(opens[-1] / plains[-1])
    finally:
        shutil.rmtree(project)
        shutil.rmtree(practice.root)
    med = {
        "overview": statistics.median(overviews),
        "open": statistics.median(opens),
        "plain": statistics.median(plains),
        "ratio": statistics.median(ratios),
    }
    print(f"  casenotes open, start -> every page written: median {med['open']:.2f} s")
    print(f"  plain mkdocs build of the same pages:        median {med['plain']:.2f} s")
    print(f"  ratio open/plain, median of {runs} pairs:     {med['ratio']:.2f}x (target at most 1.15x)")
    print(f"  casenotes open, start -> overview fetched:   median {med['overview']:.2f} s")
    return med


def stages(notes: int, runs: int) -> None:
    practice, vault = new_practice(KDF_PROFILES["moderate"])
    seal_client(practice, vault, "CL-0001", notes)
    client_id = vault.resolve("CL-0001")
    keys = ("unlock", "decrypt + read", "overview", "every page", "partial ready", "complete ready")
    rows: dict[str, list[float]] = {k: [] for k in keys}
    alone: dict[str, list[float]] = {k: [] for k in keys}  # the same-run reference: no partial stage
    threshold = site_builder.site.PARTIAL_FROM
    for n in range(2 * runs):
        site_builder.site.PARTIAL_FROM = threshold if n % 2 == 0 else notes  # A B A B ...
        into = rows if n % 2 == 0 else alone
        ram = ram_dir()
        # as `open` does: while the passphrase is derived, MkDocs is loaded and the theme
        # compiled (the first run), then the notes' signatures are checked until the unlock
        warm_up(then=check_ahead(vault, client_id))
        started = time.perf_counter()
        practitioner = vault.unlock(Passphrase(PASSPHRASE))
        into["unlock"].append(time.perf_counter() - started)
        # served as `open` does: a long history's newest notes first (a partial overview)
        site = build_site(vault, practitioner, client_id, "CL-0001", ram, on_overview=lambda _: None)
        into["partial ready"].append(site.timings.partial)  # 0: no partial stage (a short history)
        into["complete ready"].append(site.timings.decrypt + site.timings.overview)
        into["decrypt + read"].append(site.timings.decrypt - site.timings.partial)
        into["overview"].append(site.timings.overview)
        into["every page"].append(site.timings.build)
        shutil.rmtree(ram)
    vault.close()
    shutil.rmtree(practice.root)
    site_builder.site.PARTIAL_FROM = threshold
    print(
        f"open of a {notes}-note client in one process, median of {runs} runs (A: as open; B: no partial stage):"
    )
    for key in keys:
        a, b = statistics.median(rows[key]), statistics.median(alone[key])
        print(f"  {key:<15} A {a:6.2f} s   B {b:6.2f} s")
    print("  (partial ready, complete ready: from the unlock until that overview could be served)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", default="500,2000", help="sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stages", action="store_true", help="in one process: unlock, decrypt, build")
    args = parser.parse_args()
    os.environ.update(theme.QUIET_ENV)
    sizes = [int(n) for n in args.notes.split(",")]
    if args.stages:
        for notes in sizes:
            stages(notes, args.runs)
        return
    results = {notes: whole_processes(notes, args.runs) for notes in sizes}
    print("summary (medians; B is plain `mkdocs build` of the same pages, same run):")
    for notes, med in results.items():
        print(
            f"  {notes:>5} notes: open {med['open']:.2f} s, plain {med['plain']:.2f} s, "
            f"ratio {med['ratio']:.2f}x; overview after {med['overview']:.2f} s"
        )


if __name__ == "__main__":
    main()
