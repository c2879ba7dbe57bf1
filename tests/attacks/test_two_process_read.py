"""Attacks on decrypting a client's notes in two processes (`casenotes open`): the forked
child must leave no plaintext anywhere, and whatever becomes of it (it cannot be
started, dies, or sends garbage), the parent shows every note, right, and never hangs."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import PASSPHRASE, ROOT, Env

from site_builder import decrypt
from vault import Passphrase
from vault.errors import TamperedFile

EVERY_NOTE = [f"aaaaaaaaaaaaaaa{n}" for n in range(1, 6)]  # the story's notes


def read_in_two(story: Env) -> tuple[list[str], list[TamperedFile]]:
    vault = story.vault()
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    damaged: list[TamperedFile] = []
    shares = decrypt.read_notes_in_two(
        vault, practitioner, vault.resolve("AB-1"), lambda notes: [n.note_id for n in notes], damaged
    )
    vault.close()
    return sorted(nid for share in shares for nid in share), damaged


def test_a_fork_refused_by_the_system_costs_no_note(story: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Too many processes, or too little memory to fork a large one: one process reads all."""

    def refused() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(decrypt.os, "fork", refused)
    assert read_in_two(story) == (EVERY_NOTE, [])


def test_a_child_that_sends_garbage_and_exits_0_costs_no_note(
    story: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()
    real = decrypt.pickle.dumps

    def garbage(*args, **kwargs) -> bytes:
        return b"\x80\x05garbage" if os.getpid() != parent else real(*args, **kwargs)

    monkeypatch.setattr(decrypt.pickle, "dumps", garbage)
    assert read_in_two(story) == (EVERY_NOTE, [])


def test_the_decrypting_child_is_kept_out_of_core_dumps_as_its_parent() -> None:
    """A crash of the child must write no core file of the notes it holds: the limit and
    the not-dumpable flag `open` sets are inherited across the fork (checked in a process
    of its own: the flag would change this test process)."""
    script = textwrap.dedent(
        """
        import ctypes, resource
        from casenotes.nodump import no_core_dumps
        from site_builder.decrypt import _Child

        def state():
            libc = ctypes.CDLL(None)
            return libc.prctl(3, 0, 0, 0, 0), resource.getrlimit(resource.RLIMIT_CORE)  # PR_GET_DUMPABLE

        no_core_dumps()
        child = _Child(state)
        print(child.result(), state())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(0, (0, 0)) (0, (0, 0))"
