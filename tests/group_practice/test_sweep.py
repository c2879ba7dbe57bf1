"""What the sweep may remove in a replicated vault (issue 29, item 1).

Syncthing makes a note's folder (and a client's) before it fetches the files in it; a
sweep that took every empty folder for a leftover removed it, and the engine carried the
removal to every machine, notes and all. The sweep now removes only what this device can
prove it made and abandoned: a folder in its journal, a temp file named for it whose
process is gone. What another machine (or the engine) made is reported and left alone.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from conftest import Env
from notes import note_text

from vault import verify
from vault.format.encoding import new_id

OTHER_DEVICE = "0f0f0f0f0f0f0f0f"


def _arriving(practice: Env) -> dict[str, Path]:
    """What a sync engine has made on this machine of another machine's work, so far: a
    new client's folder, a new note's folder, a note folder holding only the other
    device's temp file, and another device's temp file elsewhere in the vault."""
    with practice.vault() as vault:
        records = vault.client_dir(vault.resolve("AB-1")) / "records"
    made = {
        "client": practice.vault_dir / "clients" / new_id(),
        "note": records / new_id(),
        "note-with-temp": records / new_id(),
    }
    made["client"].mkdir()
    (made["client"] / "records").mkdir()
    made["note"].mkdir()
    made["note-with-temp"].mkdir()
    made["temp"] = made["note-with-temp"] / f".tmp-{OTHER_DEVICE}-4242-abcdef"
    made["temp"].write_bytes(b"\0" * 64)
    made["index-temp"] = practice.vault_dir / "index" / f".tmp-{OTHER_DEVICE}-4242-fedcba"
    made["index-temp"].write_bytes(b"\0" * 64)
    old = time.time() - 7200  # older than the hour after which a temp file counted as stale
    for path in made.values():
        os.utime(path, (old, old))
    return made


def test_empty_folders_another_device_made_survive_sweep_seal_and_syncd(practice: Env) -> None:
    made = _arriving(practice)
    with practice.vault() as vault:
        assert vault.sweep(time.time()) == 0
        assert vault.remove_leftovers() == []
    note = practice.practice.inbox / "idless.md"
    note.write_text(note_text(note_id=None))  # `seal` of a note without `id:` sweeps its client
    sealed = practice.run("seal", str(note))
    assert sealed.code == 0, sealed.err
    once = practice.run("syncd", "--once")
    assert once.code == 0, once.err
    assert all(path.exists() for path in made.values()), [p for p in made.values() if not p.exists()]

    # Reported, not removed, and not taken for a problem: a sync may be under way.
    checked = practice.run("verify")
    assert checked.code == 0, checked.err
    for name in ("client", "note", "note-with-temp", "index-temp"):
        assert f"{made[name]}: holds no note yet" in checked.err
    assert "removes it" not in checked.err
    cat = practice.run("cat", "AB-1")
    assert cat.code == 0 and b"## Summary" in cat.out, cat.err
    with practice.vault() as vault:
        assert made["client"].name not in vault.client_ids()  # readers skip it
        assert verify(vault) == []


def test_this_devices_own_temp_files_go_once_their_writer_is_gone(practice: Env) -> None:
    with practice.vault() as vault:
        device = vault.device.device_id
        records = vault.client_dir(vault.resolve("AB-1")) / "records"
    gone = practice.vault_dir / "index" / f".tmp-{device}-{_an_ended_pid()}-abcdef"  # a killed writer's
    gone.write_bytes(b"\0" * 64)
    alive = records.parent / f".tmp-{device}-{os.getpid()}-abcdef"  # a writer still at work
    alive.write_bytes(b"\0" * 64)
    assert practice.run("syncd", "--once").code == 0
    assert not gone.exists() and alive.exists()


def _an_ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
