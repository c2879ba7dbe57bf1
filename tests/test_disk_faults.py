"""When the disk says no (full, a folder where a file should be, an I/O error), every command
says one sentence naming the file and the fix, exits 1, and shows no traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env, fill

from casenotes.config import Practice
from vault import Passphrase, durable
from vault.errors import ReadFailed, WriteFailed
from vault.store.practice import create_practice


@pytest.fixture
def tiny_practice(tiny_disk: Path, tmp_path: Path, base_env: dict[str, str]) -> Env:
    """A practice (vault, inbox, syncd's state) on a 256 KiB tmpfs; the device key elsewhere."""
    p = Practice(tiny_disk / "practice", tmp_path / "config")
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    p.create_layout()
    env = Env(p, {**base_env, "CASENOTES_HOME": str(p.root)})
    assert env.run("client", "add", "AB-1").code == 0
    return env


def one_clear_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("casenotes: ")
    return lines[0]


# -- item 6: every OSError is a sentence ---------------------------------------------------
def test_adding_a_client_on_a_full_disk_says_which_file_and_what_to_do(tiny_practice: Env) -> None:
    fill(tiny_practice.practice.root.parent)
    result = tiny_practice.run("client", "add", "CD-2")
    line = one_clear_sentence(result.err)
    assert result.code == 1
    assert str(tiny_practice.vault_dir) in line and "free some disk space" in line


def test_a_device_file_that_cannot_be_read_is_named(practice: Env) -> None:
    device = next(practice.practice.config_dir.glob("*/device.json"))
    device.unlink()
    device.mkdir()  # reading it fails with EISDIR, as an I/O error would (root reads anything)
    result = practice.run("verify")
    line = one_clear_sentence(result.err)
    assert result.code == 1 and f"could not read {device}" in line and "permissions" in line


def test_a_settings_file_that_cannot_be_read_is_named(practice: Env) -> None:
    settings = practice.practice.settings_file
    settings.unlink()
    settings.mkdir()
    result = practice.run("status")
    line = one_clear_sentence(result.err)
    assert result.code == 1 and str(settings) in line and "could not be read" in line


def test_a_lock_file_that_cannot_be_opened_is_named(practice: Env) -> None:
    lock = next(practice.practice.config_dir.glob("*/")) / "retention.lock"
    lock.mkdir()
    result = practice.run("client", "close", "AB-1")
    line = one_clear_sentence(result.err)
    assert result.code == 1 and f"could not write {lock}" in line


def test_an_oserror_the_core_did_not_type_is_still_one_sentence(practice: Env) -> None:
    state = practice.practice.state_dir
    state.mkdir(exist_ok=True)
    (state / "state.json").mkdir()  # syncd's own state: read with a plain open()
    result = practice.run("status")
    line = one_clear_sentence(result.err)
    assert result.code == 1 and str(state / "state.json") in line and "run it again" in line
    assert "Traceback" in practice.run("--debug", "status").err  # --debug alone shows one


@pytest.mark.parametrize("failing", ["mkstemp", "fsync", "mkdir"])
def test_each_step_of_a_durable_write_fails_as_write_failed(tmp_path: Path, monkeypatch, failing: str) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    target = tmp_path / "new" / "file"
    if failing == "mkstemp":
        monkeypatch.setattr(durable.tempfile, "mkstemp", refuse)
    elif failing == "fsync":
        monkeypatch.setattr(durable.os, "fsync", refuse)
    else:
        monkeypatch.setattr(durable.os, "mkdir", refuse)
    with pytest.raises(WriteFailed) as caught:
        durable.write_new(target, b"data")
    assert "Input/output error" in str(caught.value) and "Traceback" not in str(caught.value)
    monkeypatch.undo()
    assert not target.exists()
    assert not list(tmp_path.rglob(".tmp-*"))  # nothing half-written is left behind


def test_a_temp_file_that_cannot_be_removed_does_not_fail_a_finished_write(tmp_path: Path, monkeypatch) -> None:
    real_unlink = os.unlink

    def refuse_temps(path: str, *args: object, **kwargs: object) -> None:
        if os.path.basename(path).startswith(".tmp-"):
            raise OSError(errno.EIO, "Input/output error")
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(durable.os, "unlink", refuse_temps)
    durable.write_new(tmp_path / "file", b"data")  # linked and durable: that is what counts
    assert (tmp_path / "file").read_bytes() == b"data"


def test_a_read_error_of_a_record_is_read_failed(tmp_path: Path) -> None:
    from vault.format.keys import read_record

    (tmp_path / "practice.json").mkdir()
    with pytest.raises(ReadFailed) as caught:
        read_record(tmp_path / "practice.json", "casenotes-practice")
    assert "could not read" in str(caught.value)


# -- item 7: read-only commands answer on a full disk ---------------------------------------
@pytest.mark.parametrize("command", [("verify",), ("audit", "verify")])
def test_read_only_commands_answer_on_a_full_disk(tiny_practice: Env, command: tuple[str, ...]) -> None:
    fill(tiny_practice.practice.root.parent)
    result = tiny_practice.run(*command)
    assert result.code == 0, result.err
    assert "OK" in result.text and "Traceback" not in result.err
    assert "warning: could not write the audit checkpoint" in result.err and "free some disk space" in result.err
