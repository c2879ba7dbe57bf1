"""Key files: refused when damaged, of an unknown version or too costly; never overwritten."""

from __future__ import annotations

import json
import time

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env

from vault import Passphrase, Plaintext
from vault.format.constants import MAX_MEMLIMIT, MAX_OPSLIMIT


def key_file(practice: Env):
    return next((practice.vault_dir / "practitioners").glob("*.json"))


def rewrite(path, change) -> bytes:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))
    return path.read_bytes()


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda r: r.update(version=2), "format version 2 is unknown"),
        (lambda r: r.update(format="something-else"), "not a casenotes-practitioner-key"),
        (lambda r: r["kdf"].update(opslimit=MAX_OPSLIMIT + 1), "opslimit outside"),
        (lambda r: r["kdf"].update(memlimit=MAX_MEMLIMIT * 8), "memlimit outside"),
        (lambda r: r["kdf"].update(algorithm="scrypt"), "unknown key-derivation"),
        (lambda r: r["kdf"].update(salt="AAAA"), "KDF salt"),
        (lambda r: r.update(wrapped="not base64!"), "wrapped"),
    ],
)
def test_a_bad_key_file_is_refused_and_left_as_it_was(practice: Env, change, words: str) -> None:
    path = key_file(practice)
    damaged = rewrite(path, change)
    started = time.monotonic()
    result = practice.run("cat", "AB-1")
    assert result.code == 1, result.err
    assert str(path) in result.err and words in result.err and "left untouched" in result.err
    assert path.read_bytes() == damaged
    # a hostile cost is refused before any Argon2 work, not after minutes of it
    assert time.monotonic() - started < 30


def test_a_key_file_that_is_not_json_is_refused(practice: Env) -> None:
    path = key_file(practice)
    path.write_bytes(b"\x00garbage")
    result = practice.run("passphrase", stdin=f"{PASSPHRASE}\nx\nx\n", passphrase=None)
    assert result.code == 1 and "damaged JSON" in result.err
    assert path.read_bytes() == b"\x00garbage"


def test_an_edited_key_file_is_named_not_taken_for_a_wrong_passphrase(practice: Env) -> None:
    """The audit log recorded the key file's hash: a changed file is damage, not a typo."""
    path = key_file(practice)
    rewrite(path, lambda r: r["kdf"].update(opslimit=CHEAP_KDF.opslimit + 1))
    result = practice.run("cat", "AB-1")
    assert result.code == 1 and str(path) in result.err and "replaced?" in result.err
    assert practice.run("cat", "AB-1", passphrase="not the passphrase").code == 1
    assert any(str(path) in line for line in practice.run("verify").err.splitlines())


def test_the_kdf_parameters_are_read_from_the_file_not_from_todays_constants(
    practice: Env, monkeypatch
) -> None:
    from vault.format import constants

    monkeypatch.setitem(constants.KDF_PROFILES, "moderate", constants.KdfParams(4, 2**20))
    vault = practice.vault()
    assert vault.unlock(Passphrase(PASSPHRASE)).practitioner_id == vault.device.practitioner_id


def test_secrets_never_show_in_a_repr() -> None:
    assert "fictional" not in repr(Passphrase("fictional secret"))
    assert "fictional" not in f"{Passphrase('fictional secret')}"
    assert "zephyr" not in repr(Plaintext(b"zephyrquill"))


def test_a_damaged_device_file_is_refused(practice: Env) -> None:
    device = next(practice.practice.config_dir.rglob("device.json"))
    device.write_text("{}")
    result = practice.run("verify")
    assert result.code == 1 and str(device) in result.err
