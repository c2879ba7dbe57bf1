"""Durable writes: all or nothing, no stray temp file, even when the disk is full."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env, fill, practice_on
from notes import write_note

from vault import Passphrase, durable
from vault.errors import WriteFailed


def test_write_new_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "a" / "file"
    durable.write_new(target, b"first")
    with pytest.raises(FileExistsError):
        durable.write_new(target, b"second")
    assert target.read_bytes() == b"first"
    assert os.listdir(target.parent) == ["file"]


def test_replace_swaps_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "file"
    durable.replace(target, b"old")
    durable.replace(target, b"new")
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["file"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)


def test_a_full_disk_leaves_the_old_file_and_no_temp(tiny_disk: Path) -> None:
    target = tiny_disk / "file"
    durable.replace(target, b"old contents")
    fill(tiny_disk)
    with pytest.raises(WriteFailed) as caught:
        durable.replace(target, b"x" * 200_000)
    assert "free some disk space" in str(caught.value)
    assert target.read_bytes() == b"old contents"
    assert sorted(os.listdir(tiny_disk)) == ["file", "filler"]


def test_sealing_onto_a_full_disk_says_so_and_keeps_the_note(
    tiny_disk: Path, tmp_path: Path, base_env
) -> None:
    env = practice_on(tiny_disk, tmp_path, base_env)
    practice = env.practice
    note = write_note(tmp_path / "drafts")
    before = sorted(practice.vault_dir.rglob("*.rev"))
    fill(tiny_disk)
    result = env.run("seal", str(note))
    assert result.code == 1 and "free some disk space" in result.err and "Traceback" not in result.err
    assert note.exists()
    assert sorted(practice.vault_dir.rglob("*.rev")) == before
    assert not [p for p in practice.vault_dir.rglob(".tmp-*")]
    (tiny_disk / "filler").unlink()
    assert env.run("seal", str(note)).code == 0
    assert env.run("verify").code == 0


def _notes_open_with(env: Env, passphrase: str) -> list[bytes]:
    """Every note of every client, decrypted with ``passphrase`` (WrongPassphrase if not)."""
    vault = env.vault()
    practitioner = vault.unlock(Passphrase(passphrase))
    return [bytes(n.body) for cid in vault.client_ids() for n in vault.read_notes(practitioner, cid)]


def test_a_passphrase_change_on_a_full_disk_fails_cleanly_and_keeps_the_old_passphrase(
    tiny_disk: Path, tmp_path: Path, base_env
) -> None:
    env = practice_on(tiny_disk, tmp_path, base_env)
    assert env.run("seal", str(write_note(tmp_path / "drafts"))).code == 0
    notes = _notes_open_with(env, PASSPHRASE)
    vault = env.vault()
    key_folder = vault.practitioner_file.parent
    before = {p.name: p.read_bytes() for p in key_folder.iterdir()}
    fill(tiny_disk)
    with pytest.raises(WriteFailed) as caught:
        vault.change_passphrase(Passphrase(PASSPHRASE), Passphrase("new fictional passphrase"))
    assert caught.value.args_[0] == vault.practitioner_file  # the key write failed, nothing before it
    assert "free some disk space" in str(caught.value)
    assert {p.name: p.read_bytes() for p in key_folder.iterdir()} == before  # no temp file either
    (tiny_disk / "filler").unlink()
    assert _notes_open_with(env, PASSPHRASE) == notes


# Change the passphrase in a process of its own, so strace can fault its system calls.
CHANGE_PASSPHRASE = """
import os, sys
from pathlib import Path
from vault import Passphrase, Vault
vault = Vault(Path(sys.argv[1]), Path(sys.argv[2]))
vault.change_passphrase(Passphrase(os.environ["OLD"]), Passphrase(os.environ["NEW"]))
"""


def test_a_failed_write_into_the_key_file_never_leaves_it_truncated(practice: Env, strace: list[str]) -> None:
    """The disk fills at the moment anything writes into the key file itself: a key
    rewritten in place would be cut to nothing, and every note with it. Written beside
    and renamed over, the change either happens whole or not at all."""
    assert practice.run("seal", str(write_note(practice.practice.inbox))).code == 0
    notes = _notes_open_with(practice, PASSPHRASE)
    key = practice.vault().practitioner_file
    new = "new fictional passphrase"
    done = subprocess.run(
        [
            *strace,
            "-P", str(key), "-e", "trace=write,pwrite64,writev",
            "-e", "inject=write,pwrite64,writev:error=ENOSPC",
            sys.executable, "-c", CHANGE_PASSPHRASE, str(practice.vault_dir), str(practice.practice.config_dir),
        ],
        env={**practice.env, "OLD": PASSPHRASE, "NEW": new},
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr.decode()
    assert _notes_open_with(practice, new if done.returncode == 0 else PASSPHRASE) == notes
    assert not list(key.parent.glob(".tmp-*"))


def _record_durability(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Spy on what makes a write durable: ("fsync", the path the fd is open on) and
    ("name", the path a link or rename just made), in the order they happened."""
    events: list[tuple[str, str]] = []
    real_fsync, real_link, real_replace, real_rename = os.fsync, os.link, os.replace, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def naming(real):
        def name(src, dst, *args, **kwargs):
            real(src, dst, *args, **kwargs)
            events.append(("name", os.path.realpath(dst)))

        return name

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", naming(real_link))
    monkeypatch.setattr(os, "replace", naming(real_replace))
    monkeypatch.setattr(os, "rename", naming(real_rename))
    return events


@pytest.mark.parametrize("write", [durable.write_new, durable.replace], ids=["write_new", "replace"])
def test_the_new_name_is_durable_before_the_write_returns(tmp_path: Path, monkeypatch, write) -> None:
    """A power cut after the call returns must not take the file back: its bytes are
    synced before the name appears, and the folder (which holds the name) after it."""
    folder = tmp_path / "records"
    folder.mkdir()
    target = folder / "000001.rev"
    if write is durable.replace:
        target.write_bytes(b"the old version")
    events = _record_durability(monkeypatch)
    write(target, b"sealed bytes")
    monkeypatch.undo()
    named = events.index(("name", str(target.resolve())))
    synced_before = [Path(path) for kind, path in events[:named] if kind == "fsync"]
    assert any(p.parent == folder.resolve() and p.name.startswith(".tmp-") for p in synced_before), events
    assert ("fsync", str(folder.resolve())) in events[named + 1 :], events
