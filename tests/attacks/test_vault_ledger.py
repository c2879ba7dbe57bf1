"""Someone who can write the vault folder but holds no key deletes or swaps the files that are
not signed by themselves (sealed keys, the handle index): nothing of it passes silently."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, Env
from nacl.public import SealedBox

from vault import Passphrase, Vault, verify

SAMPLE = ROOT / "tests" / "samples" / "v1"


def problems_of(practice: Env) -> list[str]:
    return [str(p) for p in verify(practice.vault())]


def own_file(practice: Env, pattern: str) -> Path:
    [path] = practice.vault_dir.glob(pattern)
    return path


def test_a_swapped_handle_index_key_is_refused_at_unlock_by_verify_and_by_a_new_device(
    practice: Env, tmp_path: Path
) -> None:
    """The attacker seals a key of their choice to the practitioner's public key; a device
    registered afterwards would key its index and retention facts with it."""
    index = own_file(practice, "practitioners/*.index")
    vault = practice.vault()
    pid = vault.device.practitioner_id
    public = vault.keyring.practitioner_box_keys()[pid]
    index.write_bytes(SealedBox(public).encrypt(b"\x07" * 32))

    assert any(str(index) in p and "replaced?" in p for p in problems_of(practice))
    opened = practice.run("cat", "AB-1")
    assert opened.code == 1 and str(index) in opened.err
    laptop = Env(practice.practice, {**practice.env, "CASENOTES_CONFIG_DIR": str(tmp_path / "laptop")})
    registered = laptop.run("device", "register")
    assert registered.code == 1 and str(index) in registered.err, registered.err
    assert not list((tmp_path / "laptop").rglob("device.json"))


def test_a_deleted_access_file_is_reported_by_verify(practice: Env) -> None:
    """Deleting it is a silent crypto-shred that every later backup would copy."""
    access = own_file(practice, "clients/*/access/*.sealed")
    access.unlink()
    assert any(str(access) in p and "missing" in p for p in problems_of(practice))
    assert practice.run("verify").code == 1


def test_a_deleted_handle_index_entry_is_reported_by_verify(practice: Env) -> None:
    """Otherwise the handle stops resolving and a re-added client splits in two."""
    entry = own_file(practice, "index/*.json")
    entry.unlink()
    assert any(str(entry) in p and "missing" in p for p in problems_of(practice))


def test_an_access_file_swapped_for_another_clients_is_reported(practice: Env) -> None:
    assert practice.run("client", "add", "CD-2").code == 0
    first, second = sorted(practice.vault_dir.glob("clients/*/access/*.sealed"))
    first.write_bytes(second.read_bytes())
    assert any(str(first) in p and "replaced?" in p for p in problems_of(practice))


def test_a_revoke_deletes_access_files_without_verify_complaining(practice: Env) -> None:
    """Removals the log records are not tampering (the sharing tests revoke for real; here
    the ledger itself: a removed path, then nothing there, is clean)."""
    from vault.store import ledger
    from vault.store.audit import Entry

    access = own_file(practice, "clients/*/access/*.sealed")
    relative = str(access.relative_to(practice.vault_dir))
    recorded = Entry(1, "2026-01-01T00:00:00Z", "d", "x", {"files": {relative: ledger.digest(access)}})
    removed = Entry(2, "2026-01-02T00:00:00Z", "d", "y", {"removed": [relative]})
    access.unlink()
    assert ledger.problems(practice.vault_dir, [recorded, removed]) == []
    assert ledger.problems(practice.vault_dir, [recorded]) != []


def test_a_vault_made_before_the_ledger_is_recorded_once_after_an_unlock(tmp_path: Path) -> None:
    from samples.make_v1 import PASSPHRASE as SAMPLE_PASSPHRASE

    copy = tmp_path / "v1"
    shutil.copytree(SAMPLE, copy)
    vault = Vault(copy / "vault", copy / "config")
    assert verify(vault) == []  # an older vault keeps verifying before anything is recorded
    vault.unlock(Passphrase(SAMPLE_PASSPHRASE))
    assert vault.recorded_for_older_version == 4  # key file, index key, index entry, access file
    again = Vault(copy / "vault", copy / "config")
    again.unlock(Passphrase(SAMPLE_PASSPHRASE))
    assert again.recorded_for_older_version == 0  # says so once
    [access] = (copy / "vault").glob("clients/*/access/*.sealed")
    access.unlink()
    assert any(str(access) in str(p) for p in verify(again))


def test_the_command_line_says_once_that_it_recorded_an_older_vaults_files(tmp_path: Path) -> None:
    from samples.make_v1 import PASSPHRASE as SAMPLE_PASSPHRASE

    from casenotes.config import Practice

    copy = tmp_path / "v1"
    shutil.copytree(SAMPLE, copy)
    root = tmp_path / "practice"
    Practice(root, copy / "config").create_layout()
    shutil.move(copy / "vault", root / "vault")
    env = {"CASENOTES_HOME": str(root), "CASENOTES_CONFIG_DIR": str(copy / "config")}
    older = Env(Practice(root, copy / "config"), {**os.environ, **env})
    first = older.run("client", "list", passphrase=SAMPLE_PASSPHRASE)
    second = older.run("client", "list", passphrase=SAMPLE_PASSPHRASE)
    assert first.code == 0 and second.code == 0, first.err
    assert "recorded 4 key and index file(s)" in first.err
    assert "recorded" not in second.err


@pytest.mark.parametrize("field", ["salt", "wrapped"])
def test_a_damaged_key_file_is_named_not_reported_as_a_wrong_passphrase(practice: Env, field: str) -> None:
    import json

    key = own_file(practice, "practitioners/*.json")
    record = json.loads(key.read_text())
    value = record["kdf"]["salt"] if field == "salt" else record["wrapped"]
    flipped = ("B" if value[0] == "A" else "A") + value[1:]
    if field == "salt":
        record["kdf"]["salt"] = flipped
    else:
        record["wrapped"] = flipped
    key.write_text(json.dumps(record))
    result = practice.run("cat", "AB-1")
    assert result.code == 1 and str(key) in result.err and "wrong passphrase" not in result.err
