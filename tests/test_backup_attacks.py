"""Attacks on backup targets, as a thief, a hostile or broken remote (it can read, alter,
delete, reorder and replay what it holds), a kill at any instant, or a change to a note
that keeps its size and times, would make them: nothing may pass silently as a good
backup, and a purged client may leave nothing behind anywhere a backup wrote."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import Env
from notes import note_text
from test_backup import settle
from test_retention import APA, Clock, add, clock, vault  # noqa: F401 (fixtures)

from retention.purge import run
from syncd.filing import file_note
from vault import Vault
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage, RcloneStorage
from vault.errors import TamperedFile


def target_at(folder: Path, cache: Path) -> BackupTarget:
    return BackupTarget(FolderStorage(folder), cache)


def newest(target: BackupTarget, vault: Vault):  # noqa: F811 (the fixture's name)
    return target.load(max(target.snapshots()), vault.trust.device_keys())


# -- rollback and replay ---------------------------------------------------------------------
def test_a_target_rolled_back_to_an_older_snapshot_is_reported_not_passed_off_as_newest(
    vault: Vault, clock: Clock, tmp_path: Path  # noqa: F811
) -> None:
    """The remote deletes the newest manifests: what is left looks like a complete history
    that simply ends earlier. This machine remembers the newest snapshot it took there."""
    add(vault, "AB-1", ["2018-01-01"])
    target = target_at(tmp_path / "drive", tmp_path / "cache")
    clock.set("2018-03-01")
    old = vault.backup(target)
    add(vault, "CD-2", ["2018-02-01"])
    clock.set("2018-03-02")
    new = vault.backup(target)
    (tmp_path / "drive" / "snapshots" / f"{new.name}.json").unlink()
    assert target.snapshots() == [old.name]
    problems = target.verify(vault.trust.device_keys())
    assert any(new.name in p.why and "rolled back" in p.why for p in problems), problems


def test_the_cli_warns_of_a_rolled_back_target_where_snapshots_are_listed_and_restored(
    practice: Env, tmp_path: Path
) -> None:
    assert practice.run("backup", "run").code == 0
    assert practice.run("client", "add", "CD-2").code == 0
    assert practice.run("backup", "run").code == 0
    folder = practice.practice.root / "backups" / "snapshots"
    newest, oldest = sorted(folder.glob("*.json"), reverse=True)
    newest.unlink()
    listed = practice.run("backup", "list")
    assert newest.stem not in listed.text and "rolled back" in listed.err and newest.stem in listed.err
    restored = practice.run("backup", "restore", oldest.stem, str(tmp_path / "restored"))
    assert restored.code == 0 and "rolled back" in restored.err
    checked = practice.run("backup", "verify")
    assert checked.code == 1 and "rolled back" in checked.err


def test_an_old_manifest_copied_over_a_newer_name_is_refused(
    vault: Vault, clock: Clock, tmp_path: Path  # noqa: F811
) -> None:
    """Replay: the older signed manifest under the newer snapshot's name (its signature is
    good, it is just not that snapshot)."""
    add(vault, "AB-1", ["2018-01-01"])
    target = target_at(tmp_path / "drive", tmp_path / "cache")
    clock.set("2018-03-01")
    old = vault.backup(target)
    add(vault, "CD-2", ["2018-02-01"])
    clock.set("2018-03-02")
    new = vault.backup(target)
    folder = tmp_path / "drive" / "snapshots"
    shutil.copy(folder / f"{old.name}.json", folder / f"{new.name}.json")
    with pytest.raises(TamperedFile, match="another snapshot"):
        target.load(new.name, vault.trust.device_keys())
    assert any(new.name in str(p.path) for p in target.verify(vault.trust.device_keys()))


# -- a target that loses or damages packs --------------------------------------------------------
def test_a_pack_the_target_lost_is_written_again_by_the_next_backup(
    vault: Vault, clock: Clock, tmp_path: Path  # noqa: F811
) -> None:
    """A note's object lies in an older pack; a newer pack holds its client's file list.
    The older pack is lost: the next backup finds the client unchanged, but must not take
    a snapshot naming an object the target no longer has while the vault still holds it."""
    client_id = add(vault, "AB-1", ["2018-01-01"])
    target = target_at(tmp_path / "drive", tmp_path / "cache")
    clock.set("2018-03-01")
    vault.backup(target)
    first = set((tmp_path / "drive" / "packs").iterdir())
    another_note(vault, "AB-1", "2018-02-01")
    settle(vault.root)  # nothing racy: the next scan trusts what it saw
    clock.set("2018-03-02")
    vault.backup(target)
    for pack in first:
        pack.unlink()  # the remote lost it
    clock.set("2018-03-03")
    snap = vault.backup(target)
    problems = target.verify(vault.trust.device_keys(), full=True)
    assert problems and not [p for p in problems if snap.name in p.why]  # the older ones did lose it
    target.restore(target.load(snap.name, vault.trust.device_keys()), tmp_path / "restored")
    assert len(list((tmp_path / "restored" / "clients" / client_id).rglob("*.rev"))) >= 3


def another_note(vault: Vault, handle: str, day: str) -> None:  # noqa: F811
    """One more signed note for a client ``add`` made, filed as syncd files it."""
    path = vault.root.parent / "inbox" / f"{handle}-{day}.md"
    path.write_text(note_text(client=handle, date=day, note_id=None, body=f"{handle} on {day}"))
    file_note(vault, path)
    path.unlink()
