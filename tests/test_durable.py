"""Durable writes: all or nothing, no stray temp file, even when the disk is full."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env, fill
from notes import write_note

from vault import Passphrase, durable
from vault.errors import WriteFailed
from vault.store.practice import create_practice


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
    from casenotes.config import Practice

    practice = Practice(tiny_disk / "practice", tmp_path / "config")
    create_practice(practice.vault_dir, practice.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    practice.create_layout()
    env = Env(practice, {**base_env, "CASENOTES_HOME": str(practice.root)})
    assert env.run("client", "add", "AB-1").code == 0
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
