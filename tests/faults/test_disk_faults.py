"""When the disk says no (full, a folder where a file should be, an I/O error), every command
says one sentence naming the file and the fix, exits 1, and shows no traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Env, fill, practice_on
from notes import write_note

from casenotes.config import Practice
from syncd.filing import MAX_NOTE_BYTES
from vault import durable
from vault.errors import ReadFailed, WriteFailed


@pytest.fixture
def tiny_practice(tiny_disk: Path, tmp_path: Path, base_env: dict[str, str]) -> Env:
    """A practice (vault, inbox, syncd's state) on a 256 KiB tmpfs; the device key elsewhere."""
    return practice_on(tiny_disk, tmp_path, base_env)


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
def test_each_step_of_a_durable_write_fails_as_write_failed(
    tmp_path: Path, monkeypatch, failing: str
) -> None:
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


def test_a_temp_file_that_cannot_be_removed_does_not_fail_a_finished_write(
    tmp_path: Path, monkeypatch
) -> None:
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
    assert (
        "warning: could not write the audit checkpoint" in result.err and "free some disk space" in result.err
    )


def test_client_add_on_a_full_disk_leaves_no_orphan_and_a_rerun_works(tiny_practice: Env) -> None:
    clients = tiny_practice.vault_dir / "clients"
    before = sorted(p.name for p in clients.iterdir())
    filler = tiny_practice.practice.root.parent / "filler"
    fill(filler.parent)
    failed = tiny_practice.run("client", "add", "CD-2", "--dob", "2015-06-01")
    assert failed.code == 1 and "free some disk space" in one_clear_sentence(failed.err)
    assert sorted(p.name for p in clients.iterdir()) == before  # no orphan id, no hidden leftover
    filler.unlink()
    again = tiny_practice.run("client", "add", "CD-2", "--dob", "2015-06-01")
    assert again.code == 0, again.err
    listed = tiny_practice.run("client", "list").text.split()
    assert listed.count("CD-2") == 1 and again.text.strip() in listed
    assert tiny_practice.run("verify").code == 0


def test_client_add_whose_retention_facts_fail_leaves_no_client(practice: Env) -> None:
    lock = next(practice.practice.config_dir.glob("*/")) / "retention.lock"
    lock.mkdir()  # the facts cannot be written
    failed = practice.run("client", "add", "CD-2", "--dob", "2015-06-01")
    assert failed.code == 1 and "retention.lock" in one_clear_sentence(failed.err)
    assert len(practice.vault().client_ids()) == 1  # only AB-1: no client without its facts
    lock.rmdir()
    again = practice.run("client", "add", "CD-2", "--dob", "2015-06-01")
    assert again.code == 0 and again.text.strip() in practice.vault().client_ids()


def test_status_lists_an_oversized_inbox_file_as_refused_like_syncd(practice: Env) -> None:
    inbox = practice.practice.inbox
    write_note(inbox, "fine.md")
    (inbox / "huge.md").write_bytes(b"x" * (MAX_NOTE_BYTES + 1))  # 5 MiB + 1: over the one limit
    status = practice.run("status")
    assert status.code == 0, status.err
    huge = next(line for line in status.text.splitlines() if line.startswith("huge.md"))
    assert "refused: larger than" in huge and "fine.md" in status.text
    once = practice.run("syncd", "--once")
    assert "huge.md" in once.err and "at most 5242880 bytes" in once.err  # the same limit


def test_syncd_once_exits_1_when_it_left_notes_unsealed(practice: Env) -> None:
    inbox = practice.practice.inbox
    write_note(inbox, "good.md")
    assert practice.run("syncd", "--once").code == 0  # everything sealed: 0
    (inbox / "bad.md").write_bytes(b"no front matter\n")
    for _ in range(2):  # the second run reports nothing new, and still exits 1
        result = practice.run("syncd", "--once")
        assert result.code == 1
        assert "1 note left in the inbox unsealed (bad.md)" in result.err and "Traceback" not in result.err


def test_syncd_once_sweeps_what_a_killed_write_left(practice: Env) -> None:
    """This device's: its temp files (named for it and their process) and the half-made
    client its journal names. Another's (issue 29): left alone, whatever their age."""
    vault_dir, hour_ago = practice.vault_dir, time.time() - 2 * 3600
    with practice.vault() as vault:
        client = vault.client_ids()[0]
        device = vault.device.device_id
        journal = vault.half_made
    records = vault_dir / "clients" / client / "records"
    killed = subprocess.Popen(["true"])
    killed.wait()
    stale = next(records.iterdir()) / f".tmp-{device}-{killed.pid}-x1"  # its writer is gone
    fresh = vault_dir / "index" / f".tmp-{device}-{os.getpid()}-x2"  # a writer still at work
    foreign = vault_dir / "index" / ".tmp-0f0f0f0f0f0f0f0f-1-x3"  # another machine's
    half_client = vault_dir / "clients" / ".adding-0123456789abcdef"
    with pytest.raises(KeyboardInterrupt), journal.making(half_client):
        (half_client / "access").mkdir(parents=True)
        raise KeyboardInterrupt  # killed before the rename: the journal entry stays
    theirs = vault_dir / "clients" / ".adding-fedcba9876543210"
    (theirs / "access").mkdir(parents=True)
    for path in (stale, fresh, foreign):
        path.write_bytes(b"ciphertext")
    for path in (stale, half_client, theirs, foreign):
        os.utime(path, (hour_ago, hour_ago))
    assert practice.run("syncd", "--once").code == 0
    assert not stale.exists() and not half_client.exists()
    assert fresh.exists() and foreign.exists() and theirs.exists()
    assert not list(journal.folder.iterdir())
    checked = practice.run("verify")
    assert checked.code == 0 and f"{theirs}: holds no note yet" in checked.err


def test_a_killed_restore_can_be_run_again(practice: Env, tmp_path: Path) -> None:
    assert practice.run("backup", "run").code == 0
    name = practice.run("backup", "list").text.splitlines()[1].split()[0]
    into = tmp_path / "restored"
    # What a kill halfway through leaves: the folders, the settings, a part of the vault.
    (into / ".restoring-vault" / "clients").mkdir(parents=True)
    (into / ".restoring-vault" / "practice.json").write_bytes(b"{")
    (into / "inbox").mkdir()
    (into / "casenotes.yml").write_text("version: 1\n")
    result = practice.run("backup", "restore", name, str(into))
    assert result.code == 0, result.err
    assert not (into / ".restoring-vault").exists()
    restored = Env(
        Practice(into, practice.practice.config_dir), {**practice.env, "CASENOTES_HOME": str(into)}
    )
    assert restored.run("verify").code == 0
    again = practice.run("backup", "restore", name, str(into))
    assert again.code == 1 and "restore into a new, empty folder" in one_clear_sentence(again.err)


def test_syncd_on_a_full_disk_logs_no_logging_tracebacks(tiny_practice: Env) -> None:
    inbox = tiny_practice.practice.inbox
    note = write_note(inbox, "full.md", body="written just before the disk filled " * 2000)
    fill(tiny_practice.practice.root.parent)
    result = tiny_practice.run("syncd", "--once")
    assert result.code == 1
    assert "Logging error" not in result.err and "Traceback" not in result.err, result.err
    assert "syncd logs to the terminal only" in result.err
    assert "full.md" in result.err and note.exists()
