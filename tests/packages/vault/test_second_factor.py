"""A key file as a second factor: both factors unlock, each missing or wrong one is exit 2
and changes nothing but an `unlock-failed` audit entry; doctor says where the key file is."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env

from checkup import keys
from vault import Passphrase
from vault.format.redact import KeyFile


def key_record(practice: Env) -> Path:
    return next((practice.vault_dir / "practitioners").glob("*.json"))


def snapshot(practice: Env) -> dict[str, bytes]:
    """Every file of the vault but the audit log (which records the failure)."""
    root = practice.vault_dir
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.parent.name != "audit"
    }


@pytest.fixture
def with_key_file(practice: Env, tmp_path: Path) -> tuple[Env, Path]:
    """The practice, its key now asking for a key file that `passphrase --key-file` made."""
    usb = tmp_path / "usb" / "casenotes.key"
    done = practice.run("passphrase", "--key-file", str(usb))
    assert done.code == 0, done.err
    assert usb.stat().st_size == 64 and usb.stat().st_mode & 0o777 == 0o600
    return practice, usb


def test_unlock_needs_both_factors_once_a_key_file_is_set(with_key_file) -> None:
    practice, usb = with_key_file
    assert practice.run("--key-file", str(usb), "client", "list").code == 0
    env_run = Env(practice.practice, {**practice.env, "CASENOTES_KEY_FILE": str(usb)})
    listed = env_run.run("client", "list")
    assert listed.code == 0 and "AB-1" in listed.text
    assert practice.run("--key-file", str(usb), "client", "list", passphrase="wrong passphrase").code == 2


@pytest.mark.parametrize("factor", ["no key file", "wrong key file", "wrong passphrase"])
def test_each_missing_or_wrong_factor_is_exit_2_and_changes_nothing_but_the_audit(
    with_key_file, tmp_path: Path, factor: str
) -> None:
    practice, usb = with_key_file
    other = tmp_path / "other.key"
    other.write_bytes(b"another fictional key file, not the one set" * 2)
    args = {
        "no key file": [],
        "wrong key file": ["--key-file", str(other)],
        "wrong passphrase": ["--key-file", str(usb)],
    }[factor]
    before = snapshot(practice)
    entries = len(list(practice.vault().audit.entries()))
    result = practice.run(
        *args, "cat", "AB-1", passphrase="not the passphrase" if factor == "wrong passphrase" else PASSPHRASE
    )
    assert result.code == 2, result.err
    if factor == "no key file":
        assert "asks for a key file" in result.err and "--key-file" in result.err
    else:
        assert "wrong passphrase or key file" in result.err
    assert snapshot(practice) == before
    new = list(practice.vault().audit.entries())[entries:]
    assert [e.event for e in new] == ["unlock-failed"]
    assert usb.read_bytes().hex() not in result.err


def test_an_unreadable_key_file_is_named_and_exit_2(with_key_file, tmp_path: Path) -> None:
    practice, _ = with_key_file
    result = practice.run("--key-file", str(tmp_path / "nowhere.key"), "cat", "AB-1")
    assert result.code == 2 and "nowhere.key" in result.err and "plug in" in result.err


def test_the_key_record_says_only_that_a_key_file_is_required(with_key_file) -> None:
    practice, usb = with_key_file
    text = key_record(practice).read_text()
    assert '"second_factor":"key-file"' in text
    data = usb.read_bytes()
    import base64
    import hashlib

    for leak in (data, hashlib.sha256(data).digest()):
        assert leak.hex() not in text and base64.b64encode(leak).decode() not in text


def test_changing_and_removing_the_key_file(with_key_file, tmp_path: Path) -> None:
    practice, usb = with_key_file
    second = tmp_path / "second.key"
    second.write_bytes(b"a second fictional key file of enough length")
    assert practice.run("--key-file", str(usb), "passphrase", "--key-file", str(second)).code == 0
    assert practice.run("--key-file", str(usb), "client", "list").code == 2
    assert practice.run("--key-file", str(second), "client", "list").code == 0
    removed = practice.run("--key-file", str(second), "passphrase", "--no-key-file")
    assert removed.code == 0, removed.err
    assert practice.run("client", "list").code == 0
    events = [e.event for e in practice.vault().audit.entries()]
    assert events.count("passphrase-changed") == 3
    assert "second_factor" not in key_record(practice).read_text()


def test_a_new_passphrase_keeps_the_key_file(with_key_file) -> None:
    practice, usb = with_key_file
    new = "plum quietly orbit sextant marmalade"
    done = practice.run(
        "--key-file", str(usb), "passphrase", stdin=f"{PASSPHRASE}\n{new}\n{new}\n", passphrase=None
    )
    assert done.code == 0, done.err
    assert practice.run("--key-file", str(usb), "client", "list", passphrase=new).code == 0
    assert practice.run("client", "list", passphrase=new).code == 2


def test_an_existing_vault_without_a_key_file_ignores_one_given(practice: Env, tmp_path: Path) -> None:
    stray = tmp_path / "stray.key"
    stray.write_bytes(b"x" * 32)
    assert practice.run("--key-file", str(stray), "client", "list").code == 0


def test_the_core_refuses_a_key_without_its_file_before_any_key_derivation(with_key_file) -> None:
    practice, usb = with_key_file
    vault = practice.vault()
    from vault.errors import KeyFileNeeded, WrongPassphraseOrKeyFile

    with pytest.raises(KeyFileNeeded):
        vault.unlock(Passphrase(PASSPHRASE))
    with pytest.raises(WrongPassphraseOrKeyFile):
        vault.unlock(Passphrase(PASSPHRASE, KeyFile.from_bytes(b"y" * 64)))
    assert vault.unlock(Passphrase(PASSPHRASE, KeyFile.from_bytes(usb.read_bytes())))
    assert "hidden" in repr(KeyFile.from_bytes(usb.read_bytes()))


def test_doctor_says_whether_a_second_factor_is_on_and_where_the_key_file_lies(
    with_key_file, practice: Env
) -> None:
    env, usb = with_key_file
    record = env.vault().practitioner_file
    on = keys.second_factor_on(record, None, env.vault_dir)
    assert on.status == "ok" and "on" in on.detail
    # tmp_path is on the same file system as the vault: that is the warning
    same = keys.second_factor_on(record, usb, env.vault_dir)
    assert same.status == "warn" and "own disk" in same.detail
    apart = keys.second_factor_on(record, Path("/proc/self/status"), env.vault_dir)
    assert apart.status == "ok" and "apart" in apart.detail
    env.run("--key-file", str(usb), "passphrase", "--no-key-file")
    off = keys.second_factor_on(record, None, env.vault_dir)
    assert off.status == "warn" and "passphrase --key-file" in off.detail
