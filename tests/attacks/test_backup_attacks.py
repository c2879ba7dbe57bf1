"""Attacks on backup targets, as a thief, a hostile or broken remote (it can read, alter,
delete, reorder and replay what it holds), a kill at any instant, or a change to a note
that keeps its size and times, would make them: nothing may pass silently as a good
backup, and a purged client may leave nothing behind anywhere a backup wrote."""

# ruff: noqa: F811 (the fixtures vault and clock, from helpers/retention_vault.py, are parameters here)
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from conftest import Env, require_tool
from helpers.backups import next_second, settle
from helpers.retention_vault import APA, Clock, add, clock, random_middle, vault  # noqa: F401 (fixtures)
from notes import note_text

from retention.purge import run
from syncd.filing import file_note
from vault import Vault
from vault.backup.snapshots import BackupTarget, Snapshot
from vault.backup.storage import FolderStorage, RcloneStorage
from vault.errors import TamperedFile


def target_at(folder: Path, cache: Path) -> BackupTarget:
    return BackupTarget(FolderStorage(folder), cache)


# -- rollback and replay ---------------------------------------------------------------------
def two_snapshots(vault: Vault, clock: Clock, tmp_path: Path) -> tuple[BackupTarget, Snapshot, Snapshot]:
    """A target on tmp_path/drive holding an older and a newer snapshot (a client added between)."""
    add(vault, "AB-1", ["2018-01-01"])
    target = target_at(tmp_path / "drive", tmp_path / "cache")
    clock.set("2018-03-01")
    old = vault.backup(target)
    add(vault, "CD-2", ["2018-02-01"])
    clock.set("2018-03-02")
    return target, old, vault.backup(target)


def test_a_target_rolled_back_to_an_older_snapshot_is_reported_not_passed_off_as_newest(
    vault: Vault,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """The remote deletes the newest manifests: what is left looks like a complete history
    that simply ends earlier. This machine remembers the newest snapshot it took there."""
    target, old, new = two_snapshots(vault, clock, tmp_path)
    (tmp_path / "drive" / "snapshots" / f"{new.name}.json").unlink()
    assert target.snapshots() == [old.name]
    problems = target.verify(vault.trust.device_keys())
    assert any(new.name in p.why and "rolled back" in p.why for p in problems), problems


def test_the_cli_warns_of_a_rolled_back_target_where_snapshots_are_listed_and_restored(
    practice: Env, tmp_path: Path
) -> None:
    folder = practice.practice.root / "backups" / "snapshots"
    assert practice.run("backup", "run").code == 0
    (oldest,) = folder.glob("*.json")
    assert practice.run("client", "add", "CD-2").code == 0
    next_second()  # in the same second, the two would be equally new
    assert practice.run("backup", "run").code == 0
    # the one the second run made (both may be named for the same second: not by sorting)
    (newest,) = set(folder.glob("*.json")) - {oldest}
    newest.unlink()
    listed = practice.run("backup", "list")
    assert newest.stem not in listed.text and "rolled back" in listed.err and newest.stem in listed.err
    restored = practice.run("backup", "restore", oldest.stem, str(tmp_path / "restored"))
    assert restored.code == 0 and "rolled back" in restored.err
    checked = practice.run("backup", "verify")
    assert checked.code == 1 and "rolled back" in checked.err


def test_an_old_manifest_copied_over_a_newer_name_is_refused(
    vault: Vault,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """Replay: the older signed manifest under the newer snapshot's name (its signature is
    good, it is just not that snapshot)."""
    target, old, new = two_snapshots(vault, clock, tmp_path)
    folder = tmp_path / "drive" / "snapshots"
    shutil.copy(folder / f"{old.name}.json", folder / f"{new.name}.json")
    with pytest.raises(TamperedFile, match="another snapshot"):
        target.load(new.name, vault.trust.device_keys())
    assert any(new.name in str(p.path) for p in target.verify(vault.trust.device_keys()))


# -- a target that loses or damages packs --------------------------------------------------------
def test_a_pack_the_target_lost_is_written_again_by_the_next_backup(
    vault: Vault,
    clock: Clock,
    tmp_path: Path,
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


def another_note(vault: Vault, handle: str, day: str) -> None:
    """One more signed note for a client ``add`` made, filed as syncd files it."""
    path = vault.root.parent / "inbox" / f"{handle}-{day}.md"
    path.write_text(note_text(client=handle, date=day, note_id=None, body=f"{handle} on {day}"))
    file_note(vault, path)
    path.unlink()


# -- purges: nothing of the client left anywhere a backup wrote --------------------------------
def _secrets(vault: Vault, client_id: str) -> list[bytes]:
    """Every file of a client's folder: its ciphertext and its sealed keys."""
    return [p.read_bytes() for p in vault.client_dir(client_id).rglob("*") if p.is_file()]


def _holding(root: Path, secrets: list[bytes]) -> list[Path]:
    """Files under ``root`` that hold any of ``secrets``, or a slice from its random middle."""
    slices = [random_middle(s) for s in secrets]
    found = []
    for path in (p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(s in data for s in secrets) or any(s in data for s in slices):
            found.append(path)
    return found


def test_an_upload_cut_short_on_an_rclone_target_keeps_nothing_of_a_purged_client(
    vault: Vault,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rclone uploads a pack as ``….partial`` and then renames it: a backup killed between
    the two leaves the partial upload, which no listing shows and no prune collects. It
    may hold a client's sealed key, and must not outlive that client's purge."""
    require_tool("rclone")
    gone = add(vault, "GONE-1", ["2010-01-01"])
    add(vault, "KEEP-1", ["2018-01-01"])
    secrets = _secrets(vault, gone)
    offsite = tmp_path / "offsite"
    target = BackupTarget(RcloneStorage(str(offsite)), tmp_path / "cache")
    real = RcloneStorage._run

    def killed_before_the_rename(self: RcloneStorage, *args: str, data: bytes | None = None) -> bytes:
        if args[0] == "moveto" and "/packs/" in args[1]:
            raise KeyboardInterrupt  # as a kill between the upload and its rename
        return real(self, *args, data=data)

    monkeypatch.setattr(RcloneStorage, "_run", killed_before_the_rename)
    clock.set("2018-03-01")
    with pytest.raises(KeyboardInterrupt):
        vault.backup(target)
    monkeypatch.setattr(RcloneStorage, "_run", real)
    assert _holding(offsite, secrets)  # the partial upload
    another_note(vault, "KEEP-1", "2018-02-01")  # the next run writes another pack
    vault.backup(target)
    clock.set("2019-03-01")
    assert run(vault, APA, [target], unattended=False).purged == [gone]
    assert _holding(offsite, secrets) == []
    assert target.verify(vault.trust.device_keys(), full=True) == []


def test_a_purge_killed_between_the_new_pack_and_the_old_ones_removal_is_finished_by_the_next_run(
    vault: Vault,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rewritten pack is durable, the old one (still holding the client) not yet deleted.
    Held: the manifests no longer name the client, and the rerun collects the old pack."""
    gone = add(vault, "GONE-1", ["2010-01-01"])
    add(vault, "KEEP-1", ["2018-01-01"])
    secrets = _secrets(vault, gone)
    drive = tmp_path / "drive"
    target = target_at(drive, tmp_path / "cache")
    clock.set("2018-03-01")
    vault.backup(target)
    real = FolderStorage.delete

    def killed(self: FolderStorage, key: str) -> None:
        if key.startswith("packs/"):
            raise KeyboardInterrupt
        real(self, key)

    monkeypatch.setattr(FolderStorage, "delete", killed)
    clock.set("2019-03-01")
    with pytest.raises(KeyboardInterrupt):
        run(vault, APA, [target], unattended=False)
    monkeypatch.setattr(FolderStorage, "delete", real)
    assert len(list((drive / "packs").iterdir())) == 2 and _holding(drive, secrets)  # both, for now
    assert run(vault, APA, [target], unattended=False).purged == [gone]  # the command again
    vault.backup(target)
    assert _holding(drive, secrets) == [] and _holding(vault.root, secrets) == []
    assert target.verify(vault.trust.device_keys(), full=True) == []


def test_this_machines_backup_caches_name_no_handle_and_forget_a_purged_client(
    vault: Vault,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """The caches in the state folder (packs, scan) hold file names, sizes and hashes: never
    a handle or a name, and after a purge nothing of the client, not its id."""
    gone = add(vault, "GONE-1", ["2010-01-01"])
    add(vault, "KEEP-1", ["2018-01-01"])
    cache = tmp_path / "cache"
    target = target_at(tmp_path / "drive", cache)
    clock.set("2018-03-01")
    vault.backup(target)
    digests = [hashlib.sha256(s).hexdigest().encode() for s in _secrets(vault, gone)]
    cached = [p for p in cache.rglob("*") if p.is_file()]
    assert any(gone.encode() in p.read_bytes() for p in cached)  # before the purge: it is there
    for path in cached:
        assert not [w for w in (b"GONE-1", b"KEEP-1", b"Fictional") if w in path.read_bytes()], path
    clock.set("2019-03-01")
    assert run(vault, APA, [target], unattended=False).purged == [gone]
    for path in (p for p in cache.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert gone.encode() not in data and not [d for d in digests if d in data], path


# -- the incremental scan ------------------------------------------------------------------------
def test_a_client_folder_replaced_by_a_copy_with_every_size_and_time_kept_reaches_the_next_snapshot(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    """`cp -a` or `rsync -a` of a client folder whose revision differs in one byte: every
    name, size and mtime is the same as the last scan saw; only the inodes say otherwise."""
    client_id = add(vault, "AB-1", ["2018-01-01"])
    settle(vault.root)
    target = target_at(tmp_path / "drive", tmp_path / "cache")
    clock.set("2018-03-01")
    vault.backup(target)
    folder = vault.client_dir(client_id)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy, symlinks=True)  # copy2 and copystat: times kept
    rev = next(copy.rglob("*.rev"))
    data = bytearray(rev.read_bytes())
    data[-5] ^= 1
    times = rev.stat()
    rev.write_bytes(bytes(data))
    os.utime(rev, ns=(times.st_atime_ns, times.st_mtime_ns))
    os.utime(rev.parent, ns=(times.st_atime_ns, (folder / rev.relative_to(copy)).parent.stat().st_mtime_ns))
    folder.rename(tmp_path / "original")
    copy.rename(folder)
    clock.set("2018-03-02")
    snap = vault.backup(target)
    path = str((folder / rev.relative_to(copy)).relative_to(vault.root))
    files = target.load(snap.name, vault.trust.device_keys()).files
    assert files[path]["sha256"] == hashlib.sha256(data).hexdigest()
