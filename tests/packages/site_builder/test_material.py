"""Material for MkDocs, which every client site is built with, is near its end of life
(maintenance ends 2027-05-05; docs/decisions.md has the plan): its notices never reach a
practitioner's terminal, and a Material the site was never built with is caught here."""

from __future__ import annotations

import importlib.metadata
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import PASSPHRASE, Env

from site_builder import theme

NOTICE = ("end of life", "Zensical", "NO_MKDOCS_2_WARNING", "MkDocs 2")


def as_mkdocs(tmp_path: Path) -> Path:
    """casenotes started under the name `mkdocs`: Material 9.8.2 prints its notice only for
    a program of that name, so this opens the gate an earlier or later Material may not
    have, and shows what a practitioner would see then."""
    program = tmp_path / "bin" / "mkdocs"
    program.parent.mkdir()
    program.write_text(f"#!{sys.executable}\nfrom casenotes.cli import main\nmain()\n")
    program.chmod(0o755)
    return program


def test_no_end_of_life_notice_while_a_passphrase_is_typed_at_open(practice: Env, tmp_path: Path) -> None:
    env = {k: v for k, v in practice.env.items() if k != "CASENOTES_PASSPHRASE"}
    proc = subprocess.Popen(
        [str(as_mkdocs(tmp_path)), "open", "AB-1", "--no-browser", "--idle-timeout", "0.05"],
        env={**env, "BROWSER": "true"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Typed slowly: MkDocs and Material load in the warm-up meanwhile, as they do while a
    # practitioner types (the import of Material's theme is where its notice is printed).
    time.sleep(4)
    try:
        out, err = proc.communicate(PASSPHRASE + "\n", timeout=120)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0 and "Serving http://127.0.0.1:" in out, err
    for words in NOTICE:
        assert words not in out + err, f"{words!r} reached the terminal:\n{err}"


def test_no_end_of_life_notice_in_the_demo(empty: Env, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(as_mkdocs(tmp_path)), "demo", "--no-browser", "--idle-timeout", "0.05"],
        env={**empty.env, "BROWSER": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "Serving http://127.0.0.1:" in done.stdout, done.stderr
    for words in NOTICE:
        assert words not in done.stdout + done.stderr, f"{words!r} reached the terminal:\n{done.stderr}"


def test_the_installed_material_is_a_major_version_client_sites_were_built_with() -> None:
    installed = importlib.metadata.version("mkdocs-material")
    major = int(installed.split(".")[0])
    assert major in theme.SUPPORTED_MATERIAL_MAJORS, (
        f"mkdocs-material {installed} is installed, but client sites were only ever built and checked "
        f"with major version(s) {', '.join(map(str, theme.SUPPORTED_MATERIAL_MAJORS))}: its templates, "
        "inline scripts (hashed into the CSP) and search may differ. Install a supported one "
        f"(pip install 'mkdocs-material<{max(theme.SUPPORTED_MATERIAL_MAJORS) + 1}'), or run the site "
        f"tests (tests/browser/test_site_*.py, tests/attacks/test_attacks.py) with {installed} and, when they pass, add "
        f"{major} to SUPPORTED_MATERIAL_MAJORS in site_builder/theme.py"
    )
