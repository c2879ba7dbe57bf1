"""Retention from the command line and from syncd: what a practitioner types and sees."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from conftest import Env
from helpers.commands import ok, past_client, targets
from notes import write_note

from retention import certificate, records


def test_init_says_which_policy_is_in_force(empty: Env) -> None:
    result = empty.run("init", "--kdf", "interactive")
    assert result.code == 0, result.err
    assert "Retention policy in force: apa: 7 years" in result.text


def test_status_shows_each_clients_state_by_handle(practice: Env) -> None:
    past_client(practice, "OLD-1")
    ok(practice, "retention", "hold", "AB-1", "--reason", "records request from a court")
    text = ok(practice, "retention", "status")
    old = next(line for line in text.splitlines() if line.startswith("OLD-1"))
    assert "2010-03-01" in old and "2011-01-01" in old and "2018-01-01" in old and "due" in old
    held = next(line for line in text.splitlines() if line.startswith("AB-1"))
    assert "held: records request from a court" in held
    assert "1 client(s) due for disposal" in text
    anonymous = ok(practice, "retention", "status", "--no-names")  # no passphrase needed
    assert "OLD-1" not in anonymous and "held" in anonymous
    assert "purges: 1 due" in ok(practice, "status")


def test_purge_needs_a_person_or_confirm_and_a_dry_run_destroys_nothing(practice: Env) -> None:
    client_id = past_client(practice, "OLD-1")
    refused = practice.run("retention", "purge")
    assert refused.code == 2 and "--confirm" in refused.err
    dry = ok(practice, "retention", "purge", "--dry-run")
    assert client_id in dry and "nothing destroyed" in dry
    assert (practice.vault_dir / "clients" / client_id).exists()
    # the dry run shows the vault's plan: the key that would be shredded, the folder
    assert (
        "would go: 1 sealed key file(s) destroyed" in dry and f"its folder clients/{client_id} removed" in dry
    )


def test_release_without_a_hold_says_so(practice: Env) -> None:
    result = practice.run("retention", "release", "AB-1")
    assert result.code == 1 and "no hold in force" in result.err


def test_a_purge_reaches_a_folder_and_an_rclone_target_and_every_snapshot_forgets_the_client(
    practice: Env, tmp_path: Path
) -> None:
    drive, offsite = tmp_path / "usb", tmp_path / "offsite"
    targets(practice, str(drive), f"rclone:{offsite}")
    gone = past_client(practice, "OLD-1")
    ok(practice, "seal", str(write_note(practice.practice.inbox, client="AB-1", date="2026-11-01")))
    for _ in range(3):
        ok(practice, "backup", "run")
    done = ok(practice, "retention", "purge", "--confirm")
    assert f"purged client {gone}" in done
    assert "OLD-1" not in done  # no passphrase was asked, and no handle is shown
    listed = ok(practice, "retention", "certificates")
    assert gone in listed
    assert ok(practice, "verify").startswith("vault OK")
    for spec in (str(drive), f"rclone:{offsite}"):
        names = [line.split()[0] for line in ok(practice, "backup", "list", "--from", spec).splitlines()[1:]]
        assert len(names) == 3
        for name in names:
            into = tmp_path / f"restored-{abs(hash((spec, name)))}"
            ok(practice, "backup", "restore", name, str(into), "--from", spec)
            restored = Env(
                practice.practice.__class__(into, practice.practice.config_dir),
                {**practice.env, "CASENOTES_HOME": str(into)},
            )
            missing = restored.run("cat", "OLD-1")
            assert missing.code == 1 and "no client has this handle: check" in missing.err
            assert b"zephyrquill" in restored.run("cat", "AB-1").out
            assert not (into / "vault" / "clients" / gone).exists()
        ok(practice, "backup", "verify", "--full", "--from", spec)


def test_syncd_purges_a_due_client_at_night_but_waits_when_too_many_are_due(practice: Env) -> None:
    first = past_client(practice, "OLD-1")
    assert "sealed" in ok(practice, "syncd", "--once")
    assert (practice.vault_dir / "clients" / first).exists()  # announced tonight, not destroyed
    log = (practice.practice.state_dir / "syncd.log").read_text()
    assert f"client {first} is past its retention period: notice starts today" in log
    with practice.vault() as vault:  # as if that night were a whole notice period ago
        records.note_notice(vault, first, vault.clock().date() - dt.timedelta(days=31))
    state = practice.practice.state_dir / "state.json"

    def next_night() -> None:
        jobs = json.loads(state.read_text())
        jobs["jobs"].pop("retention")
        state.write_text(json.dumps(jobs))
        ok(practice, "syncd", "--once")

    next_night()
    with practice.vault() as vault:
        assert certificate.path_for(vault, first).exists()  # disposals/<cid>.<device>.md
    assert not (practice.vault_dir / "clients" / first).exists()

    crowd = [past_client(practice, f"OLD-{n}") for n in range(2, 8)]
    next_night()
    assert all((practice.vault_dir / "clients" / c).exists() for c in crowd)
    log = (practice.practice.state_dir / "syncd.log").read_text()
    assert "6 clients are due for disposal" in log and "OLD-" not in log
    assert "purges: 6 due" in ok(practice, "status")


def test_no_passphrase_is_needed_to_close_hold_or_list_without_names(practice: Env) -> None:
    for args in (("client", "close", "AB-1"), ("retention", "hold", "AB-1", "--reason", "x")):
        assert practice.run(*args, passphrase=None).code == 0
    listed = practice.run("retention", "status", "--no-names", passphrase=None)
    assert listed.code == 0 and "held: x" in listed.text


def test_status_and_a_dry_run_warn_when_an_older_facts_file_hides_a_hold(practice: Env) -> None:
    """The attack of test_retention.py's put-back, seen from the command line: the hold is
    gone from the file, and status and the dry run must not look clean while the purge refuses."""
    client_id = past_client(practice, "OLD-1")
    [facts] = (practice.vault_dir / "clients" / client_id / "retention").glob("*.json")
    before_hold = facts.read_bytes()
    ok(practice, "retention", "hold", "OLD-1", "--reason", "complaint pending")
    facts.write_bytes(before_hold)
    for args in (("retention", "status"), ("retention", "purge", "--dry-run")):
        result = practice.run(*args)
        assert result.code == 0, result.err
        assert "warning" in result.err and str(facts) in result.err and "a purge refuses" in result.err
    assert practice.run("retention", "purge", "--confirm").code == 1
    assert (practice.vault_dir / "clients" / client_id).exists()
