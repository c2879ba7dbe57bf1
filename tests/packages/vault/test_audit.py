"""The audit log: every access recorded by id, and any edit to the log found."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import Env
from notes import write_note


@pytest.fixture
def logged(practice: Env):
    note = write_note(practice.practice.inbox)
    assert practice.run("seal", str(note)).code == 0
    assert practice.run("cat", "AB-1").code == 0
    assert practice.run("cat", "AB-1", passphrase="wrong").code == 2
    vault = practice.vault()
    return practice, vault.audit.path


def lines(path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_the_log_records_each_kind_of_access_by_id(logged) -> None:
    practice, _ = logged
    events = [e.event for e in practice.vault().audit.entries()]
    for expected in ("init", "client-add", "seal", "unlock", "decrypt", "unlock-failed"):
        assert expected in events
    shown = practice.run("audit", "show")
    assert shown.code == 0 and "decrypt" in shown.text and "unlock-failed" in shown.text
    assert practice.run("audit", "verify").code == 0


def test_the_log_never_names_a_client(logged) -> None:
    practice, log = logged
    raw = b"".join(p.read_bytes() for p in log.parent.iterdir())
    for secret in (
        b"AB-1",
        b"ab-1",
        b"Wilhelmina",
        b"Testperson",
        b"1987-03-14",
        b"zephyrquill",
        b"2026-11-20",
    ):
        assert secret not in raw


@pytest.mark.parametrize(
    "damage, words",
    [
        ("edit", "changed after it was written"),
        ("reorder", "out of order"),
        ("delete-middle", "out of order"),
        ("rechain", "does not follow"),
    ],
)
def test_audit_verify_finds_any_edit(logged, damage: str, words: str) -> None:
    practice, log = logged
    entries = lines(log)
    if damage == "edit":
        entry = json.loads(entries[2])
        entry["event"] = "nothing-happened"
        entries[2] = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    elif damage == "reorder":
        entries[2], entries[3] = entries[3], entries[2]
    elif damage == "delete-middle":
        del entries[2]
    elif damage == "rechain":
        entry = json.loads(entries[3])
        entry["prev"] = "0" * 64
        entries[3] = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    log.write_bytes(b"".join(entries))
    result = practice.run("audit", "verify")
    assert result.code == 1
    assert str(log) in result.err and words in result.err


def test_cutting_off_the_tail_is_found_by_the_checkpoint(logged) -> None:
    practice, log = logged
    entries = lines(log)
    log.write_bytes(b"".join(entries[:-2]))
    result = practice.run("audit", "verify")
    assert result.code == 1 and "end cut off" in result.err


def test_the_checkpoint_outside_the_vault_catches_a_rolled_back_vault(logged, tmp_path) -> None:
    """Restore an old copy of the whole vault log *and* its checkpoint: the device's own
    checkpoint in the config dir still knows how long the log was."""
    practice, log = logged
    old_log, old_cp = tmp_path / "old.log", tmp_path / "old.cp"
    shutil.copy(log, old_log)
    cp = log.with_suffix(".checkpoint")
    shutil.copy(cp, old_cp)
    assert practice.run("cat", "AB-1").code == 0  # more entries, new checkpoints
    shutil.copy(old_log, log)
    shutil.copy(old_cp, cp)
    result = practice.run("audit", "verify")
    assert result.code == 1 and "end cut off" in result.err
    # Later commands do not bless the rollback. (Another command than before: the same one
    # within the same second would append byte-identical entries, a log that is not rolled back.)
    assert practice.run("client", "show", "AB-1").code == 0
    later = practice.run("audit", "verify")
    assert later.code == 1 and "checkpointed" in later.err


def test_a_torn_last_line_from_a_crash_is_dropped_on_the_next_append(logged) -> None:
    practice, log = logged
    log.write_bytes(log.read_bytes() + b'{"seq":99,"ti')  # the crash hit mid-write
    assert practice.run("audit", "verify").code == 1  # honest before repair
    assert practice.run("client", "add", "CD-2").code == 0
    assert practice.run("audit", "verify").code == 0


def test_the_audit_log_outlives_a_client_folder(logged) -> None:
    practice, log = logged
    vault = practice.vault()
    shutil.rmtree(vault.client_dir(vault.resolve("AB-1")))
    assert practice.run("audit", "verify").code == 0
    assert any(e.event == "decrypt" for e in practice.vault().audit.entries())


def test_a_last_entry_cut_off_mid_line_is_named_so(logged) -> None:
    """What a crash mid-append leaves, said in words: the log's end is cut off."""
    practice, log = logged
    log.write_bytes(log.read_bytes()[:-40])
    result = practice.run("audit", "verify")
    assert result.code == 1
    assert f"{log}: the last audit entry is cut off" in result.err


@pytest.mark.parametrize("where", ["an early line", "a line appended"])
def test_a_log_checked_once_in_a_process_is_checked_again_after_any_edit(logged, where: str) -> None:
    """`verify_logs` remembers a log that checked and then reads only what was appended:
    an edit to what it remembers, or a forged line after it, is still found in that process."""
    from vault.store.audit import verify_logs

    practice, log = logged
    vault = practice.vault()
    keys = vault.trust.device_keys()
    assert verify_logs(log.parent, keys) == []
    rows = lines(log)
    if where == "an early line":
        entry = json.loads(rows[1])
        entry["event"] = "inot" if entry["event"] != "inot" else "init"  # same length, other bytes
        rows[1] = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
    else:
        forged = json.loads(rows[-1])
        forged["seq"] += 1
        rows.append(json.dumps(forged, separators=(",", ":")).encode() + b"\n")
    log.write_bytes(b"".join(rows))
    found = verify_logs(log.parent, keys)
    assert found and found[0].path == log


def test_an_entry_longer_than_the_tail_read_leaves_the_log_writable(logged) -> None:
    """A list of 5,000 clients' profiles is logged as one entry naming each (95 KB); the
    next command read only the log's last 64 KiB for the previous entry and refused every
    write after it ("last audit entry is damaged")."""
    practice, log = logged
    vault = practice.vault()
    names = [f"{n:016x}" for n in range(6000)]  # more ids than 64 KiB holds
    vault.audit.append("decrypt-profiles", clients=len(names), client_ids=names, practitioner="0" * 16)
    vault.audit.checkpoint()
    assert len(lines(log)[-1]) > 64 * 1024
    assert practice.run("client", "add", "CD-2").code == 0  # an append, a checkpoint
    assert practice.run("cat", "AB-1").code == 0
    result = practice.run("audit", "verify")
    assert result.code == 0, result.err
    log.write_bytes(log.read_bytes()[:-40])  # and cut mid-line after it: still named so
    assert "the last audit entry is cut off" in practice.run("audit", "verify").err
