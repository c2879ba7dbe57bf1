"""Steps a practitioner takes at the command line that several tests need: a client
past retention, backup targets, an erasure request, recovery shares, a command run
under strace with a fault."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import PASSPHRASE, Env
from notes import write_note


def ok(env: Env, *args: str) -> str:
    result = env.run(*args)
    assert result.code == 0, result.err
    return result.text


def past_client(env: Env, handle: str, day: str = "2010-03-01", closed: str = "2011-01-01") -> str:
    """A client seen long ago and discharged: due for disposal today."""
    client_id = ok(env, "client", "add", handle, "--name", f"Fictional {handle}").strip()
    note = write_note(env.practice.inbox, f"{handle}.md", client=handle, date=day, note_id=None)
    ok(env, "seal", str(note))
    note.unlink()
    ok(env, "client", "close", handle, "--on", closed)
    return client_id


def targets(env: Env, *specs: str) -> None:
    settings = env.practice.settings_file
    settings.write_text(
        settings.read_text().replace(
            'backup_targets: ["backups"]', f"backup_targets: {json.dumps(list(specs))}"
        )
    )


def request_id(out: str) -> str:
    return out.split()[1]


def erasure_request(env: Env, handle: str) -> str:
    made = env.run(
        "request", "add", handle, "--kind", "erasure", "--note", "-", stdin="please erase (quillomb)\n"
    )
    assert made.code == 0, made.err
    return request_id(made.text)


NEW = "plum quietly orbit sextant marmalade"


def create(practice: Env, n: int, k: int) -> list[str]:
    done = practice.run("recovery", "create", "--shares", str(n), "--threshold", str(k))
    assert done.code == 0, done.err
    shares = done.text.splitlines()
    assert len(shares) == n and all(len(s.split()) == 20 for s in shares)
    return shares


def traced(
    practice: Env, strace: list[str], *args: str, fault: list[str], passphrase: str | None = PASSPHRASE
) -> subprocess.CompletedProcess[str]:
    """The CLI run under strace with FAULT (``-P path``, ``-e trace=``, ``-e inject=``)."""
    return subprocess.run(
        [*strace, *fault, sys.executable, "-m", "casenotes", *args],
        capture_output=True,
        text=True,
        env=dict(practice.env, **({"CASENOTES_PASSPHRASE": passphrase} if passphrase else {})),
        timeout=120,
    )
