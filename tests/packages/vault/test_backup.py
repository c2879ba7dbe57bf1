"""Backups: snapshots that restore byte for byte, damage that verify names, no half snapshot."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import pytest
from conftest import Env, fill, require_tool
from helpers.backups import next_second, settle
from helpers.commands import traced
from notes import note_text, write_note

from vault.backup import packs
from vault.backup.lease import LOCK
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage
from vault.errors import WriteFailed
from vault.format import sync_artefacts
from vault.format.encoding import canonical


def vault_state(root: Path) -> dict[str, bytes]:
    """The vault's own files (not a sync engine's, .stignore among them: never backed up)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "audit" not in p.parts and not sync_artefacts.is_artefact(p.name)
    }


def run(env: Env, *args: str):
    result = env.run(*args)
    assert result.code == 0, result.err
    return result


def snapshots(env: Env) -> list[str]:
    return [line.split()[0] for line in run(env, "backup", "list").text.splitlines()[1:]]


def test_every_snapshot_restores_byte_for_byte_and_reads(practice: Env, tmp_path: Path) -> None:
    first = write_note(practice.practice.inbox, body="the first version")
    run(practice, "seal", str(first))
    before = vault_state(practice.vault_dir)
    assert "snapshot" in run(practice, "backup", "run").text
    first.write_text(note_text(body="the second version"))
    run(practice, "seal", str(first))
    run(practice, "client", "add", "CD-2")
    after = vault_state(practice.vault_dir)
    next_second()  # snapshots are named to the second: two in one second have no order
    run(practice, "backup", "run")
    names = snapshots(practice)
    assert len(names) == 2
    for name, expected, body in zip(
        names, [before, after], ["the first version", "the second version"], strict=True
    ):
        into = tmp_path / f"restored-{name[:20]}"
        run(practice, "backup", "restore", name, str(into))
        assert vault_state(into / "vault") == expected
        restored = Env(
            practice.practice.__class__(into, practice.practice.config_dir),
            {**practice.env, "CASENOTES_HOME": str(into)},
        )
        assert body.encode() in run(restored, "cat", "AB-1").out
        assert run(restored, "verify").code == 0


def packed(target: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Each pack on a target and the objects its trailer lists."""
    return {
        p.name: packs.parse(p.read_bytes())
        for p in (target / "packs").iterdir()
        if not p.name.startswith(".")
    }


def test_only_what_changed_is_copied(practice: Env) -> None:
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    run(practice, "backup", "run")
    before = packed(practice.practice.root / "backups")
    run(practice, "backup", "run")
    target = practice.practice.root / "backups"
    new = [objects for name, objects in packed(target).items() if name not in before]
    newest = json.loads(
        max((target / "snapshots").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text()
    )
    audit = {entry["sha256"] for path, entry in newest["files"].items() if path.startswith("audit/")}
    # one pack, holding only what changed: the audit log and its checkpoint (no note, no key)
    assert len(new) == 1 and {digest for digest, _, _ in new[0]} == audit


def test_a_restore_on_a_new_machine_registers_a_new_device(practice: Env, tmp_path: Path) -> None:
    write_note(practice.practice.inbox)
    run(practice, "seal", str(practice.practice.inbox / "note.md"))
    run(practice, "backup", "run")
    into = tmp_path / "new-laptop"
    run(practice, "backup", "restore", snapshots(practice)[0], str(into))
    laptop = Env(
        practice.practice.__class__(into, tmp_path / "laptop-config"),
        {
            **practice.env,
            "CASENOTES_HOME": str(into),
            "CASENOTES_CONFIG_DIR": str(tmp_path / "laptop-config"),
        },
    )
    assert "no device key" in laptop.run("cat", "AB-1").err
    assert laptop.run("device", "register", passphrase="wrong").code == 2
    run(laptop, "device", "register")
    assert b"zephyrquill" in run(laptop, "cat", "AB-1").out
    assert run(laptop, "verify").code == 0 and run(laptop, "audit", "verify").code == 0


def test_verify_names_a_damaged_or_missing_object_and_a_changed_manifest(practice: Env) -> None:
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    run(practice, "backup", "run")
    assert run(practice, "backup", "verify", "--full").code == 0
    target = practice.practice.root / "backups"
    first = set(packed(target))
    run(practice, "seal", str(write_note(practice.practice.inbox, body="a second version")))
    run(practice, "backup", "run")  # a second pack: the new revision, the audit log
    (flipped_name,) = first
    flipped = target / "packs" / flipped_name
    removed = next(target / "packs" / name for name in packed(target) if name not in first)
    data = bytearray(flipped.read_bytes())
    data[10] ^= 1  # inside the first object, not the trailer
    flipped.write_bytes(bytes(data))
    removed.unlink()
    quick = practice.run("backup", "verify")
    assert quick.code == 1 and str(removed) in quick.err and str(flipped) not in quick.err
    assert "not checked: the objects' own bytes" in quick.text and "--full" in quick.text  # said plainly
    full = practice.run("backup", "verify", "--full")
    assert full.code == 1 and str(removed) in full.err and str(flipped) in full.err and "damaged" in full.err
    manifest = next((target / "snapshots").glob("*.json"))
    record = json.loads(manifest.read_text())
    record["files"].pop(next(iter(record["files"])))
    manifest.write_text(json.dumps(record))
    assert "bad signature" in practice.run("backup", "verify").err


def test_a_backup_cut_short_by_a_full_disk_leaves_no_half_snapshot(practice: Env, tiny_disk: Path) -> None:
    for index in range(8):
        note = practice.practice.inbox / f"n{index}.md"
        note.write_text(note_text(note_id=f"{index + 1:016x}", body="x" * 500))
        run(practice, "seal", str(note))
    target = tiny_disk / "usb"
    run(practice, "backup", "run", "--to", str(target))
    more = practice.practice.inbox / "more.md"
    more.write_text(note_text(note_id="f" * 16, body="y" * 3000))
    run(practice, "seal", str(more))
    fill(tiny_disk)
    cut = practice.run("backup", "run", "--to", str(target))
    assert cut.code == 1 and "free some disk space" in cut.err
    assert len(list((target / "snapshots").glob("*.json"))) == 1  # the earlier one, untouched
    assert run(practice, "backup", "verify", "--from", str(target), "--full").code == 0
    (tiny_disk / "filler").unlink()
    run(practice, "backup", "run", "--to", str(target))
    assert len(list((target / "snapshots").glob("*.json"))) == 2
    assert run(practice, "backup", "verify", "--from", str(target), "--full").code == 0


def test_a_missing_target_is_a_clear_failure(practice: Env, tmp_path: Path) -> None:
    result = practice.run("backup", "run", "--to", str(tmp_path / "unplugged" / "drive"))
    assert result.code == 1 and "is not available" in result.err and "plug in the drive" in result.err


def test_backups_hold_no_plaintext(practice: Env) -> None:
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    run(practice, "backup", "run")
    for path in (practice.practice.root / "backups").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (b"zephyrquill", b"Wilhelmina", b"AB-1", b"1987-03-14"):
                assert secret not in data, path
    # and never the device key
    device_seed = json.loads(next(practice.practice.config_dir.rglob("device.json")).read_text())["sign_seed"]
    assert all(
        device_seed.encode() not in p.read_bytes()
        for p in (practice.practice.root / "backups").rglob("*")
        if p.is_file()
    )


def test_packs_and_their_objects_are_named_by_their_hash(practice: Env) -> None:
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    run(practice, "backup", "run")
    target = practice.practice.root / "backups"
    for name, objects in packed(target).items():
        data = (target / "packs" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == name
        for digest, offset, length in objects:
            assert hashlib.sha256(data[offset : offset + length]).hexdigest() == digest


def test_status_shows_the_last_backup_and_that_a_same_disk_copy_is_not_enough(practice: Env) -> None:
    assert "none yet (on the practice's own disk: not yet a real backup)" in run(practice, "status").text
    run(practice, "backup", "run")
    line = [x for x in run(practice, "status").text.splitlines() if x.startswith("backup ")][0]
    assert "last " in line and "just now" in line and "WARNING" not in line


def test_status_says_when_in_local_time_and_plain_words(practice: Env) -> None:
    practice.env["TZ"] = "Pacific/Auckland"  # far from UTC, so a UTC time would show
    run(practice, "backup", "run")
    taken = dt.datetime.strptime(snapshots(practice)[-1][:17], "%Y-%m-%dT%H%M%S").replace(tzinfo=dt.UTC)
    state = practice.practice.state_dir / "state.json"
    state.parent.mkdir(exist_ok=True)
    ran = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3, seconds=5)
    state.write_text(json.dumps({"jobs": {"backup": ran.isoformat()}}))
    shown = run(practice, "status").text
    local = taken.astimezone(zoneinfo.ZoneInfo("Pacific/Auckland"))
    assert f"last {local:%Y-%m-%d %H:%M}, just now" in shown, shown
    ran_local = ran.astimezone(zoneinfo.ZoneInfo("Pacific/Auckland"))
    assert f"longest ago: backup, last ran {ran_local:%Y-%m-%d %H:%M}, 3 minutes ago" in shown, shown
    assert "UTC" not in shown and "now ago" not in shown and "+00:00" not in shown


def test_restore_of_a_mistyped_snapshot_says_so_not_plug_in_the_drive(practice: Env, tmp_path: Path) -> None:
    run(practice, "backup", "run")
    result = practice.run("backup", "restore", "2019-01-01T000000Z", str(tmp_path / "restored"))
    assert result.code == 2 and "plug in" not in result.err
    assert "no snapshot named '2019-01-01T000000Z'" in result.err and "backup list" in result.err
    assert snapshots(practice)[-1] in result.err  # the newest, to compare with what was typed
    assert not (tmp_path / "restored").exists()


def test_syncd_takes_the_daily_backup_and_retries_an_unplugged_drive(practice: Env, tmp_path: Path) -> None:
    drive = tmp_path / "usb"
    settings = practice.practice.settings_file
    settings.write_text(
        settings.read_text().replace(
            'backup_targets: ["backups"]', f'backup_targets: ["backups", "{drive / "casenotes"}"]'
        )
    )
    once = practice.run("syncd", "--once")
    assert once.code == 1 and "job backup failed" in once.err and str(drive) in once.err  # issue 31 item 12
    assert list((practice.practice.root / "backups" / "snapshots").glob("*.json"))  # the reachable one
    state = json.loads((practice.practice.state_dir / "state.json").read_text())
    assert "backup" not in state["jobs"]  # the unplugged drive: not counted as done
    drive.mkdir()
    assert practice.run("syncd", "--once").code == 0
    state = json.loads((practice.practice.state_dir / "state.json").read_text())
    assert "backup" in state["jobs"] and list((drive / "casenotes" / "snapshots").glob("*.json"))
    assert practice.run("syncd", "--once").code == 0  # not due again today: no third snapshot
    assert len(list((practice.practice.root / "backups" / "snapshots").glob("*.json"))) == 2


def test_a_new_machine_restores_from_the_drive_alone(practice: Env, tmp_path: Path) -> None:
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    drive = tmp_path / "usb"
    run(practice, "backup", "run", "--to", str(drive))
    name = next((drive / "snapshots").glob("*.json")).stem
    laptop_env = {
        **practice.env,
        "CASENOTES_HOME": str(tmp_path / "nothing-here"),
        "CASENOTES_CONFIG_DIR": str(tmp_path / "laptop"),
    }
    laptop = Env(practice.practice.__class__(tmp_path / "casenotes", tmp_path / "laptop"), laptop_env)
    assert laptop.run("backup", "restore", name, str(tmp_path / "casenotes")).code == 1  # where from?
    restored = run(laptop, "backup", "restore", name, str(tmp_path / "casenotes"), "--from", str(drive))
    assert "device register" in restored.text
    laptop.env["CASENOTES_HOME"] = str(tmp_path / "casenotes")
    run(laptop, "device", "register")
    assert b"zephyrquill" in run(laptop, "cat", "AB-1").out
    assert run(laptop, "verify").code == 0


def test_an_rclone_target_against_a_real_webdav_server_on_loopback(practice: Env, tmp_path: Path) -> None:
    import socket
    import subprocess

    rclone = require_tool("rclone")
    served = tmp_path / "remote-disk"
    served.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [rclone, "serve", "webdav", str(served), "--addr", f"127.0.0.1:{port}", "--dir-cache-time", "0s"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        config = tmp_path / "rclone.conf"
        config.write_text(f"[offsite]\ntype = webdav\nurl = http://127.0.0.1:{port}\nvendor = other\n")
        practice.env["RCLONE_CONFIG"] = str(config)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        run(practice, "seal", str(write_note(practice.practice.inbox)))
        spec = "rclone:offsite:casenotes"
        assert "snapshot" in run(practice, "backup", "run", "--to", spec).text
        run(practice, "client", "add", "CD-2")
        run(practice, "backup", "run", "--to", spec)
        listing = run(practice, "backup", "list", "--from", spec).text
        names = [line.split()[0] for line in listing.splitlines()[1:]]
        assert len(names) == 2 and (served / "casenotes" / "casenotes-backup.json").exists()
        assert run(practice, "backup", "verify", "--full", "--from", spec).code == 0
        into = tmp_path / "from-offsite"
        run(practice, "backup", "restore", names[0], str(into), "--from", spec)
        restored = Env(
            practice.practice.__class__(into, practice.practice.config_dir),
            {**practice.env, "CASENOTES_HOME": str(into)},
        )
        assert b"zephyrquill" in run(restored, "cat", "AB-1").out
        victim = next((served / "casenotes" / "packs").iterdir())
        victim.unlink()
        broken = practice.run("backup", "verify", "--from", spec)
        assert broken.code == 1 and "is missing" in broken.err
    finally:
        server.terminate()
        server.wait(timeout=10)
    down = practice.run("backup", "run", "--to", spec)
    assert down.code == 1 and "is not available" in down.err


def test_adding_a_target_checks_it_and_records_it(practice: Env, tmp_path: Path) -> None:
    drive = tmp_path / "usb"
    drive.mkdir()
    added = run(practice, "backup", "target", "add", str(drive / "casenotes"))
    assert "added backup target" in added.text and (drive / "casenotes" / "casenotes-backup.json").exists()
    assert str(drive / "casenotes") in practice.practice.settings_file.read_text()
    assert practice.run("backup", "target", "add", str(drive / "casenotes")).code == 1
    assert "is not available" in practice.run("backup", "target", "add", str(tmp_path / "nope" / "x")).err
    run(practice, "backup", "run")
    assert list((drive / "casenotes" / "snapshots").glob("*.json"))


class RecordingStorage(FolderStorage):
    """A folder target that records each write, and can fail like a full disk after a
    given number of packs."""

    def __init__(self, path: Path, packs_before_failing: int | None = None) -> None:
        super().__init__(path)
        self.writes: list[str] = []
        self.packs_left = packs_before_failing

    def write_new(self, key: str, data: bytes) -> None:
        if key.startswith("packs/") and self.packs_left is not None:
            if self.packs_left == 0:
                raise WriteFailed(self.path / key, "No space left on device")
            self.packs_left -= 1
        super().write_new(key, data)
        self.writes.append(key)

    def replace(self, key: str, data: bytes) -> None:
        super().replace(key, data)
        self.writes.append(key)


def test_a_snapshot_stores_every_pack_before_its_manifest(practice: Env, monkeypatch) -> None:
    monkeypatch.setattr(packs, "PACK_SIZE", 2000)  # several packs a run
    storage = RecordingStorage(practice.practice.root / "usb")
    runs = []
    for body in ("the first version", "a second version"):  # a first and an incremental run
        run(practice, "seal", str(write_note(practice.practice.inbox, body=body)))
        storage.writes.clear()
        practice.vault().backup(BackupTarget(storage, practice.practice.state_dir))
        runs.append([key for key in storage.writes if key != LOCK])  # the target's lease aside
    assert sum(key.startswith("packs/") for key in runs[0]) > 2, runs[0]
    for writes in runs:
        *before, last = writes
        assert last.startswith("snapshots/"), writes  # the manifest comes last...
        assert any(key.startswith("packs/") for key in before), writes  # ...after its new packs
        assert all(key.startswith("packs/") or key == "casenotes-backup.json" for key in before), writes


def test_a_target_failing_after_the_first_pack_gets_no_new_manifest(practice: Env, monkeypatch) -> None:
    monkeypatch.setattr(packs, "PACK_SIZE", 2000)
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    folder = practice.practice.root / "usb"
    vault = practice.vault()
    vault.backup(BackupTarget(FolderStorage(folder), practice.practice.state_dir))
    for number in range(3):
        note = write_note(practice.practice.inbox, body=f"another version {number} " + "x" * 3000)
        run(practice, "seal", str(note))
    failing = RecordingStorage(folder, packs_before_failing=1)
    with pytest.raises(WriteFailed):
        vault.backup(BackupTarget(failing, practice.practice.state_dir))
    assert [key.split("/")[0] for key in failing.writes if key != LOCK] == [
        "packs"
    ]  # one pack, then the fault
    assert len(list((folder / "snapshots").glob("*.json"))) == 1
    assert run(practice, "backup", "verify", "--from", str(folder), "--full").code == 0
    vault.backup(BackupTarget(FolderStorage(folder), practice.practice.state_dir))
    assert len(list((folder / "snapshots").glob("*.json"))) == 2
    assert run(practice, "backup", "verify", "--from", str(folder), "--full").code == 0


def test_a_backup_killed_midway_leaves_the_target_consistent(
    practice: Env, tmp_path: Path, strace: list[str]
) -> None:
    """SIGKILL lands exactly where chosen, by strace, at the Nth link (each durable write
    names its synced temp file with link): while claiming the target, at the first
    pack, mid-packs, and with every pack stored and the manifest written but not yet
    named. Each time the target verifies, and the next run completes it and sweeps what
    the killed runs left."""
    import subprocess
    import sys

    import fiction

    vault = practice.vault()
    client_id = vault.resolve("AB-1")
    for number, day in enumerate(fiction.sessions(dt.date(2024, 1, 1), 20), start=1):
        vault.seal(client_id, f"{number:016x}", fiction.note("AB-1", day, f"{number:016x}", number))
    # The real command, with packs small enough that a run writes several.
    backup = [
        sys.executable,
        "-c",
        "import sys; import vault.backup.packs as p; p.PACK_SIZE = 4000; "
        "from casenotes.cli import main; sys.argv[0] = 'casenotes'; main()",
        "backup",
        "run",
        "--to",
    ]

    def traced(target: Path, *options: str) -> subprocess.CompletedProcess:
        command = [*strace, "-e", "trace=link,linkat", *options, *backup, str(target)]
        return subprocess.run(command, env=practice.env, capture_output=True, timeout=60)

    # A whole run onto an empty target, counted: the marker, each pack, the manifest.
    probe = tmp_path / "probe"
    counted = traced(probe)
    assert counted.returncode == 0, counted.stderr.decode()
    shutil.rmtree(practice.practice.state_dir / "backup-scan")  # the next runs read every file again
    written = len(list((probe / "packs").iterdir()))
    assert written >= 4

    target = tmp_path / "usb"

    def stored() -> tuple[int, int]:
        found = [p for p in target.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
        return sum("packs" in p.parts for p in found), sum("snapshots" in p.parts for p in found)

    # Where to kill: the link number in the next run, and what the target holds after it.
    # A run writes only the objects the target lacks, and claims the target only once.
    def links_of_a_whole_run() -> int:
        """Rehearsed on a copy of the practice, its config and the target: the last link
        of the next run is its manifest's."""
        rehearsal = tmp_path / "rehearsal"
        shutil.rmtree(rehearsal, ignore_errors=True)
        shutil.copytree(practice.practice.root, rehearsal / "practice", symlinks=True)
        shutil.copytree(practice.practice.config_dir, rehearsal / "config", symlinks=True)
        shutil.copytree(target, rehearsal / "usb", symlinks=True)
        env = {
            **practice.env,
            "CASENOTES_HOME": str(rehearsal / "practice"),
            "CASENOTES_CONFIG_DIR": str(rehearsal / "config"),
        }
        log = rehearsal / "links.log"
        command = [*strace[:-2], "-o", str(log), "-e", "trace=link,linkat", *backup, str(rehearsal / "usb")]
        assert subprocess.run(command, env=env, capture_output=True, timeout=60).returncode == 0
        return sum(1 for line in log.read_text().splitlines() if "link" in line and "= 0" in line)

    # After the marker, each run first takes the target's lease (casenotes-lock.json): a link.
    moments = {
        "claiming the target": lambda: (1, (0, 0)),  # the marker's link: a temp file, nothing named
        "the first pack": lambda: (3, (0, 0)),  # the marker and the lease are named now
        "mid-packs": lambda: (4, (2, 0)),  # the lease, two packs: the killed run's lease stays
        "the manifest": lambda: (links_of_a_whole_run(), None),  # every pack there
    }
    for moment, where in moments.items():
        link, expected = where()
        killed = traced(target, "-e", f"inject=link,linkat:error=EIO:signal=SIGKILL:when={link}")
        assert killed.returncode == -9, f"not killed at {moment}: {killed.stderr.decode()}"
        assert stored() == (expected or (written, 0)), moment
        if (target / "casenotes-backup.json").exists():
            assert run(practice, "backup", "verify", "--from", str(target), "--full").code == 0
    assert list((target / "snapshots").glob(".tmp-*"))  # the manifest was written, never named
    run(practice, "backup", "run", "--to", str(target))
    assert stored()[1] == 1
    assert not list(target.rglob(".tmp-*"))  # what the killed runs left is swept
    assert run(practice, "backup", "verify", "--from", str(target), "--full").code == 0
    names = [
        line.split()[0]
        for line in run(practice, "backup", "list", "--from", str(target)).text.splitlines()[1:]
    ]
    into = tmp_path / "restored"
    run(practice, "backup", "restore", names[-1], str(into), "--from", str(target))
    assert len(list((into / "vault").rglob("*.rev"))) == 21


def test_a_second_drive_at_the_same_mount_point_gets_every_object(practice: Env, tmp_path: Path) -> None:
    mount = tmp_path / "mnt" / "casenotes"
    mount.parent.mkdir()
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    run(practice, "backup", "run", "--to", str(mount))
    mount.rename(tmp_path / "monday-drive")  # rotated: another, empty drive is mounted there
    run(practice, "backup", "run", "--to", str(mount))
    assert run(practice, "backup", "verify", "--full", "--from", str(mount)).code == 0


def newest_files(practice: Env) -> dict[str, dict]:
    """The files of the newest snapshot on the practice's target (its file lists read)."""
    target = BackupTarget(FolderStorage(practice.practice.root / "backups"), practice.practice.state_dir)
    vault = practice.vault()
    target.open(vault.practice_id, create=False)
    newest = max((target.storage.path / "snapshots").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return target.load(newest.stem, vault.trust.device_keys()).files


def writes_to(vault: Path, device_id: str, path: Path, event: str = "seal") -> None:
    """A line of another machine's audit log naming the client of ``path``, as a sync engine
    brings it (only its shape matters to a backup's scan: it says which client changed)."""
    log_line(
        vault, device_id, event, client=path.relative_to(vault).parts[1], file=str(path.relative_to(vault))
    )


def test_changes_made_behind_casenotes_back_reach_the_next_snapshot(practice: Env) -> None:
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    vault = practice.vault_dir
    rev = next(vault.rglob("*.rev"))
    settle(vault)
    run(practice, "backup", "run")
    # A revision arriving by sync, in the very second of the backup, with its writer's
    # audit log line (the engine brings that machine's log too).
    arrived = rev.parent / "000009-0123456789abcdef.rev"
    shutil.copy(rev, arrived)
    writes_to(vault, "0123456789abcdef", rev)
    run(practice, "backup", "run")
    assert str(arrived.relative_to(vault)) in newest_files(practice)
    # A file replaced the way a sync engine does (its temp file renamed over it), in a
    # folder the last backup had seen long settled.
    settle(vault)
    run(practice, "backup", "run")
    (rev.parent / ".syncthing.x.tmp").write_bytes(b"replaced by sync " * 50)
    os.replace(rev.parent / ".syncthing.x.tmp", rev)
    run(practice, "backup", "run")
    assert (
        newest_files(practice)[str(rev.relative_to(vault))]["sha256"]
        == hashlib.sha256(rev.read_bytes()).hexdigest()
    )
    # Rewritten in place with its own and its folder's times put back: no folder says so.
    # `casenotes verify` reports it at once, and the weekly full walk copies it.
    original = next(p for p in vault.rglob("*.rev") if p.parent != rev.parent)
    settle(vault)
    run(practice, "backup", "run")
    before = original.stat()
    data = bytearray(original.read_bytes())
    data[-5] ^= 1
    with open(original, "r+b") as file:
        file.write(bytes(data))
    os.utime(original, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.utime(original.parent, ns=(before.st_atime_ns, before.st_mtime_ns))
    checked = practice.run("verify")
    assert checked.code == 1 and original.name in checked.err
    groups = practice.practice.state_dir / "backup-scan" / "groups.json"
    cache = json.loads(groups.read_text())
    cache["full"] -= 8 * 86_400 * 10**9  # the last full walk, eight days back
    groups.write_text(json.dumps(cache))
    run(practice, "backup", "run")
    assert (
        newest_files(practice)[str(original.relative_to(vault))]["sha256"] == hashlib.sha256(data).hexdigest()
    )


def test_a_revision_synced_days_after_its_writers_log_line_reaches_the_next_snapshot(practice: Env) -> None:
    """A sync engine brings files in any order: the other machine's log line first, its
    revision days later. The client the line named is looked at on every run for a week."""
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    vault = practice.vault_dir
    rev = next(vault.rglob("*.rev"))
    run(practice, "backup", "run")
    writes_to(vault, "0123456789abcdef", rev)
    settle(vault)
    run(practice, "backup", "run")
    run(practice, "backup", "run")  # nothing new in any log since: the line is remembered
    arrived = rev.parent / "000002-0123456789abcdef.rev"
    shutil.copy(rev, arrived)
    run(practice, "backup", "run")
    assert str(arrived.relative_to(vault)) in newest_files(practice)


def log_line(vault: Path, device_id: str, event: str, **data: object) -> None:
    """Another machine's audit log line, as a sync engine brings it (its shape is what a
    backup's scan reads: the event and the client it names)."""
    log = vault / "audit" / f"{device_id}.log"
    seq = len(log.read_bytes().splitlines()) + 1 if log.exists() else 1
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    entry = {"data": data, "device": device_id, "event": event, "prev": "0" * 64, "seq": seq, "sig": ""}
    with open(log, "ab") as handle:
        handle.write(canonical({**entry, "time": when}) + b"\n")


def a_week_on(practice: Env) -> None:
    """The scan's cache as a week later: no client still looked at for a log line, the
    weekly full walk not yet due."""
    groups = practice.practice.state_dir / "backup-scan" / "groups.json"
    cache = json.loads(groups.read_text())
    cache["watch"], cache["full"] = {}, time.time_ns()
    groups.write_text(json.dumps(cache))


def test_only_the_clients_a_log_line_names_are_looked_at_unless_a_line_names_none(practice: Env) -> None:
    """A run stats the folders of the clients the audit logs' new lines name, no other; a
    write it cannot place (an event it does not know, naming no client) has every client's
    folders stat'ed, as before the journal, so nothing is left out."""
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    vault = practice.vault_dir
    rev = next(vault.rglob("*.rev"))
    log_line(vault, "0123456789abcdef", "unlock", practitioner="0" * 16)  # a read: names nothing written
    run(practice, "backup", "run")
    settle(vault)
    a_week_on(practice)
    # A file no log line names (put there by hand): not looked for on an ordinary run...
    unnamed = rev.parent / "000002-0123456789abcdef.rev"
    shutil.copy(rev, unnamed)
    run(practice, "backup", "run")
    assert str(unnamed.relative_to(vault)) not in newest_files(practice)
    # ...but a line that may have written anywhere has every client looked at.
    log_line(vault, "0123456789abcdef", "something-new", count=3)
    run(practice, "backup", "run")
    assert str(unnamed.relative_to(vault)) in newest_files(practice)


def test_an_incremental_backup_stats_no_folder_of_a_client_nothing_wrote_to(
    practice: Env, strace: list[str]
) -> None:
    """Counted by strace on the real process: after a note sealed for one client, the next
    backup opens and stats nothing of another client's folder (at 50,000 notes that was
    55,000 stats a run), and still copies the new note."""
    inbox = practice.practice.inbox
    run(practice, "client", "add", "CD-2")
    run(practice, "seal", str(write_note(inbox, "cd.md", client="CD-2", note_id="00000000000000cd")))
    run(practice, "backup", "run")
    settle(practice.vault_dir)
    run(practice, "backup", "run")
    a_week_on(practice)
    run(practice, "seal", str(write_note(inbox, "ab.md", note_id="00000000000000ab")))
    other = practice.vault().resolve("CD-2")
    log = practice.practice.root / "stat.log"
    traced = subprocess.run(
        [strace[0], "-f", "-qq", "-y", "-s", "4096", "-e", "trace=%stat,%file,getdents64", "-o", str(log)]
        + [sys.executable, "-m", "casenotes", "backup", "run"],
        env=practice.env,
        capture_output=True,
        timeout=120,
    )
    assert traced.returncode == 0, traced.stderr.decode()
    calls = log.read_text().splitlines()
    assert not [c for c in calls if f"clients/{other}" in c], [c for c in calls if f"clients/{other}" in c][
        :3
    ]
    mine = practice.vault().resolve("AB-1")
    assert [c for c in calls if f"{mine}/records" in c]  # the one that changed is looked at
    assert any("/00000000000000ab/" in path for path in newest_files(practice))


def test_the_list_of_packs_grows_a_line_a_run_and_a_torn_line_costs_only_a_reread(practice: Env) -> None:
    """This machine's list of what each pack holds (a cache, written without fsync) gains
    a line a run instead of being rewritten whole (6 MB at 50,000 notes); a line a crash
    tore is read again from the packs' trailers, and nothing goes missing."""
    run(practice, "backup", "run")
    (cache,) = practice.practice.state_dir.glob("backup-packs-*.json")
    whole = cache.read_bytes()
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    run(practice, "backup", "run")
    grown = cache.read_bytes()
    assert grown.startswith(whole) and grown.count(b"\n") == whole.count(b"\n") + 1
    cache.write_bytes(grown[:-20])  # the appended line torn
    run(practice, "seal", str(write_note(practice.practice.inbox, "second.md", note_id="00000000000000b2")))
    run(practice, "backup", "run")
    listed: dict[str, list[str]] = {}
    for line in cache.read_bytes().splitlines():  # whole again (the trailers read), a line added
        listed |= json.loads(line)
    assert set(listed) == set(packed(practice.practice.root / "backups"))
    assert practice.run("backup", "verify").code == 0
    restored = practice.practice.root.parent / "restored"
    newest = max(
        (practice.practice.root / "backups" / "snapshots").glob("*.json"), key=lambda p: p.stat().st_mtime_ns
    )
    run(practice, "backup", "restore", newest.stem, str(restored))
    assert {p.name for p in (restored / "vault").rglob("*.rev")} == {
        p.name for p in practice.vault_dir.rglob("*.rev")
    }


def test_a_log_past_a_chunk_is_stored_in_chunks_and_an_append_adds_only_its_last(
    practice: Env, tmp_path: Path
) -> None:
    """The audit log of a long practice (40 MB at 50,000 notes) is read a chunk at a time
    and stored as chunks at fixed offsets: a run after an append stores its last chunk
    only, and a restore puts the log back byte for byte."""
    vault = practice.vault()
    vault.audit.deferring = True  # one fsync for the lot, as a group commit does
    for n in range(packs.CHUNK_SIZE // 150):
        vault.audit.append("unlock", practitioner=f"{n:016x}")
    vault.audit.sync()
    run(practice, "backup", "run")
    target = practice.practice.root / "backups"
    before = packed(target)
    run(practice, "client", "add", "CD-2")  # appends to the log
    run(practice, "backup", "run")
    log = str(vault.audit.path.relative_to(practice.vault_dir))
    entry = newest_files(practice)[log]
    now = vault.audit.path.read_bytes()  # and the backup's own entry after
    assert len(entry["chunks"]) >= 2 and entry["size"] > packs.CHUNK_SIZE
    stored = {
        digest for name, objects in packed(target).items() if name not in before for digest, _, _ in objects
    }
    assert entry["chunks"][-1] in stored and not set(entry["chunks"][:-2]) & stored
    restored = tmp_path / "restored"
    newest = max((target / "snapshots").glob("*.json"), key=lambda p: p.stat().st_mtime_ns).stem
    run(
        practice, "backup", "restore", newest, str(restored)
    )  # the one `entry` is of (both may share a second)
    assert (restored / "vault" / log).read_bytes() == now[: entry["size"]]


def old_seal_line(client: str, seq: int, days: int) -> bytes:
    """A seal line of another machine written ``days`` ago (as its clock said then)."""
    then = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86_400))
    entry = {"data": {"client": client}, "device": "0123456789abcdef", "event": "seal", "prev": "0" * 64}
    return canonical({**entry, "seq": seq, "sig": "", "time": then}) + b"\n"


def test_a_machine_back_from_weeks_offline_has_its_late_revisions_copied(practice: Env) -> None:
    """A laptop offline for two weeks comes back: the sync engine brings its audit log (a
    temp file renamed over the old one: a new inode) with lines written ten days ago, and
    the revision those lines name a minute later. The lines arrived now, whatever their
    time says: their client is looked at for a week, so the next run copies the revision."""
    vault = practice.vault_dir
    log_line(vault, "0123456789abcdef", "unlock", practitioner="0" * 16)
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    rev = next(vault.rglob("*.rev"))
    run(practice, "backup", "run")
    settle(vault)
    run(practice, "backup", "run")
    log = vault / "audit" / "0123456789abcdef.log"
    entry = old_seal_line(rev.relative_to(vault).parts[1], seq=2, days=10)
    (vault / "audit" / ".syncthing.log.tmp").write_bytes(log.read_bytes() + entry)
    os.replace(vault / "audit" / ".syncthing.log.tmp", log)
    run(practice, "backup", "run")
    arrived = rev.parent / "000002-0123456789abcdef.rev"
    shutil.copy(rev, arrived)
    run(practice, "backup", "run")
    assert str(arrived.relative_to(vault)) in newest_files(practice)


def test_a_machine_first_seen_with_weeks_old_lines_has_its_late_revisions_copied(practice: Env) -> None:
    """A second machine used alone for a month joins: its log, new here, arrives before its
    revisions. Every line of a log new to this machine arrived now."""
    vault = practice.vault_dir
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    rev = next(vault.rglob("*.rev"))
    run(practice, "backup", "run")
    settle(vault)
    run(practice, "backup", "run")
    log = vault / "audit" / "0123456789abcdef.log"
    entry = old_seal_line(rev.relative_to(vault).parts[1], seq=1, days=20)
    log.write_bytes(entry)
    run(practice, "backup", "run")
    arrived = rev.parent / "000002-0123456789abcdef.rev"
    shutil.copy(rev, arrived)
    run(practice, "backup", "run")
    assert str(arrived.relative_to(vault)) in newest_files(practice)


def test_a_note_whose_audit_line_a_kill_cut_off_reaches_the_next_snapshot(
    practice: Env, strace: list[str]
) -> None:
    """`casenotes seal` killed after its revision is durable but before its audit line is
    written: no log line names the client, yet the note is on this disk and must be in the
    next backup, not the weekly walk's."""
    inbox = practice.practice.inbox
    run(practice, "seal", str(write_note(inbox)))
    run(practice, "backup", "run")
    settle(practice.vault_dir)
    run(practice, "backup", "run")
    a_week_on(practice)
    log = practice.vault_dir / "audit" / f"{practice.vault().device.device_id}.log"
    before = log.read_bytes()
    killed = traced(
        practice,
        strace,
        "seal",
        str(write_note(inbox, "second.md", note_id="00000000000000ab")),
        fault=["-P", str(log), "-e", "trace=write", "-e", "inject=write:signal=SIGKILL"],
    )
    assert killed.returncode != 0
    revs = [p for p in practice.vault_dir.rglob("*.rev") if "/00000000000000ab/" in str(p)]
    assert revs and log.read_bytes() == before  # durable, unlogged
    marks = practice.vault().device_dir / "unlogged"
    client = revs[0].relative_to(practice.vault_dir).parts[1]
    assert [m.name for m in marks.iterdir()] == [f"{client}.00000000000000ab"]
    run(practice, "backup", "run")
    assert str(revs[0].relative_to(practice.vault_dir)) in newest_files(practice)
    assert not list(marks.iterdir())  # covered by a snapshot: not looked at on every run


def test_a_backup_run_while_the_clock_was_a_year_ahead_does_not_put_off_the_weekly_walk(
    practice: Env,
) -> None:
    """A machine whose clock once ran a year ahead (a flat CMOS battery, then NTP sets it
    right): the cache says the last full walk is a year from now. A file no log line names
    must still reach a snapshot within the week, not a year on."""
    run(practice, "seal", str(write_note(practice.practice.inbox)))
    vault = practice.vault_dir
    rev = next(vault.rglob("*.rev"))
    run(practice, "backup", "run")
    settle(vault)
    groups = practice.practice.state_dir / "backup-scan" / "groups.json"
    cache = json.loads(groups.read_text())
    ahead = 365 * 86_400 * 10**9
    cache["full"], cache["scanned"], cache["watch"] = cache["full"] + ahead, cache["scanned"] + ahead, {}
    groups.write_text(json.dumps(cache))
    unnamed = rev.parent / "000002-0123456789abcdef.rev"
    shutil.copy(rev, unnamed)
    run(practice, "backup", "run")
    assert str(unnamed.relative_to(vault)) in newest_files(practice)
