"""What another process of this machine could take from a running casenotes: a core file,
the passphrase in a child's environment, a log naming clients."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from notes import note_text

PROBE = """
import sys
import casenotes.nodump as nodump
nodump.no_core_dumps = lambda: print("NO-CORE-DUMPS", file=sys.stderr)
from casenotes.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize(
    "args",
    [
        ["cat", "AB-1"],
        ["share", "AB-1", "--consent", "nothing", "-o", "out.bundle"],
        ["retention", "purge", "--dry-run"],
        ["open", "AB-1", "--no-browser", "--idle-timeout", "0.05"],
    ],
    ids=lambda args: args[0] if args[0] != "retention" else "purge",
)
def test_every_command_that_decrypts_turns_core_dumps_off(
    practice: Env, args: list[str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**practice.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert "NO-CORE-DUMPS" in done.stderr, done.stderr


def test_no_core_dumps_sets_the_limit_and_the_dumpable_flag() -> None:
    probe = (
        "import ctypes, resource\n"
        "from casenotes.nodump import no_core_dumps\n"
        "no_core_dumps()\n"
        "libc = ctypes.CDLL(None)\n"
        "print(resource.getrlimit(resource.RLIMIT_CORE), libc.prctl(3, 0, 0, 0, 0))\n"  # PR_GET_DUMPABLE
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["(0,", "0)", "0"]


def test_the_editor_never_inherits_the_passphrase(practice: Env, tmp_path: Path) -> None:
    record = tmp_path / "environ"
    editor = tmp_path / "editor.sh"
    editor.write_text(f"#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/environ > {record}\n")
    editor.chmod(0o700)
    done = subprocess.run(
        [sys.executable, "-m", "casenotes", "new", "AB-1"],
        env={**practice.env, "CASENOTES_PASSPHRASE": PASSPHRASE, "EDITOR": str(editor)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = record.read_text()
    assert "EDITOR=" in seen and PASSPHRASE not in seen and "CASENOTES_PASSPHRASE" not in seen


def test_the_syncd_log_is_private_and_names_notes_by_id_only(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "AB-1-2026-03-02-soap.md").write_text(note_text(date="2026-03-02", status="signed"))
    (inbox / "AB-1-2026-03-03-birp.md").write_text("---\nclient: AB-1\ndate: nope\n---\nbody\n")
    log = practice.practice.state_dir / "syncd.log"
    from daemon import RunningDaemon, configure, revision_count, wait_for

    configure(practice, quiet_period_seconds=0.2)
    running = RunningDaemon(practice).wait_ready()
    try:
        wait_for(
            lambda: revision_count(practice) == 1 and "could not be sealed" in running.log_text(),
            what="a seal and a refusal",
        )
    finally:
        assert running.stop() == 0
    text = log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "note 0123456789abcdef" in text
    for secret in ("AB-1", "2026-03-02", "2026-03-03", "soap", "birp", ".md"):
        assert secret not in text, secret


def test_a_client_added_with_name_and_birth_date_from_standard_input_leaves_neither_on_the_command_line(
    practice: Env,
) -> None:
    """Every local user can read /proc/<pid>/cmdline: read it while `client add` waits for
    the name, as another user's process could."""
    name, born = "Fictional Quillon Example", "1984-07-09"
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", "client", "add", "QX-7", "--name", "-", "--dob", "-"],
        env={**practice.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None and proc.stdin is not None
        asked = b""
        while b"Name" not in asked:  # the prompt (on stderr): it now waits on standard input
            chunk = os.read(proc.stderr.fileno(), 256)
            assert chunk, f"client add ended before asking: {asked!r}"
            asked += chunk
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"QX-7" in cmdline  # the right process
        assert b"Quillon" not in cmdline and b"1984" not in cmdline
        out, err = proc.communicate(f"{name}\n{born}\n".encode(), timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert b"warning" not in asked + err  # nothing to warn about
    shown = practice.run("client", "show", "QX-7").text
    assert name in shown and born in shown


def test_a_name_given_on_the_command_line_is_taken_with_a_warning(practice: Env) -> None:
    added = practice.run("client", "add", "QY-8", "--name", "Fictional Other Person")
    assert added.code == 0 and "visible to other users" in added.err and "--name -" in added.err
    assert "Fictional Other Person" in practice.run("client", "show", "QY-8").text
