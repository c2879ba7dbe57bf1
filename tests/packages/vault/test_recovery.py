"""Recovery shares and the custodian letter: K of N reset the passphrase and every note
reads; K-1 fail; a retired set fails; the letter holds no secret."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import PASSPHRASE, ROOT, Env
from helpers.commands import NEW, create

from checkup import keys
from vault import Passphrase
from vault.store import recovery


def notes_read(practice: Env, passphrase: str) -> bytes:
    result = practice.run("cat", "AB-1", passphrase=passphrase)
    assert result.code == 0, result.err
    return result.out


@pytest.fixture
def with_note(practice: Env) -> Env:
    with practice.vault() as vault:
        client = vault.resolve("AB-1")
        vault.seal(client, "00000000000000a1", b"---\ndate: 2026-01-05\n---\nA fictional session.\n")
    return practice


def test_k_of_n_shares_reset_the_passphrase_and_every_note_reads(with_note: Env) -> None:
    practice = with_note
    before = notes_read(practice, PASSPHRASE)
    shares = create(practice, 5, 3)
    used = practice.run(
        "recovery", "use", stdin="\n".join([shares[4], shares[0], shares[2]]) + "\n", passphrase=NEW
    )
    assert used.code == 0, used.err
    assert practice.run("cat", "AB-1", passphrase=PASSPHRASE).code == 2
    assert notes_read(practice, NEW) == before
    events = [e.event for e in practice.vault().audit.entries()]
    assert "recovery-created" in events and "recovery-used" in events
    for share in shares:
        assert share not in used.err + used.text


def test_fewer_than_k_shares_fail_and_change_nothing(with_note: Env) -> None:
    practice = with_note
    shares = create(practice, 5, 3)
    key_file = practice.vault().practitioner_file
    before = key_file.read_bytes()
    failed = practice.run("recovery", "use", stdin="\n".join(shares[:2]) + "\n", passphrase=NEW)
    assert failed.code == 2 and "2 share(s) given, 3 needed" in failed.err
    assert key_file.read_bytes() == before
    assert notes_read(practice, PASSPHRASE)
    assert [e.event for e in practice.vault().audit.entries()][-3:].count("recovery-failed") == 1
    for share in shares:
        assert share not in failed.err


def test_fewer_than_k_shares_reveal_nothing_in_the_core(practice: Env) -> None:
    vault = practice.vault()
    shares = recovery.create(vault, vault.unlock(Passphrase(PASSPHRASE)), 3, 2)
    from vault.errors import RecoveryFailed

    with pytest.raises(RecoveryFailed):
        recovery.use(vault, shares[:1], Passphrase(NEW))
    with pytest.raises(RecoveryFailed, match="twice"):
        recovery.use(vault, [shares[0], shares[0]], Passphrase(NEW))
    garbled = shares[1].split()
    garbled[5], garbled[6] = garbled[6], garbled[5]
    with pytest.raises(RecoveryFailed, match="share 2 is not a valid"):
        recovery.use(vault, [shares[0], " ".join(garbled)], Passphrase(NEW))


def test_shares_from_a_retired_set_fail(with_note: Env) -> None:
    practice = with_note
    old = create(practice, 3, 2)
    replaced = practice.run("recovery", "create", "--shares", "3", "--threshold", "2")
    assert replaced.code == 0 and "retired" in replaced.err
    failed = practice.run("recovery", "use", stdin="\n".join(old[:2]) + "\n", passphrase=NEW)
    assert failed.code == 2 and "retired set" in failed.err
    assert notes_read(practice, PASSPHRASE)
    assert "recovery-replaced" in [e.event for e in practice.vault().audit.entries()]


def test_recovery_needs_the_key_file_too_to_be_created(practice: Env, tmp_path: Path) -> None:
    usb = tmp_path / "usb.key"
    assert practice.run("passphrase", "--key-file", str(usb)).code == 0
    assert practice.run("recovery", "create", "--shares", "3", "--threshold", "2").code == 2
    shares = create(Env(practice.practice, {**practice.env, "CASENOTES_KEY_FILE": str(usb)}), 3, 2)
    # the key file is lost with the passphrase: the shares set a passphrase alone
    used = practice.run("recovery", "use", stdin="\n".join(shares[1:]) + "\n", passphrase=NEW)
    assert used.code == 0, used.err
    assert practice.run("client", "list", passphrase=NEW).code == 0


def test_a_deleted_recovery_copy_is_reported_by_verify(practice: Env) -> None:
    create(practice, 2, 2)
    copy = next((practice.vault_dir / "practitioners").glob("*.recovery"))
    copy.unlink()
    result = practice.run("verify")
    assert result.code == 1 and str(copy) in result.err


def test_bad_counts_are_refused_before_any_unlock(practice: Env) -> None:
    for n, k in [(3, 1), (2, 3)]:
        done = practice.run("recovery", "create", "--shares", str(n), "--threshold", str(k), passphrase=None)
        assert done.code == 2, done.err


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_custodian_letter_holds_no_secret(practice: Env, tmp_path: Path, fmt: str) -> None:
    usb = tmp_path / "usb.key"
    assert practice.run("passphrase", "--key-file", str(usb)).code == 0
    env = Env(practice.practice, {**practice.env, "CASENOTES_KEY_FILE": str(usb)})
    shares = create(env, 3, 2)
    out = tmp_path / f"letter.{fmt}"
    done = env.run("custodian", "letter", "-o", str(out), "--format", fmt, "--name", "Dr Ada Example")
    assert done.code == 0, done.err
    letter = out.read_text()
    assert "Any 2 of you together" in letter and str(practice.vault_dir) in letter
    assert "I, Dr Ada Example, have named you" in letter
    assert "Notify my clients" in letter and "Retention" in letter
    assert ("<html" in letter) == (fmt == "html")
    import base64
    import hashlib

    key = usb.read_bytes()
    for secret in [PASSPHRASE, key.hex(), base64.b64encode(key).decode(), hashlib.sha256(key).hexdigest()]:
        assert secret not in letter
    for share in shares:
        assert share not in letter
        assert " ".join(share.split()[4:8]) not in letter  # not even a run of its words


def test_the_custodian_letter_names_the_practitioner_and_its_steps_run_in_a_fresh_terminal(
    with_note: Env, tmp_path: Path
) -> None:
    """A custodian types the letter's commands in a terminal where `casenotes` is not on
    PATH (the program lives in a venv or pipx's folder): they must work as printed."""
    practice = with_note
    shares = create(practice, 3, 2)
    done = practice.run("custodian", "letter", "--name", "Dr Ada Example")
    assert done.code == 0, done.err
    letter = done.text
    practitioner_id = practice.vault().device.practitioner_id
    assert "Dr Ada Example (practitioner " + practitioner_id in letter
    # how to install it again: the exact commands, from where this casenotes came from
    root = ROOT
    assert f"python3 -m venv ~/casenotes-app\n~/casenotes-app/bin/pip install {root}\n" in letter
    assert f"pipx install {root}" in letter and (root / "pyproject.toml").exists()
    step = re.search(r"run `([^`]*) recovery use`", letter)
    assert step, letter
    fresh = {
        "PATH": "/usr/bin:/bin",  # no venv on it: `casenotes` alone is "command not found"
        "HOME": str(tmp_path),
        "CASENOTES_CONFIG_DIR": str(practice.practice.config_dir),  # "log in as me": my config
        "CASENOTES_PASSPHRASE": NEW,
    }
    assert (
        subprocess.run(["bash", "-c", "casenotes --version"], env=fresh, capture_output=True).returncode
        == 127
    )
    used = subprocess.run(
        ["bash", "-c", f"{step[1]} recovery use"],
        input="\n".join(shares[:2]) + "\n",
        env=fresh,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert used.returncode == 0, used.stderr
    listed = re.search(r"`([^`]*) client list`", letter)
    assert listed
    shown = subprocess.run(
        ["bash", "-c", f"{listed[1]} client list"], env=fresh, capture_output=True, text=True
    )
    assert shown.returncode == 0 and "AB-1" in shown.stdout, shown.stderr
    assert notes_read(practice, NEW)


def test_a_custodian_letter_without_the_practitioners_name_is_refused(practice: Env) -> None:
    for args in (["custodian", "letter"], ["custodian", "letter", "--name", "  "]):
        done = practice.run(*args)
        assert done.code == 2 and "--name" in done.err, done.err


def test_doctor_reminds_a_practitioner_without_recovery(practice: Env) -> None:
    assert keys.recovery_set_up(recovery.status(practice.vault())).status == "warn"
    create(practice, 3, 2)
    found = keys.recovery_set_up(recovery.status(practice.vault()))
    assert found.status == "ok" and "2 of 3" in found.detail


def test_a_threshold_of_one_with_several_shares_is_refused_so_no_single_custodian_can_reset(
    practice: Env,
) -> None:
    """Issue 31 item 4: with the passphrase given (the refusal must not hang on a missing
    one), 3 shares of which any 1 opens the vault are refused, and nothing is written."""
    done = practice.run("recovery", "create", "--shares", "3", "--threshold", "1")
    assert done.code == 2 and "any single share open the vault" in done.err, done.err
    assert not done.text.strip(), "shares were shown"
    assert not list((practice.vault_dir / "practitioners").glob("*.recovery*"))
    vault = practice.vault()
    with pytest.raises(ValueError, match="any single share"):  # the core refuses it too
        recovery.create(vault, vault.unlock(Passphrase(PASSPHRASE)), 3, 1)
    assert create(practice, 1, 1)  # one share of one: the practitioner's own, allowed
