"""A practitioner sets up a practice and adds clients from the command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_private_practice(empty: Env) -> None:
    result = empty.run("init", "--kdf", "interactive")
    assert result.code == 0, result.err
    p = empty.practice
    assert p.inbox.is_dir() and p.vault_dir.is_dir() and p.settings_file.is_file()
    assert mode(p.root) == 0o700 and mode(p.inbox) == 0o700 and mode(p.vault_dir) == 0o700
    for path in [*p.vault_dir.rglob("*"), *p.config_dir.rglob("*"), p.settings_file]:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    # the device key lives outside the practice, so no backup of the practice carries it
    assert list(p.config_dir.rglob("device.json"))
    assert not list(p.root.rglob("device.json"))


def test_init_stores_the_chosen_kdf_cost_with_the_key(empty: Env) -> None:
    import json

    assert empty.run("init", "--kdf", "interactive").code == 0
    key = json.loads(next((empty.vault_dir / "practitioners").glob("*.json")).read_text())
    assert key["kdf"]["algorithm"] == "argon2id13"
    assert (key["kdf"]["opslimit"], key["kdf"]["memlimit"]) == (2, 64 * 1024 * 1024)


def test_init_asks_twice_and_refuses_a_mismatch(empty: Env) -> None:
    one, two = "amber fjord whistle kettle", "quiet harbour lantern moss"  # strong enough to be accepted
    result = empty.run("init", "--kdf", "interactive", stdin=f"{one}\n{two}\n{one}\n{one}\n", passphrase=None)
    # asked again after a mismatch; the second pair matches
    assert result.code == 0, result.err
    assert "do not match" in result.text + result.err
    assert empty.run("client", "list", passphrase=one).code == 0
    assert empty.run("client", "list", passphrase=two).code == 2


def test_init_refuses_to_overwrite_an_existing_practice(practice: Env) -> None:
    before = {p: p.read_bytes() for p in practice.vault_dir.rglob("*") if p.is_file()}
    result = practice.run("init", "--kdf", "interactive")
    assert result.code == 1
    assert "already holds a practice" in result.err
    assert {p: p.read_bytes() for p in practice.vault_dir.rglob("*") if p.is_file()} == before


def test_practice_option_works_after_the_command(empty: Env, tmp_path) -> None:
    elsewhere = tmp_path / "other"
    assert empty.run("init", "--practice", str(elsewhere), "--kdf", "interactive").code == 0
    assert (elsewhere / "casenotes.yml").exists()
    assert not empty.practice.root.exists()


def test_client_add_prints_a_random_id_and_list_shows_the_client(practice: Env) -> None:
    added = practice.run("client", "add", "CD-2", "--name", "Ottoline Example", "--dob", "1990-02-03")
    assert added.code == 0, added.err
    client_id = added.text.strip()
    assert len(client_id) == 16 and int(client_id, 16) >= 0
    listing = practice.run("client", "list")
    assert listing.code == 0
    assert "CD-2" in listing.text and client_id in listing.text and "Ottoline Example" in listing.text
    shown = practice.run("client", "show", "cd-2")  # handles are case-insensitive
    assert shown.code == 0 and "1990-02-03" in shown.text and client_id in shown.text


def test_client_add_refuses_a_taken_handle_and_a_bad_one(practice: Env) -> None:
    taken = practice.run("client", "add", "ab-1")
    assert taken.code == 1 and "already has this handle" in taken.err
    bad = practice.run("client", "add", "../etc")
    assert bad.code == 1 and "invalid handle" in bad.err
    assert len(practice.vault().client_ids()) == 1


def test_client_add_with_an_impossible_birth_date_is_a_usage_error(practice: Env) -> None:
    result = practice.run("client", "add", "EF-3", "--dob", "1990-02-30")
    assert result.code == 2
    assert len(practice.vault().client_ids()) == 1


def test_unknown_handle_is_reported_without_echoing_it(practice: Env) -> None:
    result = practice.run("client", "show", "Zz-Secretname")
    assert result.code == 1
    assert "no client has this handle" in result.err and "Secretname" not in result.err


def test_commands_outside_a_practice_say_how_to_make_one(empty: Env) -> None:
    result = empty.run("verify")
    assert result.code == 1
    assert "is not a casenotes practice" in result.err and "casenotes init" in result.err


REFUSED_FOR_THEIR_ARGUMENTS = [
    (("client", "add", "EF-3", "--dob", "1990-02-30"), "YYYY-MM-DD"),
    (("passphrase", "--key-file", "k", "--no-key-file"), "contradict each other"),
    (("recovery", "create", "--shares", "3", "--threshold", "1"), "threshold of 1"),
]


@pytest.mark.parametrize(("args", "said"), REFUSED_FOR_THEIR_ARGUMENTS)
def test_a_command_refused_for_its_arguments_says_so_before_looking_for_the_practice(
    empty: Env, args: tuple[str, ...], said: str
) -> None:
    """Commands whose first step is the vault take @pass_vault; these check their arguments
    first, so a mistyped line is named as such, wherever it is run."""
    result = empty.run(*args)
    assert result.code == 2 and said in result.err, result.err
    assert "not a casenotes practice" not in result.err


def files_as_written(*folders: Path) -> dict[Path, tuple[int, int]]:
    """Each file's inode and mtime: an atomic rewrite of the same bytes changes them."""
    return {
        path: (path.stat().st_ino, path.stat().st_mtime_ns)
        for folder in folders
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_a_command_refused_for_its_arguments_writes_not_even_a_checkpoint(practice: Env) -> None:
    folders = (practice.vault_dir, practice.practice.config_dir)
    practice.run("audit", "verify")
    before = files_as_written(*folders)
    for args, _ in REFUSED_FOR_THEIR_ARGUMENTS:
        assert practice.run(*args).code == 2
    assert files_as_written(*folders) == before
    assert practice.run("audit", "verify").code == 0  # a command that ran signs the log's head again
    assert files_as_written(*folders) != before


def test_a_practice_without_this_machines_device_key_is_explained(practice: Env, tmp_path) -> None:
    practice.env["CASENOTES_CONFIG_DIR"] = str(tmp_path / "empty-config")
    result = practice.run("client", "add", "GH-4")
    assert result.code == 1 and "no device key" in result.err and "CASENOTES_CONFIG_DIR" in result.err


def test_passphrase_change_keeps_every_note_byte_for_byte(practice: Env) -> None:
    from notes import write_note

    note = write_note(practice.practice.inbox)
    assert practice.run("seal", str(note)).code == 0
    revisions = {p: p.read_bytes() for p in practice.vault_dir.rglob("*.rev")}
    changed = practice.run(
        "passphrase", stdin=f"{PASSPHRASE}\nnew fictional pass\nnew fictional pass\n", passphrase=None
    )
    assert changed.code == 0, changed.err
    assert {p: p.read_bytes() for p in practice.vault_dir.rglob("*.rev")} == revisions
    assert practice.run("cat", "AB-1").code == 2  # the old passphrase no longer opens it
    new = practice.run("cat", "AB-1", passphrase="new fictional pass")
    assert new.code == 0 and new.out == note.read_bytes()


def test_passphrase_change_with_a_wrong_current_passphrase_changes_nothing(practice: Env) -> None:
    key = next((practice.vault_dir / "practitioners").glob("*.json"))
    before = key.read_bytes()
    result = practice.run("passphrase", stdin="wrong\nx\nx\n", passphrase=None)
    assert result.code == 2 and "wrong passphrase" in result.err
    assert key.read_bytes() == before


@pytest.mark.parametrize("weak", ["a", "password123", "casenotes2024", "qwertyuiop"])
def test_init_refuses_a_weak_passphrase_saying_why_and_what_to_do(empty: Env, weak: str) -> None:
    result = empty.run("init", "--kdf", "interactive", stdin=f"{weak}\n{weak}\n", passphrase=None)
    assert result.code == 1
    assert "too easy to guess" in result.err and "could guess it in" in result.err
    assert "four or more unrelated words" in result.err
    assert not (empty.vault_dir / "practice.json").exists()
    from_env = empty.run("init", "--kdf", "interactive", passphrase=weak)
    assert from_env.code == 1 and "CASENOTES_PASSPHRASE" in from_env.err


def test_an_empty_passphrase_says_so_instead_of_asking_again(empty: Env) -> None:
    result = empty.run("init", "--kdf", "interactive", stdin="\n", passphrase=None)
    assert result.code == 2 and "the passphrase is empty" in result.err
    assert "Repeat" not in result.text + result.err


def test_a_new_passphrase_must_be_strong_too(practice: Env) -> None:
    result = practice.run("passphrase", stdin=f"{PASSPHRASE}\nletmein\nletmein\n", passphrase=None)
    assert result.code == 1 and "too easy to guess" in result.err
    assert practice.run("cat", "AB-1").code == 0  # the old passphrase still opens it


def test_doctor_judges_the_passphrase_it_is_given(practice: Env) -> None:
    strong = practice.run("doctor")
    assert "OK    passphrase strength" in strong.text
    weak = practice.run("doctor", passphrase="monkey1")
    assert "WARN  passphrase strength" in weak.text and "casenotes passphrase" in weak.text
    assert "WARN  passphrase hardening (KDF cost)" in weak.text  # the tests' cheap Argon2id profile
