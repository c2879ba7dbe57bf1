"""Issue 31: each safety valve proven by the fault it prevents, injected at the exact step
(strace on the exact syscall, a kill at the exact moment, a forged file), and the next run
after it. Every test here fails with its safeguard taken out (the issue's closing note
says how each was checked)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import Env, copy_practice
from helpers.commands import NEW, create, traced
from helpers.forks import NOTE as FORKED
from helpers.forks import _fork as fork_note
from helpers.four_practitioners import PASSPHRASES, merge_due_on_alex
from helpers.four_practitioners import Practice as Group
from helpers.people import People
from helpers.people import people as people  # a fixture: Alex and Bea in one practice
from notes import write_note
from syscalls import record

from casenotes.config import Practice
from vault import verify


def _line(text: str, start: str) -> str:
    return next((line for line in text.splitlines() if line.startswith(start)), "")


# -- item 12: a failed job is a failed run -----------------------------------------------------
def test_a_backup_job_that_cannot_write_its_target_marker_makes_syncd_once_fail_naming_it(
    strace: list[str], practice: Env
) -> None:
    """Before: `syncd --once` exited 0 with nothing on stderr, and no snapshot was taken.
    A cron job or a login hook was told all was well while the practice had no backup."""
    write_note(practice.practice.inbox, note_id="00000000000000c1", status="signed")
    marker = practice.practice.root / "backups" / "casenotes-backup.json"
    done = traced(
        practice,
        strace,
        "syncd",
        "--once",
        fault=["-P", str(marker), "-e", "trace=link", "-e", "inject=link:error=ENOSPC"],
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "job backup failed" in done.stderr and "casenotes-backup.json" in done.stderr
    assert _line(done.stderr.strip().splitlines()[-1], "casenotes: jobs backup, backup-verify failed")
    shown = practice.run("status").text
    assert _line(shown, "job backup: FAILED") and "none yet" in _line(shown, "backup "), shown
    # The disk recovers: the next run takes the snapshot, exits 0 and the failure is gone.
    again = practice.run("syncd", "--once")
    assert again.code == 0, again.err
    shown = practice.run("status").text
    assert "FAILED" not in shown and "just now" in _line(shown, "backup "), shown


def test_a_snapshot_whose_folder_could_not_be_made_durable_is_not_shown_as_taken_just_now(
    strace: list[str], practice: Env
) -> None:
    """Before: the snapshots folder's fsync failed after the snapshot was linked; syncd
    exited 0, `status` dropped the backup job and said the backup was taken "just now"."""
    write_note(practice.practice.inbox, note_id="00000000000000c2", status="signed")
    snapshots = practice.practice.root / "backups" / "snapshots"
    fault = ["-P", str(snapshots), "-e", "trace=fsync", "-e", "inject=fsync:error=EIO"]
    done = traced(practice, strace, "syncd", "--once", fault=fault)
    assert done.returncode == 1 and "job backup failed" in done.stderr, done.stderr
    assert list(snapshots.glob("*.json")), "the fault fired before the snapshot was linked: nothing to test"
    shown = practice.run("status").text
    assert _line(shown, "job backup: FAILED"), shown
    assert "WARNING: the backup job failed after taking it" in _line(shown, "backup "), shown
    again = practice.run("syncd", "--once")
    assert again.code == 0, again.err
    shown = practice.run("status").text
    assert "FAILED" not in shown and "WARNING" not in _line(shown, "backup "), shown
    with practice.vault() as vault:
        assert verify(vault) == []


# -- item 11: a transient read error while filing ---------------------------------------------
@pytest.mark.parametrize("record", ["index", "client.json"])
def test_a_signed_note_hit_by_one_read_error_is_sealed_by_the_next_run_not_parked_in_error(
    strace: list[str], practice: Env, record: str
) -> None:
    """Before: one EIO reading a record while filing put the draft in state "error"; syncd
    never retried an unchanged file in that state, so the signed note stayed unsealed,
    un-backed-up plaintext in the inbox after the disk recovered, and `status` said "then
    retry", which did nothing until the note was edited."""
    note = write_note(practice.practice.inbox, note_id="00000000000000d1", status="signed")
    with practice.vault() as vault:
        client_id = vault.resolve("AB-1")
        target = (
            next((vault.root / "index").glob(f"*-{client_id}.json"))
            if record == "index"
            else vault.client_dir(client_id) / "client.json"
        )
    done = traced(
        practice,
        strace,
        "syncd",
        "--once",
        fault=["-P", str(target), "-e", "trace=read", "-e", "inject=read:error=EIO:when=1"],
    )
    assert "Traceback" not in done.stderr and done.returncode == 1, done.stderr
    if note.exists():  # (strace fails each thread's first read: the run's second pass may file it)
        row = _line(practice.run("status").text, note.name)
        assert "pending" in row and "retries by itself" in row, row
    again = practice.run("syncd", "--once")  # the disk has recovered; the note is unchanged
    assert again.code == 0, again.err
    assert not note.exists(), "the signed note was left in the inbox, unsealed"
    with practice.vault() as vault:
        assert len(vault.revisions(client_id, "00000000000000d1")) == 1 and verify(vault) == []


# -- items 2 and 10: nothing sealed to a key before it is durable and audited ------------------
def _merge_due(tmp_path: Path, base_env: dict[str, str]) -> tuple[Env, Group]:
    """Alex's machine after two revokes of AB-1 made apart (his of Carol, Bea's of Dan) met:
    the next note of AB-1 that syncd seals there merges the two keys first. Five signed
    notes of AB-1 wait in its inbox."""
    practice = Practice(tmp_path / "alex-practice", tmp_path / "alex-config")
    group = merge_due_on_alex(tmp_path, practice)
    env = Env(
        practice,
        {**base_env, "CASENOTES_HOME": str(practice.root), "CASENOTES_CONFIG_DIR": str(practice.config_dir)},
    )
    for n in range(5):
        write_note(practice.inbox, f"2026-11-{n + 1:02d}-AB-1.md", note_id=f"{n + 1:016x}", status="signed")
    return env, group


def _all_readable_and_verified(env: Env, group: Group, readers: tuple[str, ...] = ("alex", "bea")) -> None:
    """Every note of AB-1 opens for Alex and Bea, and `verify` and `audit verify` are clean
    (nothing unrecorded that their advice would have the practitioner delete)."""
    notes = set(env.vault().note_ids(group.client))
    for who in readers:
        assert group.readable(who, "alex") == notes, f"{who} cannot open every note"
    for command in (["verify"], ["audit", "verify"]):
        done = env.run(*command, passphrase=PASSPHRASES["alex"])
        assert done.code == 0, f"{command}: {done.err}"


@pytest.mark.parametrize(
    "fault", ["inject=fsync:error=EIO", "inject=fsync:signal=SIGKILL:when=1"], ids=["eio", "kill"]
)
def test_a_key_merge_cut_at_its_key_folder_fsync_seals_nothing_to_an_unaudited_key(
    strace: list[str], tmp_path: Path, base_env: dict[str, str], fault: str
) -> None:
    """Before: an EIO on the keys/ folder's fsync while syncd merged two key generations left
    the merged key file linked and never audited; syncd sealed the burst to it, removed the
    plaintext and exited 0. `verify` then called its access files "planted?"; deleting them
    as invited made it say "vault OK" while the five notes could no longer be opened. A kill
    at that fsync left the same. Now the next run finishes (or undoes) the merge before any
    note is sealed to its key."""
    env, group = _merge_due(tmp_path, base_env)
    keys = env.vault_dir / "clients" / group.client / "keys"
    done = traced(env, strace, "syncd", "--once", fault=["-P", str(keys), "-e", "trace=fsync", "-e", fault])
    assert "Traceback" not in done.stderr
    assert done.returncode != 0, "syncd reported success over a key that is not durable"
    inbox = sorted(p.name for p in env.practice.inbox.glob("*.md"))
    assert len(inbox) == 5, "plaintext removed while its note was sealed to a key not yet audited"
    again = env.run("syncd", "--once")
    assert again.code == 0, again.err
    assert not list(env.practice.inbox.glob("*.md"))
    assert len(env.vault().note_ids(group.client)) == 6
    _all_readable_and_verified(env, group)


def test_a_revoke_whose_key_file_could_not_be_made_durable_changed_nothing_it_says_it_did_not(
    strace: list[str], tmp_path: Path, base_env: dict[str, str]
) -> None:
    """Before: `access revoke` with an EIO on the keys/ folder's fsync said "nothing was
    changed" and left its new key file linked and unaudited. Now what it says is true: the
    key file is gone, Carol still holds her key (the revoke did not happen), and a retry
    revokes her."""
    env, group = _merge_due(tmp_path, base_env)
    for path in env.practice.inbox.glob("*.md"):
        path.unlink()
    assert env.run("syncd", "--once").code == 0  # merge first: a revoke of one line's tip
    keys = env.vault_dir / "clients" / group.client / "keys"
    before = sorted(p.name for p in keys.iterdir())
    fault = ["-P", str(keys), "-e", "trace=fsync", "-e", "inject=fsync:error=EIO"]
    done = traced(env, strace, "access", "revoke", "AB-1", "Bea", fault=fault, passphrase=PASSPHRASES["alex"])
    done_err = done.stderr
    assert done.returncode == 1 and "Traceback" not in done_err, done_err
    if "nothing was changed" in done_err:
        assert sorted(p.name for p in keys.iterdir()) == before, "said 'nothing was changed' after a change"
    assert env.run("verify", passphrase=PASSPHRASES["alex"]).code == 0
    again = env.run("access", "revoke", "AB-1", "Bea", passphrase=PASSPHRASES["alex"])
    assert again.code == 0, again.err
    assert group.readable("bea", "alex") == set()
    _all_readable_and_verified(env, group, readers=("alex",))


def test_a_revoke_publishes_its_new_key_only_after_every_holders_copy_is_durable(
    strace: list[str], tmp_path: Path, base_env: dict[str, str]
) -> None:
    """Item 2: a crash between sealing the new client key to its holders and publishing the
    key file must never leave a current key that nobody holds. So every holder's access
    file of the new generation is written, fsynced and its folder fsynced before the key
    file is linked (a recording spy on the real `access revoke`)."""
    env, group = _merge_due(tmp_path, base_env)
    for path in env.practice.inbox.glob("*.md"):
        path.unlink()
    assert env.run("syncd", "--once").code == 0  # the merge first: one tip to revoke from
    command = [sys.executable, "-m", "casenotes", "access", "revoke", "AB-1", "Bea"]
    run_env = dict(env.env, CASENOTES_PASSPHRASE=PASSPHRASES["alex"])
    done, calls = record(strace, command, run_env, tmp_path / "revoke.strace")
    assert done.returncode == 0, done.stderr.decode()
    client = env.vault_dir / "clients" / group.client
    [link] = [
        c
        for c in calls
        if c.ok and c.name in ("link", "linkat") and c.paths[-1].startswith(str(client / "keys"))
    ]
    gid = Path(link.paths[-1]).stem
    sealed = [c for c in calls if c.ok and c.name.startswith("rename") and f".{gid}." in c.paths[-1]]
    holders = {Path(c.paths[-1]).name.split(".")[0] for c in sealed}
    # Dan was shut out by Bea's revoke, Carol by Alex's, Bea now: Alex alone holds the new key.
    assert holders == {group.ids["alex"]}, holders
    for rename in sealed:
        copy = rename.paths[0]  # its temp file: its data fsynced before the rename
        assert any(c.fd_path == copy and c.name == "fsync" and c.finished < rename.started for c in calls)
        assert rename.finished < link.started, "the key was published before a holder's copy was in place"
    last = max(c.finished for c in sealed)
    assert any(
        c.name == "fsync"
        and c.fd_path == str(client / "access")
        and last < c.started
        and c.finished < link.started
        for c in calls
    ), "the key was published before the holders' copies were durable (access/ not fsynced in between)"


# -- items 3 and 4: a new recovery set never leaves the practitioner without one ---------------
def _opens(practice: Env, where: Path, shares: list[str]) -> bool:
    """Whether SHARES set a new passphrase, tried in a copy of the practice (a use is for good)."""
    env = Env(
        Practice(where / "practice", where / "config"),
        {
            **practice.env,
            "CASENOTES_HOME": str(where / "practice"),
            "CASENOTES_CONFIG_DIR": str(where / "config"),
        },
    )
    copy_practice(practice.practice, env)
    return env.run("recovery", "use", stdin="\n".join(shares[:2]) + "\n", passphrase=NEW).code == 0


@pytest.mark.parametrize(
    ("where", "call", "action"),
    [
        ("folder", "fsync", "error=EIO:when=1"),  # the staged copy cannot be made durable
        ("folder", "fsync", "signal=SIGKILL:when=1"),  # killed once the staged copy is there
        # (strace's -P matches a rename by its source: the staged copy, put in place)
        ("staged", "rename", "error=ENOSPC"),  # the disk refuses to put it in place
        ("staged", "rename", "signal=SIGKILL"),  # killed as it is put in place
        ("folder", "fsync", "signal=SIGKILL:when=2"),  # killed after that
    ],
    ids=[
        "eio-staging",
        "kill-after-staging",
        "full-disk-at-the-rename",
        "kill-at-the-rename",
        "kill-after-it",
    ],
)
def test_a_recovery_create_cut_short_leaves_the_practitioner_a_set_of_shares_that_works(
    strace: list[str], practice: Env, tmp_path: Path, where: str, call: str, action: str
) -> None:
    """Item 3: before, the new copy replaced the old one before its shares were shown: a
    kill or an I/O error then (at the folder's fsync, or the audit entry) retired every
    share the custodians held and showed none. Now the copy is staged durably, its shares
    shown, and only then put in force: cut short anywhere, the earlier shares work, or the
    new ones that were shown do (never neither), and the next command leaves `verify` clean."""
    old = create(practice, 3, 2)
    [copy] = (practice.vault_dir / "practitioners").glob("*.recovery")
    target = {"staged": copy.with_name(copy.name + "-new"), "folder": copy.parent}[where]
    fault = ["-P", str(target), "-e", f"trace={call}", "-e", f"inject={call}:{action}"]
    done = traced(practice, strace, "recovery", "create", "--shares", "3", "--threshold", "2", fault=fault)
    assert "Traceback" not in done.stderr and done.returncode != 0, done.stderr
    shown = [line for line in done.stdout.splitlines() if len(line.split()) == 20]
    working = [
        name
        for name, shares in (("old", old), ("new", shown))
        if shares and _opens(practice, tmp_path / name, shares)
    ]
    assert working, "cut short, recovery create left no set of shares that works"
    if not shown:
        assert working == ["old"]
    assert practice.run("recovery", "status").code == 0  # finishes a commit cut short after its entry
    verified = practice.run("verify")
    assert verified.code == 0, verified.err


# -- items 6 and 7: a restore writes only into its folder, and durably ---------------------------
def _drive_and_laptop(practice: Env, tmp_path: Path) -> tuple[Path, str, Env]:
    """A backup of the practice on a drive, its snapshot's name, and a new machine with no
    practice and no device keys (where a manifest's signature cannot be checked)."""
    write_note(practice.practice.inbox, note_id="00000000000000f1", status="signed")
    assert practice.run("syncd", "--once").code == 0
    drive = tmp_path / "usb"
    assert practice.run("backup", "run", "--to", str(drive)).code == 0
    name = next((drive / "snapshots").glob("*.json")).stem
    laptop_env = {
        **practice.env,
        "CASENOTES_HOME": str(tmp_path / "nothing-here"),
        "CASENOTES_CONFIG_DIR": str(tmp_path / "laptop"),
    }
    return drive, name, Env(Practice(tmp_path / "nothing-here", tmp_path / "laptop"), laptop_env)


@pytest.mark.parametrize("escape", ["../escaped.json", "clients/../../escaped.json", "ABSOLUTE"])
def test_a_forged_manifest_restored_on_a_machine_without_device_keys_writes_nothing_outside_the_restore_folder(
    practice: Env, tmp_path: Path, escape: str
) -> None:
    """Item 6: with no device keys the manifest's signature cannot be checked, so whoever
    can write the drive can name any path in it. A restore must refuse a path that lands
    outside the restore folder, and write nothing there (or anywhere)."""
    drive, name, laptop = _drive_and_laptop(practice, tmp_path)
    manifest = drive / "snapshots" / f"{name}.json"
    record = json.loads(manifest.read_bytes())
    escaped = tmp_path / "escaped.json"
    path = str(escaped) if escape == "ABSOLUTE" else escape
    record["files"][path] = next(iter(record["files"].values()))  # an object the drive holds
    manifest.write_text(json.dumps(record))
    into = tmp_path / "restored"
    done = laptop.run("backup", "restore", name, str(into), "--from", str(drive), passphrase=None)
    assert done.code == 1 and "outside the vault" in done.err and "Traceback" not in done.err, done.err
    assert not escaped.exists(), "a forged manifest wrote outside the restore folder"
    assert not (into / "vault").exists()


def test_a_restore_makes_every_file_durable_before_the_vault_appears(
    strace: list[str], practice: Env, tmp_path: Path
) -> None:
    """Item 7: the restored vault is renamed into place whole; a power cut after the rename
    must not leave a vault whose files' data or names were never written to disk (notes
    missing or empty in what the practitioner takes for the restored practice). So the
    files are synced after the last is written and before the rename (a recording spy)."""
    drive, name, laptop = _drive_and_laptop(practice, tmp_path)
    into = tmp_path / "restored"
    command = [sys.executable, "-m", "casenotes", "backup", "restore", name, str(into), "--from", str(drive)]
    calls = "openat,sync,syncfs,fsync,fdatasync,rename,renameat,renameat2"
    done, seen = record(strace, command, laptop.env, tmp_path / "restore.strace", calls)
    assert done.returncode == 0, done.stderr.decode()
    partial = str(into / ".restoring-vault")
    written = [
        c
        for c in seen
        if c.ok
        and c.name == "openat"
        and "O_CREAT" in c.args
        and c.paths
        and c.paths[0].startswith(partial + "/")
    ]
    [placed] = [c for c in seen if c.ok and c.name.startswith("rename") and c.paths[:1] == [partial]]
    assert len(written) >= 3, "the spy saw no restored file written"
    last = max(c.finished for c in written)
    synced = [
        c
        for c in seen
        if c.ok and c.name in ("sync", "syncfs") and last < c.started and c.finished < placed.started
    ]
    assert synced, "the restored vault was renamed into place before its files were made durable"


# -- item 14: messages say what was changed; a killed restore leaves no temp file for good ------
def _files(root: Path) -> set[str]:
    """What a command may be said not to have changed: the vault's files, its audit log aside
    (an unlock or a failure is itself an entry), and temp files (swept)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != "audit" and not p.name.startswith(".tmp-")
    }


@pytest.mark.parametrize(
    ("args", "folder"),
    [(("backup", "run"), "../backups/snapshots"), (("client", "add", "CD-2"), "index")],
    ids=["a-linked-snapshot", "a-linked-handle"],
)
def test_nothing_was_changed_is_said_only_when_nothing_was(
    strace: list[str], practice: Env, args: tuple[str, ...], folder: str
) -> None:
    """Before: "nothing was changed (free some disk space and retry)" also followed a file
    linked into place whose folder's fsync then failed (a snapshot, a handle, a key file):
    the practitioner was told to retry over a change that was there."""
    assert practice.run("backup", "run").code == 0  # the snapshots folder exists
    before = _files(practice.vault_dir) | {
        f"backups:{p.name}" for p in (practice.practice.root / "backups" / "snapshots").iterdir()
    }
    target = (practice.vault_dir / folder).resolve()
    done = traced(
        practice,
        strace,
        *args,
        fault=["-P", str(target), "-e", "trace=fsync", "-e", "inject=fsync:error=EIO"],
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    after = _files(practice.vault_dir) | {
        f"backups:{p.name}" for p in (practice.practice.root / "backups" / "snapshots").iterdir()
    }
    if "nothing was changed" in done.stderr:
        assert after == before, f"said 'nothing was changed' after: {sorted(after - before)}"
    else:
        assert after != before and "run the same command again" in done.stderr, done.stderr


def test_a_restore_killed_after_writing_the_settings_leaves_no_temp_file_once_run_again(
    strace: list[str], practice: Env, tmp_path: Path
) -> None:
    """Before: a kill during `backup restore` left `.tmp-*` files in the restored practice's
    folder that nothing ever swept (syncd sweeps the vault and its own state only)."""
    drive, name, laptop = _drive_and_laptop(practice, tmp_path)
    into = tmp_path / "restored"
    into.mkdir()
    # Killed at the folder's fsync after casenotes.yml is linked, before its temp file goes.
    fault = ["-P", str(into), "-e", "trace=fsync", "-e", "inject=fsync:signal=SIGKILL:when=2"]
    done = traced(
        laptop,
        strace,
        "backup",
        "restore",
        name,
        str(into),
        "--from",
        str(drive),
        fault=fault,
        passphrase=None,
    )
    assert done.returncode != 0
    assert list(into.glob(".tmp-*")), "the kill left no temp file: the fault missed its step"
    again = laptop.run("backup", "restore", name, str(into), "--from", str(drive), passphrase=None)
    assert again.code == 0, again.err
    assert not [str(p) for p in into.rglob(".tmp-*")], "a killed restore's temp file was left for good"


# -- item 13 (not the purge parts): a resolve cut short; a failed unlink during a rotation -------


def test_a_resolve_cut_short_at_its_folder_fsync_is_finished_by_running_it_again(
    strace: list[str], people: People
) -> None:
    """Before: with its merge revision linked but its folder's fsync failed, `resolve` failed,
    the fork was settled on disk, and a rerun said "no conflict to resolve": the merge
    revision stayed unaudited for good. Now the rerun finishes it."""
    alex = people.alex
    alex_rev, bea_rev = fork_note(people, "Alex's fictional wording.", "Bea's fictional wording.")
    fault = ["-P", str(alex_rev.parent), "-e", "trace=fsync", "-e", "inject=fsync:error=EIO"]
    done = traced(alex, strace, "resolve", FORKED, "--keep", bea_rev.stem, fault=fault)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    [merge] = alex_rev.parent.glob("000003-*.rev")  # linked: the fork is settled on disk
    again = alex.run("resolve", FORKED, "--keep", bea_rev.stem)
    assert again.code == 0 and "no conflict" not in again.text, again.text + again.err
    with alex.vault() as vault:
        assert vault.audit.has("seal", file=str(merge.relative_to(vault.root))), (
            "the merge revision is unaudited"
        )
        assert vault.audit.has("resolve", note=FORKED)
    for command in (["verify"], ["audit", "verify"]):
        checked = alex.run(*command)
        assert checked.code == 0, checked.err
    assert "Bea's fictional wording" in alex.run("cat", "AB-1", "--note", FORKED).text


def test_a_revoked_colleagues_key_file_whose_removal_failed_is_removed_by_the_next_syncd_run(
    strace: list[str], people: People
) -> None:
    """Before: a rotation's audit entry records the revoked colleague's access files as
    removed, then removes them; when the unlink failed, the file stayed and `verify` said
    "put back?" for good (the same in a key merge, which removes through the same code).
    Now syncd's next run finishes the removal."""
    alex = people.alex
    assert alex.run("access", "grant", "AB-1", "Bea").code == 0
    with alex.vault() as vault:
        bea = vault.trust.colleague("Bea").practitioner_id
    [held] = [p for p in alex.vault_dir.glob("clients/*/access/*.sealed") if p.name.startswith(f"{bea}.")]
    fault = ["-P", str(held), "-e", "trace=unlink,unlinkat", "-e", "inject=unlink,unlinkat:error=EIO"]
    done = traced(alex, strace, "access", "revoke", "AB-1", "Bea", fault=fault)
    assert "Traceback" not in done.stderr, done.stderr
    assert held.exists(), "the fault missed the removal"
    assert alex.run("syncd", "--once").code == 0
    assert not held.exists(), "the revoked colleague's key file was left in the vault"
    for command in (["verify"], ["audit", "verify"]):
        checked = alex.run(*command)
        assert checked.code == 0, checked.err
